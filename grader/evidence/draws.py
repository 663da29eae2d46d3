"""The conv and linear layers of networks a child built under several seeds and exported layer by layer:
the init probe's `init_weights` draws (5.2.1) and the starting networks of the graded runs (start phase).
Read under bounds, since the child's JSON and arrays are the submission's to write."""
from __future__ import annotations

from typing import Callable

import numpy as np

from checks.initialisers import LayerDraws
from grader.sandbox.runner import TaskOutcome

MAX_LAYERS = 32  # conv/linear layers read (the handout's network has 5)
MAX_DRAWS = 64  # seeds read per layer


def layer_names(layers: list[dict], weights: list[np.ndarray]) -> list[str]:
    """"conv 1", "conv 2", "FC 120", ...: convs by their position, FC layers by their width."""
    names, convs = [], 0
    for layer, w in zip(layers, weights):
        if layer.get("op") == "conv":
            convs += 1
            names.append(f"conv {convs}")
        else:
            names.append(f"FC {w.shape[0]}")
    return names


def read_layer_draws(outcome: TaskOutcome, draws: int, weight_name: Callable[[int, int], str],
                     bias_name: Callable[[int, int], str]) -> list[LayerDraws]:
    """The layers `outcome.data["layers"]` lists ([{"op", "weight", "bias"}, ...]), each drawn `draws`
    times: weight_name(i, d) and bias_name(i, d) are the arrays of layer i in draw d. ValueError when the
    listing or an array is not usable."""
    layers = outcome.data.get("layers")
    if not isinstance(layers, list) or not all(isinstance(e, dict) for e in layers):
        raise ValueError("the layers were not listed")
    if not 0 < draws <= MAX_DRAWS or len(layers) > MAX_LAYERS:
        raise ValueError(f"{len(layers)} layers in {draws} draws: more than the grader reads")
    weights, biases = [], []
    for i, layer in enumerate(layers):
        w = [outcome.array(weight_name(i, d), dtype="float64") for d in range(draws)]
        b = [outcome.array(bias_name(i, d), dtype="float64") for d in range(draws)] if layer.get("bias") else None
        if any(x.shape != w[0].shape for x in w) or w[0].ndim not in (2, 4) or (b and any(x.shape != (w[0].shape[0],) for x in b)):
            raise ValueError(f"layer {i + 1}'s tensors change shape between draws or have unexpected shapes")
        weights.append(np.stack(w))  # (D, out, in[, k, k])
        biases.append(np.stack(b) if b else None)  # (D, out)
    return [LayerDraws(name, w, b) for name, w, b in zip(layer_names(layers, [w[0] for w in weights]), weights, biases)]
