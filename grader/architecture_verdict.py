"""The verdict on a submitted network's architecture: functional equivalence with the reference (the
student's tensors copied into the reference network, outputs compared on random inputs), with the
structural defects of its traced forward pass named in the feedback."""
from __future__ import annotations

from checks.architecture import MappingError, describe_differences
from checks.verdict import Verdict
from grader.reference import OUTPUT_RTOL, load_into_reference, output_difference, reference_events, reference_model
from grader.rubric.common import failed


def judge_architecture(ctx, name: str) -> Verdict:
    probe = ctx.probe()
    o = probe[f"arch:{name}"]
    if not o.ok:
        return failed(o, f"{name}()")
    events = o.data.get("events", [])
    defects = describe_differences(events, reference_events(name))
    model = reference_model(name)
    try:
        load_into_reference(model, name, events, o.data.get("tensors", {}), o.out_dir)
        checks = [("eval", "arch_x2", f"{name}_y_eval")] + ([("train", "arch_x1", f"{name}_y_train")] if name == "NetBN" else [])
        worst = output_difference(model, [(mode, ctx.inputs[x], o.array(y, shape=(8, 10), dtype="float32"))
                                          for mode, x, y in checks])
        equal = worst <= OUTPUT_RTOL
    except (MappingError, ValueError) as e:
        equal, worst = False, None
        if not defects:
            defects = [str(e)]
    modes = "train and eval mode" if name == "NetBN" else "eval mode"
    if equal:
        return Verdict(1.0, f"{name}() computes the same function as the reference on 8 random inputs in {modes} "
                            f"(largest relative difference {worst:.1e}).")
    listed = "; ".join(defects) if defects else (
        f"no structural difference was found, but the outputs differ (relative difference {worst:.2g}): check the "
        f"flatten order and any extra operations in forward")
    return Verdict(0.5 if len(defects) == 1 else 0.0, f"{name}() differs from the handout's network: {listed}.")
