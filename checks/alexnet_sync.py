"""Problem 3 checks: judging the list of synchronisation stages, and verification of `solutions.alexnet_sync`.

Scoring of `judge_sync_stages` (expected set E, |E| = 4 for AlexNet):
    fraction = max(0, (hits - wrong) / |E|)
where hits = expected stages named, and wrong = distinct stages named that are not synchronisation points
plus distinct entries that are not stage names at all. Each right stage earns 1/4 and each wrong entry costs
1/4, so listing all eight stages earns 0, not half. Entries are compared after lower-casing and dropping
spaces, '-' and '_' ("FC6", " conv3 ", "Conv 3", "fc_7" all count); repeated entries count once.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import torch

from checks.answer_format import ANSWER_TIME_S, answer_took_too_long, read_stage_list
from checks.time_limit import limited
from checks.verdict import ProofResult, Verdict
from solutions.alexnet_sync import ALEXNET_STAGES, STAGE_NAMES, Stage, TwoColumnAlexNet, sync_stages

PAPER_PARAMETERS = 60_965_224  # the paper's "60 million parameters" (§1), counted for the two-column layout
# Neurons per layer from §3.5 ("253,440-186,624-64,896-64,896-43,264-4096-4096-1000"), conv2 onwards;
# conv1's 253,440 does not match any input size with the stated stride and is left out.
PAPER_NEURONS = {
    "conv2": 186_624, "conv3": 64_896, "conv4": 64_896, "conv5": 43_264, "fc6": 4096, "fc7": 4096, "fc8": 1000
}


@functools.cache
def reference_answer() -> tuple[str, ...]:
    """The derived synchronisation stages (computed once per process)."""
    return tuple(sync_stages())


def _why(stage: Stage, index: int) -> str:
    """Why a stage does or does not read the other column (from the paper's connectivity)."""
    unit = "kernels" if stage.kind == "conv" else "neurons"
    previous = "kernel maps" if stage.kind == "conv" or ALEXNET_STAGES[index - 1].kind == "conv" else "neurons"
    if index == 0:
        return f"{stage.name} (reads the input image, of which each GPU holds its own copy)"
    if stage.reads_both_columns:
        return f"{stage.name} (its {unit} connect to all {previous} of the previous layer, on both GPUs)"
    return f"{stage.name} (its {unit} connect only to the {previous} on their own GPU)"


@limited(ANSWER_TIME_S, answer_took_too_long)
def judge_sync_stages(answer: Any, expected: Sequence[str] | None = None) -> Verdict:
    """Rubric for Problem 3: the stages at which the two GPUs synchronise. `expected` defaults to the
    derived `sync_stages()`."""
    expected_set = set(reference_answer() if expected is None else expected)
    if not expected_set or not expected_set <= set(STAGE_NAMES):
        raise ValueError(f"expected must be a non-empty subset of {STAGE_NAMES}, got {expected}")
    try:
        read = read_stage_list(answer)
    except ValueError as e:
        return Verdict(0.0, f"Could not read the answer: {e}.")
    if read is None:
        return Verdict(0.0, f"Expected a list of stage names (conv1..conv5, fc6..fc8), got {type(answer).__name__}.")
    named, invalid, notes = list(read.named), list(read.invalid), list(read.notes)

    order = {name: i for i, name in enumerate(STAGE_NAMES)}
    hits = sorted(expected_set.intersection(named), key=order.get)
    missing = sorted(expected_set.difference(named), key=order.get)
    extra = sorted(set(named) - expected_set, key=order.get)
    fraction = max(0.0, (len(hits) - len(extra) - len(invalid)) / len(expected_set))

    why = {s.name: _why(s, i) for i, s in enumerate(ALEXNET_STAGES)}
    if not missing and not extra and not invalid:
        feedback = f"Correct: {', '.join(hits)}, the stages whose input comes from both columns."
    else:
        named_right = f" ({', '.join(hits)})" if hits else ""
        parts = [f"{len(hits)} of the {len(expected_set)} synchronisation stages named{named_right}"]
        if missing:
            parts.append("Missing: " + "; ".join(why.get(n, n) for n in missing))
        if extra:
            parts.append("Extra, no synchronisation needed: " + "; ".join(why.get(n, n) for n in extra))
        if invalid:
            parts.append(
                f"Not stage names, each counted as a wrong entry: {', '.join(invalid)} "
                f"(stages are {', '.join(STAGE_NAMES)})"
            )
        feedback = ". ".join(parts) + "."
    return Verdict(min(1.0, fraction), feedback, tuple(notes))


# ----------------------------------------------------------------------------------------------------------
# Verification of the reference
# ----------------------------------------------------------------------------------------------------------


def _derived_check() -> ProofResult:
    derived = sync_stages()
    from_text = [s.name for s in ALEXNET_STAGES if s.reads_both_columns]
    ok = derived == ["conv3", "fc6", "fc7", "fc8"] == from_text
    return ProofResult(
        "Problem 3 synchronisation stages derived from the model",
        ok,
        f"perturbing one column's activations at each stage's input (1/16 width, 67x67 input, seed 0) moves the "
        f"other column's output at {derived}; the paper's connectivity (§3.5) lists {from_text}.",
    )


def _sensitivity_check() -> ProofResult:
    """The derivation follows the model: rewiring conv4 to read both columns and fc7 to read its own column
    must change the answer accordingly (so the answer is not a constant)."""
    rewired = [
        dataclasses.replace(s, reads_both_columns=not s.reads_both_columns) if s.name in ("conv4", "fc7") else s
        for s in ALEXNET_STAGES
    ]
    torch.manual_seed(0)
    derived = sync_stages(TwoColumnAlexNet(rewired, width=1 / 16, input_size=67))
    return ProofResult(
        "Problem 3 derivation follows the connectivity",
        derived == ["conv3", "conv4", "fc6", "fc8"],
        f"with conv4 reading both columns and fc7 only its own, sync_stages gives {derived} "
        f"(expected ['conv3', 'conv4', 'fc6', 'fc8']).",
    )


def _paper_size_check() -> ProofResult:
    """Full-size network (on the meta device: shapes only, no memory) against the paper's numbers."""
    with torch.device("meta"):
        model = TwoColumnAlexNet()
        acts = model.column_activations(torch.empty(1, 3, model.input_size, model.input_size))
    parameters = sum(p.numel() for p in model.parameters())
    neurons = {}
    for index, stage in enumerate(model.stages):
        # neurons of a layer = its outputs before pooling, both columns
        inputs = model.stage_inputs(index, acts[index])
        linear = model.columns[index][0][0]
        neurons[stage.name] = sum(linear(inputs[c]).numel() for c in range(2))
    wrong = {k: (neurons[k], v) for k, v in PAPER_NEURONS.items() if neurons[k] != v}
    return ProofResult(
        "Problem 3 network matches the paper's sizes",
        parameters == PAPER_PARAMETERS and not wrong,
        f"full width, 227x227 input: {parameters:,} parameters (paper: 60 million; two-column count "
        f"{PAPER_PARAMETERS:,}); neurons conv2..fc8 {[neurons[k] for k in PAPER_NEURONS]} vs the paper's "
        f"{list(PAPER_NEURONS.values())}" + (f"; mismatches {wrong}" if wrong else "") + ".",
    )


def verify_all() -> list[ProofResult]:
    """Every verification of the Problem 3 reference and its judge."""
    all_eight = judge_sync_stages(list(STAGE_NAMES))
    judged = ProofResult(
        "Problem 3 judge",
        judge_sync_stages(list(reference_answer())).fraction == 1.0 and all_eight.fraction == 0.0,
        f"the derived answer scores 1.0; listing all eight stages scores {all_eight.fraction}.",
    )
    return [_derived_check(), _sensitivity_check(), _paper_size_check(), judged]
