"""Compares the layer events of a submitted network's forward pass (see `grader/trace.py`) with the
reference's, in two ways:

- `differences` / `describe_differences`: the structural differences a human grader would name ("second
  conv uses padding 2; the handout says none", "no ReLU after FC 120", "average pooling where max pooling is
  specified", "BatchNorm after the last FC"), each with the events whose removal corrects it, when it is a
  removal (the judge replays the forward pass without them: checks.replay), whether it only follows from an
  earlier one, and its diagnosis code (checks.diagnoses). A log-softmax at the end, and BatchNorm before or
  after the ReLU, are none.
- `map_parameters`: which of the student's tensors plays the role of each reference tensor, by the order
  in which the forward pass uses them; the grader copies them into the reference network and compares
  outputs, which is what decides the item (functional equivalence, not names).
Pure functions over plain dicts: testable without torch.
"""
from __future__ import annotations

from dataclasses import dataclass

LAYER_OPS = ("conv", "linear")
IGNORED = ("dropout", "other")  # dropout is optional in the handout; bookkeeping ops say nothing


@dataclass(frozen=True)
class Block:
    """A parametric layer and the non-parametric operations that follow it up to the next one."""

    layer: dict
    after: tuple[dict, ...]
    index: int = 0  # position of the layer's event in the forward pass; after[k] is at index + 1 + k

    @property
    def after_ops(self) -> tuple[str, ...]:
        return tuple(e["op"] for e in self.after if e["op"] not in IGNORED)

    def positions(self, op: str) -> tuple[int, ...]:
        """Event indices of the `op` operations after the layer."""
        return tuple(self.index + 1 + k for k, e in enumerate(self.after) if e["op"] == op)


@dataclass(frozen=True)
class Difference:
    """A structural difference from the handout's network. `removable`: the student's events whose removal
    corrects it (an extra ReLU, a BatchNorm too many), so that whether it changes the function can be tested
    by running the forward pass without them; empty when the correction is not a removal."""

    text: str
    removable: tuple[int, ...] = ()
    consequence: bool = False  # follows from an earlier difference (FC 120's inputs after a padded conv): not counted
    code: str = ""  # its diagnosis code (checks.diagnoses), for the class page's counts


def blocks(events: list[dict]) -> tuple[tuple[dict, ...], list[Block]]:
    """Split events into (ops before the first layer, blocks)."""
    head: list[dict] = []
    out: list[Block] = []
    for i, e in enumerate(events):
        if e["op"] in LAYER_OPS:
            out.append(Block(layer=e, after=(), index=i))
        elif out:
            out[-1] = Block(layer=out[-1].layer, after=out[-1].after + (e,), index=out[-1].index)
        else:
            head.append(e)
    return tuple(head), out


ORDERED = ("batch_norm", "relu", "max_pool")  # the operations after a layer whose order the reference follows


def block_orders(events: list[dict]) -> tuple[tuple[str, ...], ...]:
    """For each layer, the order of the BatchNorm, ReLU and max pooling that follow it."""
    return tuple(tuple(e["op"] for e in b.after if e["op"] in ORDERED) for b in blocks(events)[1])


def batchnorm_note(events: list[dict]) -> str:
    """Which BatchNorms do not sit directly after their layer, and after what ("" if all do)."""
    names = ("conv 1", "conv 2", "FC 120", "FC 84")
    found = []
    for name, order in zip(names, block_orders(events)):
        if "batch_norm" in order and order.index("batch_norm") > 0:
            before = [{"relu": "ReLU", "max_pool": "pooling"}[o] for o in order[: order.index("batch_norm")]]
            found.append(f"{name} (after its {' and '.join(before)})")
    if not found:
        return ""
    return (f"BatchNorm not directly after the layer: {', '.join(found)}. The handout says after each layer; "
            f"BatchNorm directly after it or after its ReLU are both accepted, and the reference network is built in "
            f"your order")


def ends_in_log_softmax(events: list[dict]) -> bool:
    """Whether the forward pass returns log-probabilities: a log-softmax after its last layer."""
    _, bs = blocks(events)
    return bool(bs) and any(e["op"] == "softmax" and e.get("log") for e in bs[-1].after)


def layer_names(reference: list[Block]) -> list[str]:
    """Human names for the reference layers: "conv 1", "conv 2", "FC 120", "FC 84", "the last FC"."""
    names, n_conv = [], 0
    for i, b in enumerate(reference):
        if b.layer["op"] == "conv":
            n_conv += 1
            names.append(f"conv {n_conv}")
        else:
            names.append("the last FC" if i == len(reference) - 1 else f"FC {b.layer['out']}")
    return names


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"#{n}")


def _conv_defects(name: str, s: dict, r: dict) -> list[Difference]:
    out = []
    if s["out"] != r["out"]:
        out.append(Difference(f"{name} has {s['out']} output channels; the handout says {r['out']}", code="arch.conv_channels"))
    if s["kernel"] != r["kernel"]:
        out.append(Difference(f"{name} uses a {'x'.join(map(str, s['kernel']))} kernel; the handout says "
                              f"{'x'.join(map(str, r['kernel']))}", code="arch.conv_kernel"))
    if s["stride"] != r["stride"]:
        out.append(Difference(f"{name} uses stride {s['stride'][0] if len(set(s['stride'])) == 1 else s['stride']}; "
                              f"the handout says {r['stride'][0]}", code="arch.conv_stride"))
    if s["padding"] != r["padding"]:
        pad = s["padding"][0] if len(set(s["padding"])) == 1 else s["padding"]
        out.append(Difference(f"{name} uses padding {pad}; the handout says none", code="arch.conv_padding"))
    if s.get("dilation", [1, 1]) != r.get("dilation", [1, 1]) or s.get("groups", 1) != r.get("groups", 1):
        out.append(Difference(f"{name} uses dilation {s.get('dilation')} / groups {s.get('groups')}; the handout uses a "
                              f"plain convolution", code="arch.conv_dilation"))
    return out


def _after_defects(name: str, s: Block, r: Block, is_last: bool) -> list[Difference]:
    """Differences in what follows a layer. Order within the block is not judged: ReLU and max pooling
    commute, and BatchNorm before or after them is the student's choice (the reference is built in the
    student's order)."""
    out = []
    sops, rops = list(s.after_ops), list(r.after_ops)
    if "batch_norm" in sops and "batch_norm" not in rops:
        out.append(Difference(f"BatchNorm after {name}" + ("; the handout puts none after the last FC" if is_last
                                                           else "; this network has none"), s.positions("batch_norm"),
                              code="arch.extra_batchnorm"))
    if "batch_norm" in rops and "batch_norm" not in sops:
        out.append(Difference(f"no BatchNorm after {name}", code="arch.missing_batchnorm"))
    if "relu" in rops and "relu" not in sops:
        other = [e.get("name") for e in s.after if e["op"] == "activation"]
        out.append(Difference(f"no ReLU after {name}" + (f" ({other[0]} instead)" if other else ""), code="arch.missing_relu"))
    if "relu" in sops and "relu" not in rops:
        out.append(Difference(f"a ReLU after {name}" + ("; the logits must not pass through an activation" if is_last
                                                        else "; the handout has none there"), s.positions("relu"),
                              code="arch.relu_on_logits" if is_last else "arch.extra_relu"))
    if sops.count("relu") > 1 and rops.count("relu") == 1:
        out.append(Difference(f"ReLU applied {sops.count('relu')} times after {name}", s.positions("relu")[1:],
                              code="arch.repeated_relu"))
    for e in s.after:
        if e["op"] == "activation" and "relu" in rops:
            out.append(Difference(f"{e['name']} after {name} where the handout uses ReLU", code="arch.other_activation"))
    if "max_pool" in rops and "max_pool" not in sops:
        out.append(Difference(f"average pooling after {name} where max pooling is specified", code="arch.avg_pool")
                   if "avg_pool" in sops else Difference(f"no max pooling after {name}", code="arch.missing_pool"))
    elif "max_pool" in rops:
        sp = next(e for e in s.after if e["op"] == "max_pool")
        rp = next(e for e in r.after if e["op"] == "max_pool")
        if sp.get("kernel") != rp["kernel"] or sp.get("stride") != rp["stride"]:
            out.append(Difference(f"max pooling after {name} uses kernel {sp.get('kernel')} stride {sp.get('stride')}; "
                                  f"the handout says kernel {rp['kernel'][0]}, stride {rp['stride'][0]}", code="arch.pool_size"))
        if sops.count("max_pool") > 1:
            out.append(Difference(f"max pooling applied {sops.count('max_pool')} times after {name}", code="arch.pool_size"))
    if "max_pool" not in rops and ("max_pool" in sops or "avg_pool" in sops):
        out.append(Difference(f"pooling after {name}; the handout pools only after the convolutions", code="arch.extra_pool"))
    softmax = [e for e in s.after if e["op"] == "softmax"]
    if softmax and not (is_last and len(softmax) == 1 and softmax[0].get("log")):  # log-probabilities: see below
        out.append(Difference(f"{'log-' if softmax[0].get('log') else ''}softmax applied in forward after {name}; Net "
                              f"must return the raw logits (the loss applies the softmax)", s.positions("softmax"),
                              code="arch.softmax_in_forward"))
    return out


def describe_differences(student: list[dict], reference: list[dict]) -> list[str]:
    """Structural defects of the student's forward pass relative to the reference, in forward order."""
    return [d.text for d in differences(student, reference)]


def differences(student: list[dict], reference: list[dict]) -> list[Difference]:
    """Structural differences of the student's forward pass from the reference, in forward order. A
    log-softmax at the very end is none: the outputs are log-probabilities of the same classifier (the
    judges compare up to log-softmax, and judge the loss on the student's own pipeline)."""
    s_head, s_blocks = blocks(student)
    _, r_blocks = blocks(reference)
    defects: list[Difference] = []
    if any(e["op"] not in IGNORED for e in s_head):
        defects.append(Difference(f"operations before the first conv: "
                                  f"{', '.join(e['op'] for e in s_head if e['op'] not in IGNORED)}", code="arch.ops_before_conv"))
    s_kinds = [b.layer["op"] for b in s_blocks]
    r_kinds = [b.layer["op"] for b in r_blocks]
    if s_kinds != r_kinds:
        n_sc, n_rc = s_kinds.count("conv"), r_kinds.count("conv")
        n_sl, n_rl = s_kinds.count("linear"), r_kinds.count("linear")
        if n_sc != n_rc:
            defects.append(Difference(f"{n_sc} convolution layers; the handout has {n_rc}", code="arch.conv_count"))
        if n_sl != n_rl:
            defects.append(Difference(f"{n_sl} fully connected layers; the handout has {n_rl} (FC "
                                      f"{', FC '.join(str(b.layer['out']) for b in r_blocks if b.layer['op'] == 'linear')})",
                                      code="arch.fc_count"))
        if n_sc == n_rc and n_sl == n_rl:
            defects.append(Difference("the layers run in a different order: " + " -> ".join(s_kinds), code="arch.layer_order"))
        return defects
    names = layer_names(r_blocks)
    for i, (s, r) in enumerate(zip(s_blocks, r_blocks)):
        name = names[i]
        if r.layer["op"] == "conv":
            defects += _conv_defects(f"the {_ordinal(i + 1)} conv" if i else "the first conv", s.layer, r.layer)
        elif s.layer["out"] != r.layer["out"]:
            defects.append(Difference(f"{name} has {s.layer['out']} outputs; the handout says {r.layer['out']}",
                                      code="arch.fc_outputs"))
        elif s.layer["in"] != r.layer["in"]:
            follows = bool(defects)  # a padding, stride, kernel or pooling difference above changes the flattened size
            defects.append(Difference(f"{name} takes {s.layer['in']} inputs; the reference takes {r.layer['in']}"
                                      + (" (which follows from the above)" if follows else ""), consequence=follows,
                                      code="arch.fc_inputs"))
        defects += _after_defects(name, s, r, is_last=i == len(r_blocks) - 1)
    return defects


class MappingError(ValueError):
    """The student's tensors cannot be matched with the reference's."""


def map_parameters(student: list[dict], reference: list[dict], student_shapes: dict[str, list[int]],
                   reference_shapes: dict[str, list[int]]) -> dict[str, str | None]:
    """reference tensor name -> student tensor name (None: the student has none, e.g. a conv without bias
    before BatchNorm, or BatchNorm without affine parameters, which the reference fills with the identity)."""
    _, s_blocks = blocks(student)
    _, r_blocks = blocks(reference)
    if [b.layer["op"] for b in s_blocks] != [b.layer["op"] for b in r_blocks]:
        raise MappingError("the sequence of conv and FC layers differs from the reference")
    mapping: dict[str, str | None] = {}

    def pair(r_event: dict, s_event: dict, keys: tuple[str, ...]) -> None:
        for k in keys:
            r_name, s_name = r_event.get(k), s_event.get(k)
            if r_name is None:
                continue
            if s_name is not None and list(student_shapes.get(s_name, [])) != list(reference_shapes[r_name]):
                raise MappingError(f"{s_name} has shape {student_shapes.get(s_name)}, the reference's {r_name} has "
                                   f"{reference_shapes[r_name]}")
            if k == "weight" and s_name is None and r_event["op"] in LAYER_OPS:
                raise MappingError(f"the weights of the layer matching {r_name} are not parameters of the model")
            mapping[r_name] = s_name

    for s, r in zip(s_blocks, r_blocks):
        pair(r.layer, s.layer, ("weight", "bias"))
        s_bn = [e for e in s.after if e["op"] == "batch_norm"]
        r_bn = [e for e in r.after if e["op"] == "batch_norm"]
        if len(s_bn) != len(r_bn):
            raise MappingError("BatchNorm layers differ from the reference")
        for sb, rb in zip(s_bn, r_bn):
            pair(rb, sb, ("weight", "bias", "running_mean", "running_var"))
    return mapping
