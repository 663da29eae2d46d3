"""A correct student-style `bptt_gradients` (loops over time, its own variable names)."""
import numpy as np


def bptt_gradients(params, xs, ys, h0):
    Wxh, Whh, bh, Why, by = (params[k] for k in ("W_xh", "W_hh", "b_h", "W_hz", "b_z"))
    T = xs.shape[0]
    hs = {-1: h0}
    ps = {}
    for t in range(T):
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        o = Why @ hs[t] + by
        e = np.exp(o - o.max())
        ps[t] = e / e.sum()
    dWxh, dWhh, dbh = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(bh)
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        do = ps[t].copy()
        do[ys[t]] -= 1
        dWhy += np.outer(do, hs[t])
        dby += do
        dh = Why.T @ do + dh_next
        draw = (1 - hs[t] ** 2) * dh
        dbh += draw
        dWxh += np.outer(draw, xs[t])
        dWhh += np.outer(draw, hs[t - 1])
        dh_next = Whh.T @ draw
    return {"W_xh": dWxh, "W_hh": dWhh, "b_h": dbh, "W_hz": dWhy, "b_z": dby}
