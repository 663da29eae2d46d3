"""Problem 1: back-propagation through time (BPTT) for a tanh RNN with a softmax output and cross-entropy loss.

Notation (column vectors; D inputs, H hidden units, K classes, T time steps; y_t is a class index and
e(y_t) its one-hot vector):

Forward, for t = 1 .. T, starting from the given h_0:
    (1) a_t = W_xh x_t + W_hh h_{t-1} + b_h          pre-activation       (H,)
    (2) h_t = tanh(a_t)                                hidden state         (H,)
    (3) o_t = W_hz h_t + b_z                           logits               (K,)
    (4) z_t = softmax(o_t)                             class probabilities  (K,)
    (5) L   = sum_t L_t = sum_t -log z_{t, y_t}

Backward:
    (6)  dL/do_t   = z_t - e(y_t)                      softmax + cross entropy together   (K,)
    (7)  dL/dW_hz  = sum_t (z_t - e(y_t)) h_t^T                                           (K, H)
    (8)  dL/db_z   = sum_t (z_t - e(y_t))                                                 (K,)
    (9)  delta_t = dL/da_t. h_t reaches L through o_t (this step's loss) and through a_{t+1} (all later
         losses), so, running backwards from t = T with delta_{T+1} = 0,
             delta_t = (W_hz^T (z_t - e(y_t)) + W_hh^T delta_{t+1}) ⊙ (1 - h_t^2)          (H,)
         where 1 - h_t^2 = tanh'(a_t). The W_hh^T delta_{t+1} term is the recursion through time.
    (10) dL/dW_hh  = sum_t delta_t h_{t-1}^T            (h_{t-1}, not h_t: W_hh multiplies h_{t-1}) (H, H)
    (11) dL/dW_xh  = sum_t delta_t x_t^T                                                  (H, D)
    (12) dL/db_h   = sum_t delta_t                                                        (H,)

The same W's are used at every step (parameter sharing), which is why each weight gradient is a sum over t.

Submission contract: `params` is a dict of float64 arrays W_xh (H, D), W_hh (H, H), b_h (H,), W_hz (K, H),
b_z (K,); xs (T, D) floats; ys (T,) integer classes; h0 (H,). Rows of xs/hs/zs are time steps.
"""
from __future__ import annotations

import numpy as np


Params = dict[str, np.ndarray]
Instance = tuple[Params, np.ndarray, np.ndarray, np.ndarray]  # (params, xs, ys, h0)

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hz", "b_z")


def softmax(o: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits o (..., K); the max is subtracted so exp cannot overflow."""
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def forward(params: Params, xs: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equations (1)-(4). Returns hs (T, H) with hs[t] = h_{t+1}, and zs (T, K) the softmax outputs."""
    W_xh, W_hh, b_h, W_hz, b_z = (params[k] for k in PARAM_NAMES)
    T, H, K = xs.shape[0], h0.shape[0], b_z.shape[0]
    hs = np.empty((T, H))
    zs = np.empty((T, K))
    h = h0  # (H,)
    for t in range(T):
        h = np.tanh(W_xh @ xs[t] + W_hh @ h + b_h)  # (H,)
        hs[t] = h
        zs[t] = softmax(W_hz @ h + b_z)  # (K,)
    return hs, zs


def loss(params: Params, xs: np.ndarray, ys: np.ndarray, h0: np.ndarray) -> float:
    """Equation (5): the summed cross entropy -sum_t log z_{t, y_t}."""
    _, zs = forward(params, xs, h0)
    T = xs.shape[0]
    return float(-np.log(zs[np.arange(T), ys]).sum())


def bptt_gradients(params: Params, xs: np.ndarray, ys: np.ndarray, h0: np.ndarray) -> Params:
    """Equations (6)-(12): dL/dparam for every parameter, same keys and shapes as `params`."""
    W_hh, W_hz = params["W_hh"], params["W_hz"]
    hs, zs = forward(params, xs, h0)  # (T, H), (T, K)
    T, H = hs.shape

    dos = zs.copy()  # (T, K)
    dos[np.arange(T), ys] -= 1.0  # (6): z_t - e(y_t)
    h_prevs = np.vstack([h0[None, :], hs[:-1]])  # (T, H), row t is h_{t-1}

    deltas = np.empty((T, H))
    delta_next = np.zeros(H)  # delta_{T+1} = 0: nothing comes back from after the last step
    for t in reversed(range(T)):
        dh = W_hz.T @ dos[t] + W_hh.T @ delta_next  # (H,) this step's loss + all later losses
        deltas[t] = dh * (1.0 - hs[t] ** 2)  # (9): tanh'(a_t) = 1 - h_t^2
        delta_next = deltas[t]

    return {
        "W_xh": deltas.T @ xs,  # (11) (H, D)
        "W_hh": deltas.T @ h_prevs,  # (10) (H, H)
        "b_h": deltas.sum(axis=0),  # (12) (H,)
        "W_hz": dos.T @ hs,  # (7) (K, H)
        "b_z": dos.sum(axis=0),  # (8) (K,)
    }
