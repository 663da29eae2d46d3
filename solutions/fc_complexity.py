"""Reference solution of Problem 4: space and time complexity of a fully connected network.

The network has an input layer of ``d`` nodes, ``L`` hidden layers of ``n`` nodes each and an
output layer of ``c`` nodes; consecutive layers are fully connected.  A single cost node ``u_N``
(the node that computes J) sits after the output layer.  All counts are sympy expressions in the
positive integer symbols ``d, n, L, c`` (``L >= 1``).

Layer indices used throughout: 0 = input layer, 1..L = hidden layers, L+1 = output layer; the
cost node comes after layer L+1.

Derivation
----------
4.1 Parameters (space complexity).
  1. Weight matrices: input -> hidden 1 has d*n entries, each of the L-1 hidden -> hidden maps has
     n*n, hidden L -> output has n*c: W = d*n + (L-1)*n**2 + n*c.
  2. Biases: one per non-input node: L*n + c.
  3. Total with biases d*n + (L-1)*n**2 + n*c + L*n + c = Theta(d*n + L*n**2 + n*c)
     (L*n <= L*n**2 and c <= n*c, so the biases never change the class).

4.2 Multiplications of one SGD iteration with back-propagation (batch size 1).
  Convention (the one ``checks/fc_complexity.py`` counts on real torch ops):
  hidden nodes use ReLU, output nodes are linear and feed the cost node; the cost's own
  derivative dJ/du_out (c numbers) is taken as given, i.e. computing J is not counted.
  1. Forward: every weight multiplies its input once -> W multiplications (bias additions are free).
  2. Backward, weight gradients: dJ/dw_ji = delta_i * u_j -> one multiplication per weight -> W.
  3. Backward, delta propagation: dJ/du_j = sum_i w_ji delta_i -> one multiplication per weight,
     except for the weights leaving the input layer (nobody needs dJ/dx) -> W - d*n.
  4. Backward, activation derivatives: delta_i = f'(net_i) * dJ/du_i for each hidden node -> L*n
     (for ReLU f' is 0 or 1; we still charge the product, as for any activation).
     Bias gradients are copies of the deltas -> 0.
  5. Update: w <- w - lr * dJ/dw, one multiplication per parameter -> P (P = W, plus L*n + c
     with biases).
  6. Sum: 3*W - d*n + L*n + P, i.e. with biases
     3*d*n + 4*(L-1)*n**2 + 4*n*c + 2*L*n + c  =  Theta(d*n + L*n**2 + n*c):
     linear in the number of parameters.

4.3 Path enumeration instead of back-propagation.
  Convention: for a weight w_ji on the edge from node j into node i, the method enumerates every
  path from node i to the cost node and multiplies the local derivatives along it; a path of m
  edges is charged m multiplications (m - 1 to chain its m local derivatives and 1 to multiply the
  product by the weight's own factor (du_i/dnet_i)(dnet_i/dw_ji), the chain rule being applied to
  each path separately).  Additions, the forward pass and the update are O(W) and not counted
  (they are dominated).
  1. Paths from a node in layer l to the cost node: one choice in each of the hidden layers
     l+1..L and in the output layer -> c * n**(L-l) for 0 <= l <= L; 1 for an output node.
  2. All those paths have the same length L + 2 - l edges.
  3. Weights into hidden layer 1: d*n of them, each costing c*n**(L-1)*(L+1)  -> c*d*(L+1)*n**L.
  4. Weights into hidden layer l, 2 <= l <= L: n**2 each costing c*n**(L-l)*(L-l+2); with
     k = L-l+2 this is c*k*n**k for k = 2..L.
  5. Weights into the output layer: n*c, each with one path of length 1 -> n*c = c*1*n**1.
  6. Total c*(d*(L+1)*n**L + sum_{k=1}^{L} k*n**k); the sum is
     n*(1 - (L+1)*n**L + L*n**(L+1))/(n-1)**2 for n >= 2 and L*(L+1)/2 for n = 1.
  7. For n >= 2 the sum is Theta(L*n**L), so the cost is Theta(L*c*d*n**L): exponential in the
     depth, against back-propagation's Theta(d*n + L*n**2 + n*c) (which reuses the shared path
     prefixes through the deltas).
"""
from __future__ import annotations

import functools

import sympy as sp

d, n, L, c = sp.symbols("d n L c", positive=True, integer=True)
SYMBOLS: tuple[sp.Symbol, ...] = (d, n, L, c)

_k = sp.Symbol("k", positive=True, integer=True)

_CLASSES: dict[str, sp.Expr] = {
    "parameters": d * n + L * n**2 + n * c,
    "sgd_multiplications": d * n + L * n**2 + n * c,
    "path_multiplications": L * c * d * n**L,
}


def weights() -> sp.Expr:
    """Number of connection weights: d*n + (L-1)*n**2 + n*c (step 4.1.1)."""
    return d * n + (L - 1) * n**2 + n * c


def biases() -> sp.Expr:
    """Number of biases, one per hidden or output node: L*n + c (step 4.1.2)."""
    return L * n + c


def parameters(bias: bool = True) -> sp.Expr:
    """Number of stored parameters (4.1): weights, plus biases when ``bias``."""
    return weights() + biases() if bias else weights()


def forward_multiplications() -> sp.Expr:
    """Forward pass: one multiplication per weight (step 4.2.1)."""
    return weights()


def backward_multiplications() -> sp.Expr:
    """Backward pass: weight gradients + delta propagation + activation derivatives (4.2.2-4)."""
    weight_gradients = weights()
    delta_propagation = weights() - d * n  # no gradient is propagated into the input layer
    activation_derivatives = L * n
    return weight_gradients + delta_propagation + activation_derivatives


def update_multiplications(bias: bool = True) -> sp.Expr:
    """SGD update ``p -= lr * grad``: one multiplication per parameter (step 4.2.5)."""
    return parameters(bias)


def sgd_multiplications(bias: bool = True) -> sp.Expr:
    """Multiplications of one SGD iteration (4.2), batch size 1, convention of the module docstring.

    With biases: 3*d*n + 4*(L-1)*n**2 + 4*n*c + 2*L*n + c.
    """
    return sp.expand(forward_multiplications() + backward_multiplications() + update_multiplications(bias))


def path_count(layer: int | sp.Expr) -> sp.Expr:
    """Number of paths from a node of ``layer`` to the cost node (4.3.1).

    ``layer`` is 0 (input), 1..L (hidden), or the expression ``L + 1`` for the output layer (the
    output layer must be named symbolically because an integer cannot tell it from a hidden layer).
    """
    layer = sp.sympify(layer)
    if sp.expand(layer - (L + 1)) == 0:
        return sp.Integer(1)
    return c * n ** (L - layer)


def path_length(layer: int | sp.Expr) -> sp.Expr:
    """Edges on every path from a node of ``layer`` to the cost node (4.3.2)."""
    return L + 2 - sp.sympify(layer)


@functools.cache  # sympy.summation is slow and the result never changes
def path_multiplications() -> sp.Expr:
    """Multiplications of the path-enumeration method per iteration (4.3), exact, any n >= 1.

    Sum over all weights of (paths from the weight's head node to the cost) * (their length):
    c*(d*(L+1)*n**L + sum_{k=1}^{L} k*n**k), returned with the sum in closed form (a Piecewise
    separating n = 1 from n >= 2).
    """
    geometric_part = sp.summation(_k * n**_k, (_k, 1, L))
    return c * (d * (L + 1) * n**L + geometric_part)


def asymptotic_representative(name: str) -> sp.Expr:
    """The simplest expression of the Theta class of ``name`` (see ``asymptotic_class``)."""
    try:
        return _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown quantity {name!r}; expected one of {sorted(_CLASSES)}") from None


def asymptotic_class(name: str) -> str:
    """Theta class of ``parameters``, ``sgd_multiplications`` or ``path_multiplications`` (n >= 2)."""
    representatives = {
        "parameters": "d*n + L*n**2 + n*c",
        "sgd_multiplications": "d*n + L*n**2 + n*c",
        "path_multiplications": "L*c*d*n**L",
    }
    asymptotic_representative(name)  # validates the name
    return f"Theta({representatives[name]})"
