"""Problem 1: the submitted `bptt_gradients` against the reference BPTT on seeded random RNNs of several
sizes (T = 1 included): output-layer gradients (1.1) and recurrent gradients (1.2)."""
from __future__ import annotations

import numpy as np
import pytest

from checks.bptt import judge_output_layer, judge_recurrent
from grader.probe_inputs import BPTT_SIZES, bptt_instance
from grader.rubric.common import failed

KEYS = ("W_xh", "W_hh", "b_h", "W_hz", "b_z")


def _student_and_reference(ctx):
    from solutions.bptt import bptt_gradients

    o = ctx.probe()["bptt"]
    if not o.ok:
        return o, None, None, None
    instances = [bptt_instance(ctx.inputs, i) for i in range(len(BPTT_SIZES))]
    reference = [bptt_gradients(*inst) for inst in instances]
    returned = o.data.get("returned") or [[] for _ in instances]
    student = []
    for i, keys in enumerate(returned[: len(instances)]):
        grads = {}
        for k in keys:
            if k in KEYS:
                try:
                    grads[k] = o.array(f"bptt{i}_grad_{k}", dtype="float64")
                except ValueError as e:
                    grads[k] = np.full(reference[i][k].shape, np.nan) if "NaN" in str(e) else None
        student.append({k: v for k, v in grads.items() if v is not None})
    return o, student, reference, instances


@pytest.mark.rubric("1.1")
def test_output_layer_gradients(ctx, record):
    o, student, reference, instances = _student_and_reference(ctx)
    record(failed(o, "bptt_gradients") if student is None else judge_output_layer(student, reference, instances))


@pytest.mark.rubric("1.2")
def test_recurrent_gradients(ctx, record):
    o, student, reference, instances = _student_and_reference(ctx)
    record(failed(o, "bptt_gradients") if student is None else judge_recurrent(student, reference, instances))
