"""Reference solution of Problem 5.2: He (Kaiming) initialization for ReLU networks.

Derivation (Eqs. 1-6 of the handout; layer l computes y_l = W_l x_l + b_l with x_l = ReLU(y_{l-1}))
------------------------------------------------------------------------------------------------
Assumptions: the elements of W_l are i.i.d. with zero mean, the elements of x_l are i.i.d., W_l and
x_l are independent, b_l = 0.  n_l is the fan-in of a unit of layer l: the number of inputs one
output element sums over (in_features for a linear layer, in_channels * k * k for a k x k conv).

1. Eq. 2: y_l is a sum of n_l i.i.d. terms w x, so Var[y_l] = n_l Var[w_l x_l].
2. Eq. 3: for independent w, x,
   Var[w x] = E[w^2 x^2] - (E[w x])^2 = E[w^2] E[x^2] - (E[w] E[x])^2.
   With E[w] = 0 the second term vanishes and E[w^2] = Var[w], so
   Var[y_l] = n_l Var[w_l] E[x_l^2].  (x_l = ReLU(.) has nonzero mean, hence E[x^2], not Var[x].)
3. y_{l-1} = sum of w x with w symmetric about 0 and independent of x, so y_{l-1} is symmetric
   about zero (and has zero mean).  For a density p symmetric about 0,
   E[ReLU(y)^2] = int_0^inf y^2 p(y) dy = 1/2 int_{-inf}^{inf} y^2 p(y) dy = E[y^2] / 2,
   and E[y^2] = Var[y] because E[y] = 0.  Hence Eq. 4: E[x_l^2] = Var[y_{l-1}] / 2.
   (Both hypotheses matter: for a y that is not symmetric about zero, e.g. a shifted normal or an
   exponential variable, E[ReLU(y)^2] differs from Var[y]/2.)
4. Substituting step 3 into step 2: Var[y_l] = (1/2) n_l Var[w_l] Var[y_{l-1}], and chaining
   l = 2..L gives Eq. 5: Var[y_L] = Var[y_1] prod_{l=2}^{L} (1/2) n_l Var[w_l].
   In expectation this holds exactly at any finite width: only second moments were used.
5. The product neither vanishes nor explodes with depth when every factor is one, Eq. 6:
   (1/2) n_l Var[w_l] = 1, i.e. Var[w_l] = 2 / n_l, std = sqrt(2 / fan_in).  For the first layer
   the same choice keeps Var[y_1] = 2 E[x_1^2]; it is applied to every layer.
"""
from __future__ import annotations

import math
from typing import Sequence, TypeVar

import sympy as sp
import torch
from torch import nn

Number = TypeVar("Number", float, sp.Expr)


def fan_in(layer: nn.Conv2d | nn.Linear) -> int:
    """n_l: inputs summed by one output element (in_features, or in_channels/groups * kh * kw)."""
    # weight is [out, in] for Linear and [out, in/groups, kh, kw] for Conv2d: one output's slice.
    return layer.weight[0].numel()


def he_weight_variance(n_l: int) -> float:
    """Var[w_l] = 2 / n_l, the solution of Eq. 6 (see ``eq6_weight_variance``)."""
    return 2.0 / n_l


def eq6_weight_variance() -> sp.Expr:
    """Solve Eq. 6, (1/2) n Var[w] = 1, for Var[w] symbolically: 2/n."""
    n, var_w = sp.symbols("n_l Var_w", positive=True)
    (solution,) = sp.solve(sp.Eq(sp.Rational(1, 2) * n * var_w, 1), var_w)
    return solution


@torch.no_grad()
def init_weights(model: nn.Module) -> None:
    """In place: every Conv2d/Linear weight ~ N(0, 2/fan_in) (Eq. 6), every such bias = 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            std = math.sqrt(he_weight_variance(fan_in(module)))
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()


def predicted_variance(var_y1: Number, fan_ins: Sequence[Number], weight_vars: Sequence[Number]) -> Number:
    """Eq. 5: Var[y_L] = Var[y_1] * prod_{l=2}^{L} (1/2) n_l Var[w_l].

    ``fan_ins`` and ``weight_vars`` list n_l and Var[w_l] for layers 2..L (both of length L-1);
    works on floats and on sympy expressions.  The single place this formula lives.
    """
    if len(fan_ins) != len(weight_vars):
        raise ValueError(f"{len(fan_ins)} fan-ins but {len(weight_vars)} weight variances")
    variance = var_y1
    for n_l, var_w in zip(fan_ins, weight_vars):
        variance = variance * n_l * var_w / 2
    return variance


def predicted_profile(var_y1: Number, fan_ins: Sequence[Number], weight_vars: Sequence[Number]) -> list[Number]:
    """Eq. 5 at every depth: [Var[y_1], Var[y_2], ..., Var[y_L]] (prefixes of ``predicted_variance``)."""
    return [predicted_variance(var_y1, fan_ins[:k], weight_vars[:k]) for k in range(len(fan_ins) + 1)]
