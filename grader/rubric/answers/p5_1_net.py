"""Problem 5.1.1: the network's architecture, judged by functional equivalence with the reference (the
student's tensors copied into the reference network, outputs compared on random inputs), with the
structural defects of its traced forward pass named in the feedback. 5.3.1 judges NetBN the same way."""
from __future__ import annotations

from checks.architecture import MappingError, diagnose_differences
from checks.verdict import Verdict
from grader.reference.networks import (OUTPUT_RTOL, load_into_reference, output_difference, reference_events,
                                       reference_model)
from grader.rubric.public.common import failed
from grader.sandbox import protocol as P


def judge_architecture(ctx, name: str) -> Verdict:
    o = ctx.probe(P.arch(name))
    if not o.ok:
        return failed(o, f"{name}()")
    events = o.data.get("events", [])
    found = diagnose_differences(events, reference_events(name))
    defects = [text for _, text in found]
    model = reference_model(name)
    inputs = ctx.inputs()
    try:
        load_into_reference(model, name, events, o.data.get("tensors", []), name, o.out_dir)
        modes = [("eval", P.ARCH_X2)] + ([("train", P.ARCH_X1)] if name == "NetBN" else [])
        worst = output_difference(model, [(mode, inputs[x], o.array(P.network_output(name, mode), shape=(8, 10),
                                                                    dtype="float32")) for mode, x in modes])
        equal = worst <= OUTPUT_RTOL
    except (MappingError, ValueError) as e:
        equal, worst = False, None
        if not defects:
            defects = [str(e)]
    modes_text = "train and eval mode" if name == "NetBN" else "eval mode"
    if equal:
        return Verdict(1.0, f"{name}() computes the same function as the reference on 8 random inputs in {modes_text} "
                            f"(largest relative difference {worst:.1e}).")
    listed = "; ".join(defects) if defects else (
        f"no structural difference was found, but the outputs differ (relative difference {worst:.2g}): check the "
        f"flatten order and any extra operations in forward")
    return Verdict(0.5 if len(defects) == 1 else 0.0, f"{name}() differs from the handout's network: {listed}.",
                   diagnoses=tuple(dict.fromkeys(code for code, _ in found)))


def net_architecture(ctx) -> Verdict:
    return judge_architecture(ctx, "Net")
