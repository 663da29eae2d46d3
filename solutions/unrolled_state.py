"""Problem 2: the state of an RNN as an explicit function of the whole input sequence, and why RNNs scale.

Explicit expression. Unrolling h_t = F_theta(h_{t-1}, x_t) down to the initial state h_0 gives the t-fold
composition of the same function F_theta:

    G_t(x_t, ..., x_1) = F_theta(F_theta(... F_theta(F_theta(h_0, x_1), x_2) ..., x_{t-1}), x_t)

e.g. G_3 = F(F(F(h0, x1), x2), x3); x_1 is consumed innermost (first), x_t outermost (last).

Why this solves the two difficulties of modelling G_t directly (`REASONS`):
  (1) Parameter sharing across time: every step applies the same F_theta with the same theta, so one model
      serves all sequence lengths t; each training sequence trains the same parameters at every one of its
      steps, and the model generalises to lengths never seen in training.
  (2) A fixed-size recurrent state: h_{t-1} summarises the whole past in a vector of fixed size, so F_theta
      has fixed input size and fixed complexity; the size of the model and the cost per step do not grow with
      t (the cost of a sequence grows only linearly), instead of G_t's complexity growing exponentially.
"""
from __future__ import annotations

import sympy as sp

F = sp.Function("F")  # F_theta, undefined: only its composition structure matters here
H0 = sp.Symbol("h0")

REASONS = (
    "(1) Parameter sharing across time: the same transition function F_theta, with the same parameters theta, "
    "is applied at every time step, so a single model handles every sequence length t; every step of every "
    "training sequence trains the same parameters, and the model generalises to lengths not seen in training "
    "instead of needing a separate G_t (and enough data) for each t. "
    "(2) A fixed-size recurrent state: h_{t-1} summarises the entire past x_1..x_{t-1} in a vector of fixed "
    "dimension, so F_theta always has the same input size and the same complexity; the number of parameters "
    "and the computation per step do not grow with t (a sequence costs time linear in t), whereas modelling "
    "G_t directly needs a model whose complexity can grow exponentially with t."
)


def input_symbol(i: int) -> sp.Symbol:
    """x_i, the input at time step i (1-based, as in the handout)."""
    return sp.Symbol(f"x{i}")


def unrolled_state(t: int) -> sp.Expr:
    """G_t = F(F(...F(h0, x1)..., x_{t-1}), x_t), the t-fold composition of F; G_0 = h0."""
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    h = H0
    for i in range(1, t + 1):
        h = F(h, input_symbol(i))  # h_i = F(h_{i-1}, x_i)
    return h
