"""The verdict on a submitted network's architecture: functional equivalence with the reference (the
student's tensors copied into the reference network, outputs compared on random inputs), with the
structural defects of its traced forward pass named in the feedback."""
from __future__ import annotations

import numpy as np
import torch

from checks.architecture import MappingError, describe_differences
from checks.verdict import Verdict
from grader.reference import load_into_reference, reference_events, reference_model
from grader.rubric.common import failed

OUTPUT_RTOL = 1e-4  # relative tolerance on logits of functionally equal networks (float32 summation order)


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
        worst = 0.0
        for mode, x_name, y_name in checks:
            y_student = o.array(y_name, shape=(8, 10), dtype="float32")
            model.train(mode == "train")
            with torch.no_grad():
                y_ref = model(torch.from_numpy(ctx.inputs[x_name])).numpy()
            worst = max(worst, float(np.abs(y_student - y_ref).max() / (np.abs(y_ref).max() + 1e-6)))
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
