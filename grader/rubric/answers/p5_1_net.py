"""Problem 5.1.1: the network's architecture, judged by functional equivalence with the reference (the
student's tensors copied into the reference network, outputs compared on random inputs, and the loss
gradients of every parameter in train mode, so that a forward that cuts the graph is a defect), with the
structural defects of its traced forward pass named in the feedback. 5.3.1 judges NetBN the same way."""
from __future__ import annotations

from checks.architecture import MappingError, diagnose_differences
from checks.verdict import Verdict
from grader.reference.gradients import compare_gradients
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
        mapping = load_into_reference(model, name, events, o.data.get("tensors", []), name, o.out_dir)
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
        problem = gradient_problem(ctx, name, o, model, mapping)
        if problem:
            return Verdict(0.5, f"{name}() computes the handout's function on 8 random inputs in {modes_text}, but it "
                                f"does not learn as the handout's network does: {problem}.",
                           diagnoses=("arch.cut_graph",))
        return Verdict(1.0, f"{name}() computes the same function as the reference on 8 random inputs in {modes_text} "
                            f"(largest relative difference {worst:.1e}).")
    listed = "; ".join(defects) if defects else (
        f"no structural difference was found, but the outputs differ (relative difference {worst:.2g}): check the "
        f"flatten order and any extra operations in forward")
    return Verdict(0.5 if len(defects) == 1 else 0.0, f"{name}() differs from the handout's network: {listed}.",
                   diagnoses=tuple(dict.fromkeys(code for code, _ in found)))


def net_architecture(ctx) -> Verdict:
    return judge_architecture(ctx, "Net")


def gradient_problem(ctx, name: str, o, model, mapping: dict) -> str:
    """Why the student's network does not receive the reference's loss gradients (in train mode, on the
    probe's batches); "" when it does. One defect of the architecture: its layers before a cut never learn."""
    inputs = ctx.inputs()
    return compare_gradients(model, name, mapping, o, name, inputs[P.GRAD_X], inputs[P.GRAD_Y]).describe()
