"""Problem 5.3, public checks: `NetBN()` builds, maps (N, 3, 32, 32) inputs to finite (N, 10) logits in train
and eval mode, and its traced forward pass runs a BatchNorm after each conv and each FC layer but the last, directly after
the layer or after its ReLU (or pooling), with a note on which (5.3.1; the instructor's run compares its function with the handout's network instead); the graded training
run meets the calibrated pass mark (5.3.2)."""
from __future__ import annotations

from checks.architecture import batchnorm_note, block_orders
from checks.verdict import Verdict
from grader.rubric.public.common import judge_training, network_output


def layers_without_batchnorm(events: list[dict]) -> tuple[int, list[str]]:
    """(conv and hidden FC layers, the ones not followed by a BatchNorm of their width before the next layer)."""
    layers = [i for i, e in enumerate(events) if e.get("op") in ("conv", "linear")]
    missing = []
    for j, i in enumerate(layers[:-1]):  # the very last FC (the classifier) has none
        e, nxt = events[i], layers[j + 1]
        if not any(b.get("op") == "batch_norm" and b.get("features") == e.get("out") for b in events[i + 1:nxt]):
            kind = "conv" if e["op"] == "conv" else "FC"
            missing.append(f"{kind} {e.get('in')}->{e.get('out')}")
    return max(len(layers) - 1, 0), missing


def netbn_outputs_with_batchnorm(ctx) -> Verdict:
    problem, data = network_output(ctx, "NetBN")
    if problem:
        return problem
    events = data.get("events", [])
    norms = sum(e.get("op") == "batch_norm" for e in events)
    count, missing = layers_without_batchnorm(events)
    notes = (batchnorm_note(events),) if batchnorm_note(events) else ()
    shapes = "NetBN() builds and maps a batch of shape (8, 3, 32, 32) to finite (8, 10) logits in train and eval mode"
    if norms == 0:
        return Verdict(0.0, f"{shapes}, but its forward pass runs no BatchNorm.")
    on_last = "batch_norm" in (block_orders(events)[-1:] or ((),))[0]
    if missing or on_last:
        why = ([f"none follows {', '.join(missing)}"] if missing else []) + (["one follows the last FC"] if on_last else [])
        return Verdict(0.5, f"{shapes}; {norms} BatchNorm operations run, but {' and '.join(why)} (the handout: after "
                            f"each conv and FC layer but the last).", notes)
    return Verdict(1.0, f"{shapes}, with a BatchNorm after each of its {count} conv and hidden FC layers.", notes)


def netbn_trains(ctx) -> Verdict:
    return judge_training(ctx, "bn", "NetBN()")
