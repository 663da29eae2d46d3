"""The rubric: one row per item, and everything derived from the rows (selection, what to observe, which
judge an edition runs). Adding an item is one row here plus one judge function and its tests.

A judge is a function `judge(ctx) -> checks.verdict.Verdict`, named "module:function". Judges under
`grader.rubric.public` hold no answer (their oracle is the handout, torch, or a statistic) and run in both
editions; judges under `grader.rubric.answers` compare with the reference and run in the instructor's
edition only. An item whose judge holds answers names a `public_judge` for the student edition, which
checks the form of the answer only.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from grader.evidence.context import Needs
from grader.sandbox import protocol as P

PUBLIC_JUDGES = "grader.rubric.public."
ANSWER_JUDGES = "grader.rubric.answers."


@dataclass(frozen=True)
class Item:
    number: str  # "5.1.1"
    name: str  # "Net architecture"
    points: float
    manual: bool = False  # graded by hand; the report shows `answer_key`'s text
    bonus: bool = False  # beyond the handout's 100 points (Problem 5.4)
    answer_key: str = ""  # answers.toml key whose text a manual item shows ("problem2.reasons")
    probes: tuple[P.Task, ...] = ()  # probe tasks its judge reads
    variants: tuple[str, ...] = ()  # graded training runs its judge reads (protocol.VARIANTS)
    augment_images: bool = False  # needs test images to run augment on (CIFAR-10)
    judge: str = ""  # "module:function"; the instructor's edition runs it
    public_judge: str = ""  # the student edition's judge when `judge` holds answers ("" when it is public)
    student_check: str = ""  # what the student edition checks, in words (its README)

    @property
    def public(self) -> bool:
        """Whether the student edition runs the same judge as the instructor's, so its score means the same."""
        return self.judge.startswith(PUBLIC_JUDGES)

    @property
    def contract_names(self) -> tuple[str, ...]:
        """The submission's names whose code the item runs (its feedback says where a notebook defines them)."""
        tasks = self.probes + tuple(P.start(v) for v in self.variants)
        return tuple(dict.fromkeys(n for t in tasks for n in P.contract_names(t)))

    @property
    def needs_data(self) -> bool:
        return bool(self.variants) or self.augment_images

    def judge_for(self, edition: str) -> str:
        return self.judge if edition == "instructor" or self.public else self.public_judge


def _j(module: str, function: str) -> str:
    return f"grader.rubric.{module}:{function}"


ITEMS: tuple[Item, ...] = (
    Item("1.1", "BPTT output-layer gradients", 10, probes=(P.BPTT,), judge=_j("answers.p1_bptt", "output_layer"),
         public_judge=_j("public.p1_bptt", "output_layer_format"),
         student_check="form only: bptt_gradients runs and returns dL/dW_hz, dL/db_z of the parameters' shapes, finite"),
    Item("1.2", "BPTT recurrent gradients", 10, probes=(P.BPTT,), judge=_j("answers.p1_bptt", "recurrent"),
         public_judge=_j("public.p1_bptt", "recurrent_format"),
         student_check="form only: bptt_gradients runs and returns dL/dW_hh, dL/dW_xh, dL/db_h of the parameters' "
                       "shapes, finite"),
    Item("2.1", "G_t expression", 10, judge=_j("answers.p2_unrolled_state", "g3_expression"),
         public_judge=_j("public.p2_unrolled_state", "g3_parses"),
         student_check="form only: problem2.G_3 parses as an expression in F, h0, x1, x2, ..."),
    Item("2.2", "two reasons", 10, manual=True, answer_key="problem2.reasons"),
    Item("3.1", "synchronisation stages", 10, judge=_j("answers.p3_alexnet_sync", "sync_stages"),
         public_judge=_j("public.p3_alexnet_sync", "stages_are_stage_names"),
         student_check="form only: problem3.sync_stages is a list of stage names (conv1..conv5, fc6..fc8)"),
    Item("4.1", "parameter count", 5, judge=_j("answers.p4_fc_complexity", "parameter_count"),
         public_judge=_j("public.p4_fc_complexity", "parameter_count_parses"),
         student_check="form only: problem4.parameters parses as an expression in d, n, L, c"),
    Item("4.2", "SGD multiplications", 5, judge=_j("answers.p4_fc_complexity", "sgd_multiplications"),
         public_judge=_j("public.p4_fc_complexity", "sgd_multiplications_parse"),
         student_check="form only: problem4.sgd_multiplications parses as an expression in d, n, L, c"),
    Item("4.3", "path-enumeration complexity", 10, judge=_j("answers.p4_fc_complexity", "path_multiplications"),
         public_judge=_j("public.p4_fc_complexity", "path_multiplications_parse"),
         student_check="form only: problem4.path_multiplications parses as an expression in d, n, L, c"),
    Item("5.1.1", "Net architecture", 3, probes=(P.NAMES, P.arch("Net")), judge=_j("answers.p5_1_net", "net_architecture"),
         public_judge=_j("public.p5_1_net", "net_outputs_logits"),
         student_check="Net() builds and maps (N, 3, 32, 32) to finite (N, 10) logits; the instructor's run also "
                       "compares its function with the handout's network"),
    Item("5.1.2", "loss", 2, probes=(P.LOSS, P.PIPELINE), judge=_j("public.p5_1_net", "loss"),
         student_check="the instructor's check: loss_fn equals torch's cross-entropy, classic mistakes named"),
    Item("5.1.3", "Net trains (accuracy)", 3, variants=("net",), judge=_j("public.p5_1_net", "net_trains"),
         student_check="the graded training run completes without NaN (and meets the calibrated pass mark, when "
                       "installed)"),
    Item("5.1.4", "analysis", 2, manual=True, answer_key="problem5.analysis"),
    Item("5.2.1", "init_weights variance", 4, probes=(P.INIT,), judge=_j("public.p5_2_init", "init_weights_variance"),
         student_check="the instructor's check: Var[w] * fan_in / 2 = 1 per layer within a statistical bound"),
    Item("5.2.2", "Kaiming-initialised Net trains better", 3, probes=(P.INIT,), variants=("net", "kaiming"),
         judge=_j("public.p5_2_init", "kaiming_trains"),
         student_check="the graded training run with init_weights completes (and meets the calibrated pass mark, "
                       "when installed)"),
    Item("5.2.3", "proofs of Eq. 3 and 4", 3, manual=True, answer_key="problem5.proofs"),
    Item("5.3.1", "NetBN architecture", 5, probes=(P.arch("NetBN"),), judge=_j("answers.p5_3_batchnorm", "netbn_architecture"),
         public_judge=_j("public.p5_3_batchnorm", "netbn_outputs_with_batchnorm"),
         student_check="NetBN() builds, maps (N, 3, 32, 32) to finite (N, 10) logits in train and eval mode, with a "
                       "BatchNorm after each conv and hidden FC; the instructor's run also compares its function "
                       "with the handout's"),
    Item("5.3.2", "NetBN trains (accuracy)", 5, variants=("bn",), judge=_j("public.p5_3_batchnorm", "netbn_trains"),
         student_check="the graded training run completes without NaN (and meets the calibrated pass mark, when "
                       "installed)"),
    Item("5.4.1", "Adam", 4, bonus=True, probes=(P.optimizer("Adam"),), judge=_j("public.p5_4_optional", "adam"),
         student_check="the instructor's check: trajectories equal torch.optim.Adam's"),
    Item("5.4.2", "RMSProp", 3, bonus=True, probes=(P.optimizer("RMSProp"),), judge=_j("public.p5_4_optional", "rmsprop"),
         student_check="the instructor's check: trajectories equal torch.optim.RMSprop's"),
    Item("5.4.3", "augmentation", 3, bonus=True, probes=(P.AUGMENT,), augment_images=True,
         judge=_j("answers.p5_4_optional", "augmentation"), public_judge=_j("public.p5_4_optional", "augmentation"),
         student_check="the augmentation criteria but the accuracy drop (which needs the instructor's reference "
                       "classifier)"),
)


class SelectionError(ValueError):
    """`--only` names no item, or an unknown one."""


class Rubric:
    """The items of one rubric and what is derived from them."""

    def __init__(self, items: tuple[Item, ...]) -> None:
        self.items = items
        self.by_number = {i.number: i for i in items}
        if len(self.by_number) != len(items):
            raise ValueError("two rubric items share a number")

    def __iter__(self):
        return iter(self.items)

    def select(self, only: str | None) -> tuple[str, ...]:
        """Item numbers chosen by `--only` ("5.1,1.2": prefixes select whole groups); all when None."""
        if only is None:
            return tuple(self.by_number)
        chosen: list[str] = []
        for part in (p.strip() for p in only.split(",")):
            if not part:
                continue
            hits = [n for n in self.by_number if n == part or n.startswith(part + ".")]
            if not hits:
                raise SelectionError(f"--only: {part!r} names no rubric item (items are {', '.join(self.by_number)})")
            chosen += [h for h in hits if h not in chosen]
        if not chosen:
            raise SelectionError("--only: no rubric item given (for example --only 5.1,1.2)")
        return tuple(n for n in self.by_number if n in chosen)

    def needs(self, selected: tuple[str, ...]) -> Needs:
        items = [self.by_number[n] for n in selected if not self.by_number[n].manual]
        probes = tuple(dict.fromkeys(t for i in items for t in i.probes))
        wanted = {v for i in items for v in i.variants}
        return Needs(probes=probes, variants=tuple(v for v in P.VARIANTS if v in wanted),
                     data=any(i.needs_data for i in items), augment_images=any(i.augment_images for i in items))

    def automatic(self, selected: tuple[str, ...]) -> list[Item]:
        return [self.by_number[n] for n in selected if not self.by_number[n].manual]


def resolve(name: str) -> Callable:
    """The function a judge name ("package.module:function") names."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


RUBRIC = Rubric(ITEMS)
