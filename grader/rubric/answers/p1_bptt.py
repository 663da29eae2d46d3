"""Problem 1: the submitted `bptt_gradients` against the reference BPTT on the probe's seeded random RNNs
(T = 1 included): output-layer gradients (1.1) and recurrent gradients (1.2), with diagnoses of the error
pattern (checks.bptt); automatic differentiation is sent for review (grader.rubric.public.p1_bptt's policy)."""
from __future__ import annotations

import numpy as np

from checks.bptt import judge_output_layer, judge_recurrent
from checks.verdict import Verdict
from grader.evidence.probes import BPTT_SIZES
from grader.rubric.public.common import failed
from grader.rubric.public.p1_bptt import flag_autodiff
from grader.sandbox import protocol as P
from solutions.bptt import bptt_gradients


def _student_and_reference(ctx):
    """(student gradient dicts, reference gradient dicts, instances), one per random RNN."""
    o = ctx.probe(P.BPTT)
    instances = [ctx.inputs().bptt_instance(i) for i in range(len(BPTT_SIZES))]
    reference = [bptt_gradients(*inst) for inst in instances]
    returned = o.data.get("returned") or [[] for _ in instances]
    student = []
    for i, keys in enumerate(returned[: len(instances)]):
        grads = {}
        for k in keys:
            if k in P.BPTT_KEYS:
                try:
                    grads[k] = o.array(P.bptt_gradient(i, k), dtype="float64")
                except ValueError as e:
                    grads[k] = np.full(reference[i][k].shape, np.nan) if "NaN" in str(e) else None
        student.append({k: v for k, v in grads.items() if v is not None})
    return student, reference, instances


def output_layer(ctx) -> Verdict:
    o = ctx.probe(P.BPTT)
    if not o.ok:
        return failed(o, "bptt_gradients")
    return flag_autodiff(ctx, judge_output_layer(*_student_and_reference(ctx)))


def recurrent(ctx) -> Verdict:
    o = ctx.probe(P.BPTT)
    if not o.ok:
        return failed(o, "bptt_gradients")
    return flag_autodiff(ctx, judge_recurrent(*_student_and_reference(ctx)))
