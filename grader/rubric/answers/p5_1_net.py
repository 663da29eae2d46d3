"""Problem 5.1.1: the network's architecture, judged by the function it computes: the student's tensors are
copied into the reference network and the outputs compared on random inputs, up to log-softmax (a network
that returns log-probabilities is the same classifier). Structural differences are named in the feedback,
and counted only when they change the function: a difference whose correction is a removal (an extra ReLU
after max-pooling a ReLU output) is tested by replaying the traced forward pass without it
(checks.replay), and one that changes nothing is no defect. A network that computes the function but does not
receive the reference's loss gradients in train mode (a forward that cuts the graph) has that defect.
5.3.1 judges NetBN the same way, with the reference's BatchNorms before or after the ReLU as the student has
them."""
from __future__ import annotations

import numpy as np
import torch

from checks.architecture import Difference, MappingError, batchnorm_note, differences
from checks.replay import ReplayError, log_softmax, relative_difference, replay
from checks.verdict import Verdict
from grader.reference.gradients import compare_gradients
from grader.reference.networks import (OUTPUT_RTOL, load_into_reference, output_difference, reference_events,
                                       reference_model, student_tensors)
from grader.rubric.public.common import failed
from grader.sandbox import protocol as P

LOG_PROBABILITIES = ("returns log-probabilities (a log_softmax at the end of forward): the same classifier as the "
                     "handout's logits, so it is judged up to log-softmax (5.1.2 judges loss_fn on these outputs)")


def _redundancy(o, name: str, events: list[dict], diffs: list[Difference], x: np.ndarray,
                y_reference: np.ndarray | None) -> tuple[list[Difference], list[Difference], str]:
    """(differences that change the function, ones that do not, a difference left unnamed): each difference
    corrected by removing events is replayed without them; when every remaining one is such a removal, the
    replay with all of them corrected must give the reference's function, or something unnamed differs."""
    try:
        tensors = student_tensors(o.data.get("tensors", []), name, o.out_dir)
        y_student = o.array(P.network_output(name, "eval"), shape=(8, 10), dtype="float32")
        full = replay(events, tensors, x)
        if relative_difference(log_softmax(full), log_softmax(y_student)) > OUTPUT_RTOL:
            return diffs, [], ""  # the trace does not capture the whole forward pass: nothing can be told apart
        real, redundant = [], []
        for d in diffs:
            same = d.removable and relative_difference(log_softmax(replay(events, tensors, x, skip=d.removable)),
                                                       log_softmax(full)) <= OUTPUT_RTOL
            (redundant if same else real).append(d)
        if y_reference is not None and all(d.removable for d in real):
            fixed = replay(events, tensors, x, skip=tuple(i for d in real for i in d.removable))
            worst = relative_difference(log_softmax(fixed), log_softmax(y_reference))
            if worst > OUTPUT_RTOL:
                what = "these are corrected" if real else "the forward pass is replayed"
                return real, redundant, (f"the outputs still differ from the handout's network after {what} "
                                         f"(relative difference {worst:.2g}): check the flatten order and any extra "
                                         f"operations in forward")
        return real, redundant, ""
    except (ReplayError, ValueError, KeyError, TypeError, RuntimeError):
        return diffs, [], ""


def judge_architecture(ctx, name: str) -> Verdict:
    o = ctx.probe(P.arch(name))
    if not o.ok:
        return failed(o, f"{name}()")
    events = o.data.get("events", [])
    diffs = differences(events, reference_events(name))
    model = reference_model(name, events)
    inputs = ctx.inputs()
    notes = [batchnorm_note(events)] if name == "NetBN" and batchnorm_note(events) else []
    y_reference = None
    try:
        mapping = load_into_reference(model, name, events, o.data.get("tensors", []), name, o.out_dir)
        modes = [("eval", P.ARCH_X2)] + ([("train", P.ARCH_X1)] if name == "NetBN" else [])
        outputs = [(mode, inputs[x], o.array(P.network_output(name, mode), shape=(8, 10), dtype="float32"))
                   for mode, x in modes]
        raw = output_difference(model, outputs)
        worst = output_difference(model, outputs, log_probabilities=True)
        equal = worst <= OUTPUT_RTOL
        y_reference = _reference_eval(model, inputs[P.ARCH_X2])
    except (MappingError, ValueError) as e:
        equal, worst, raw = False, None, None
        if not diffs:
            diffs = [Difference(str(e))]
    modes_text = "train and eval mode" if name == "NetBN" else "eval mode"
    if equal:
        problem = gradient_problem(ctx, name, o, model, mapping)
        if problem:
            return Verdict(0.5, f"{name}() computes the handout's function on 8 random inputs in {modes_text}, but it "
                                f"does not learn as the handout's network does: {problem}.", tuple(notes),
                           diagnoses=("arch.cut_graph",))
        if raw > OUTPUT_RTOL:
            notes.append(f"{name}() {LOG_PROBABILITIES}")
        if diffs:
            notes.append("no defect, since the function is the handout's: " + "; ".join(d.text for d in diffs))
        return Verdict(1.0, f"{name}() computes the same function as the reference on 8 random inputs in {modes_text} "
                            f"(largest relative difference {worst:.1e}).", tuple(notes))
    real, redundant, unnamed = _redundancy(o, name, events, diffs, inputs[P.ARCH_X2], y_reference)
    if redundant:
        notes.append("not counted, since removing it leaves the function unchanged: " + "; ".join(d.text for d in redundant))
    if not real:
        text = unnamed or (f"no structural difference was found, but the outputs differ (relative difference "
                           f"{worst:.2g}): check the flatten order and any extra operations in forward")
        return Verdict(0.0, f"{name}() differs from the handout's network: {text}.", tuple(notes),
                       diagnoses=("arch.function_differs",))
    listed = [d.text for d in real] + ([unnamed] if unnamed else [])
    counted = sum(not d.consequence for d in real) + bool(unnamed)
    return Verdict(0.5 if counted == 1 else 0.0, f"{name}() differs from the handout's network: "
                                                     f"{'; '.join(listed)}.", tuple(notes),
                   diagnoses=tuple(dict.fromkeys(d.code for d in real if d.code)))


def _reference_eval(model, x: np.ndarray) -> np.ndarray:
    """The reference network's eval-mode logits (8, 10) on x, its state left as it was."""
    with torch.no_grad():
        was = model.training
        y = model.eval()(torch.from_numpy(x)).double().numpy()
        model.train(was)
    return y


def net_architecture(ctx) -> Verdict:
    return judge_architecture(ctx, "Net")


def gradient_problem(ctx, name: str, o, model, mapping: dict) -> str:
    """Why the student's network does not receive the reference's loss gradients (in train mode, on the
    probe's batches); "" when it does. One defect of the architecture: its layers before a cut never learn."""
    inputs = ctx.inputs()
    return compare_gradients(model, name, mapping, o, name, inputs[P.GRAD_X], inputs[P.GRAD_Y]).describe()
