"""Everything the rubric tests of one grading run share: the configuration, the data, the calibration,
and the observations of the submission, each computed once and only when a selected item needs it.

The parent never imports student code: observations come from children through `SubmissionRun`.
Test labels stay here: children get unlabelled (and perturbed) test images only.
"""
from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grader.calibration import Calibration
from grader.child_tasks import START_PASSES
from grader.data import Cifar10
from grader.engine import Protocol, predict, train_started
from grader.runner import SubmissionRun, TaskOutcome
from grader.sandbox import Isolation, Limits
from grader.training_verdict import FRESH_LIMIT

MAX_ANSWER_CHARS = 20_000  # of one free-text answer kept for the report
PROBE_TASKS = {  # rubric item -> probe tasks it needs
    "5.1.1": ["names", "arch:Net"], "5.1.2": ["loss"], "5.2.1": ["init"], "5.3.1": ["arch:NetBN"],
    "1.1": ["bptt"], "1.2": ["bptt"], "5.4.1": ["optimizer:Adam"], "5.4.2": ["optimizer:RMSProp"], "5.4.3": ["augment"],
}
TRAIN_VARIANTS = {"5.1.3": ["net"], "5.2.2": ["net", "kaiming"], "5.3.2": ["bn"]}


@dataclass(frozen=True)
class GradeConfig:
    submission: Path
    selected: tuple[str, ...]  # rubric numbers to grade
    seed: int = 0  # seeds the inputs, the training runs and the test-image perturbation
    protocol: Protocol = field(default_factory=Protocol)
    limits: Limits = field(default_factory=Limits)
    threads: int = 2  # torch threads in each child
    edition: str = "instructor"


@dataclass
class RunObservation:
    """One training run of the submission, as the parent measured it."""

    variant: str
    ok: bool
    error: str = ""
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)  # after each epoch, 0..1
    initial_accuracy: float | None = None  # before training (fresh weights), when evaluated in the parent
    verified: bool = False  # trained and evaluated by the grader itself, not reported by the student's code
    first_conv: np.ndarray | None = None  # (C, 3, k, k) final weights of the first conv, for the report
    images_per_s: float = 0.0


def perturb_test_images(x: np.ndarray, seed: int) -> np.ndarray:
    """Mirror a random half of the images and dither every pixel by -1/0/+1 level, seeded per run: an
    answer looked up by exact test image finds nothing, while a classifier's accuracy does not move
    (CIFAR-10's classes are mirror-symmetric). x (N, 3, 32, 32) uint8."""
    rng = np.random.default_rng(seed + 7919)
    flip = rng.random(x.shape[0]) < 0.5  # (N,)
    out = x.copy()
    out[flip] = out[flip][..., ::-1]
    noise = rng.integers(-1, 2, size=x.shape, dtype=np.int16)
    return np.clip(out.astype(np.int16) + noise, 0, 255).astype(np.uint8)


class GradeContext:
    def __init__(self, config: GradeConfig, dataset: Cifar10 | None, calibration: Calibration, iso: Isolation,
                 hidden: list[Path]) -> None:
        self.config, self.dataset, self.calibration, self.iso = config, dataset, calibration, iso
        self.run = SubmissionRun(config.submission, config.limits, iso, hidden, threads=config.threads)
        self.rng = np.random.default_rng(config.seed)
        self._probe: dict[str, TaskOutcome] | None = None
        self._training: dict[str, RunObservation] | None = None
        self.unmapped: dict[str, str] = {}  # variant -> why the grader could not train it in its reference network
        self._answers: tuple[dict, str] | None = None
        self.inputs: dict[str, np.ndarray] = {}
        self.timings: dict[str, float] = {}

    # ----- probe: quick checks of the submission's functions ---------------------------------------
    def probe(self) -> dict[str, TaskOutcome]:
        if self._probe is None:
            tasks = sorted({t for n in self.config.selected for t in PROBE_TASKS.get(n, [])},
                           key=lambda t: list(PROBE_TASKS).index(next(k for k in PROBE_TASKS if t in PROBE_TASKS[k])))
            from grader.probe_inputs import make_probe_inputs

            self.inputs, request = make_probe_inputs(self.rng, self.test_images_for_augment())
            self.run.put_inputs(self.inputs)
            self._probe = self.run.run("probe", tasks, request, timeout_s=self.config.limits.wall_s) if tasks else {}
        return self._probe

    def test_images_for_augment(self) -> np.ndarray | None:
        if self.dataset is None or "5.4.3" not in self.config.selected:
            return None
        return perturb_test_images(self.dataset.test_x[:512], self.config.seed)

    # ----- training runs ---------------------------------------------------------------------------
    def training(self) -> dict[str, RunObservation]:
        if self._training is None:
            variants = sorted({v for n in self.config.selected for v in TRAIN_VARIANTS.get(n, [])},
                              key=["net", "kaiming", "bn"].index)
            self._training = self._train(variants) if variants else {}
        return self._training

    def _train(self, variants: list[str]) -> dict[str, RunObservation]:
        """Every graded run, trained where its result can be trusted. The instructor's edition has the student's
        code build and initialise each network in the sandbox, checks that the reference network with those
        starting tensors computes the same function, and then trains and evaluates the reference network
        here: nothing the submission writes can stand in for the training. Runs whose network does not map
        onto the reference (and every run in the student's edition, which has no reference) are trained and
        evaluated by the student's own code in the sandbox, and marked unverified."""
        assert self.dataset is not None
        observations: dict[str, RunObservation] = {}
        test_x = perturb_test_images(self.dataset.test_x, self.config.seed)
        test_y = torch.from_numpy(self.dataset.test_y)
        in_sandbox = list(variants)
        if self.config.edition == "instructor":
            self.probe()  # puts the probe inputs (arch_x1, arch_x2) where a child can read them
            request = {"seed": self.config.seed, "task_timeout_s": self.config.limits.wall_s}
            starts = self.run.run("start", [f"start:{v}" for v in variants], request, timeout_s=self.config.limits.wall_s)
            in_sandbox = []
            for v in variants:
                o = starts[f"start:{v}"]
                if not o.ok:
                    observations[v] = RunObservation(variant=v, ok=False, error=f"building the starting network failed: {o.error}")
                    continue
                model, why = self._reference_start(v, o)
                if model is None:
                    in_sandbox.append(v)
                    self.unmapped[v] = why
                    continue
                observations[v] = self._train_here(v, model, test_x, test_y)
        if in_sandbox:
            observations.update(self._train_in_sandbox(in_sandbox, test_x, test_y))
        return {v: observations[v] for v in variants}

    def _reference_start(self, variant: str, o: TaskOutcome) -> tuple[torch.nn.Module | None, str]:
        """The reference network holding the student's starting tensors, or (None, why) when it does not
        compute the same function as the student's network on the probe inputs."""
        from checks.architecture import MappingError
        from grader.reference import OUTPUT_RTOL, load_into_reference, output_difference, reference_model

        name = "NetBN" if variant == "bn" else "Net"
        model = reference_model(name)
        try:
            load_into_reference(model, name, o.data.get("events", []), o.data.get("tensors", {}).get("e0", {}), o.out_dir)
            outputs = o.data.get("outputs", {})
            worst = output_difference(model, [(key.removesuffix("_after"), self.inputs[x],
                                               o.array(str(outputs.get(key)), shape=(8, 10), dtype="float32"))
                                              for key, x in START_PASSES])
        except (MappingError, ValueError, KeyError, TypeError) as e:
            return None, f"its tensors do not map onto the reference network ({e})"
        if not worst <= OUTPUT_RTOL:
            return None, f"it computes a different function from the reference network (relative difference {worst:.2g})"
        return model, ""

    def _train_here(self, variant: str, model: torch.nn.Module, test_x: np.ndarray, test_y: torch.Tensor) -> RunObservation:
        """Train the reference network from the student's starting tensors with the grader's engine, and
        evaluate it on the perturbed test images after every epoch (and before the first)."""
        obs = RunObservation(variant=variant, ok=True, verified=True)
        start = time.perf_counter()
        x = torch.from_numpy(test_x)
        obs.initial_accuracy = _accuracy(predict(model, x), test_y)
        if obs.initial_accuracy > FRESH_LIMIT:
            return obs  # stored weights, not an initialisation: judge_training says so; no time spent training
        before = torch.get_num_threads()
        torch.set_num_threads(self.config.threads)  # as many as a child would use (a batch worker sets its share)
        try:
            result = train_started(model, torch.from_numpy(self.dataset.train_x), torch.from_numpy(self.dataset.train_y),
                                   self.config.protocol, self.config.seed)
        finally:
            torch.set_num_threads(before)
        obs.steps, obs.losses, obs.images_per_s = result.steps, result.losses, result.images_per_s
        if result.diverged_at is not None:
            obs.ok, obs.error = False, f"the training loss became NaN or infinite at step {result.diverged_at}"
            return obs
        model.cpu()
        for state in result.epoch_states:
            model.load_state_dict(state)
            obs.epoch_accuracy.append(_accuracy(predict(model, x), test_y))
        obs.first_conv = model.conv1.weight.detach().numpy().copy()
        self.timings[f"training {variant} (grader)"] = time.perf_counter() - start
        return obs

    def _train_in_sandbox(self, variants: list[str], test_x: np.ndarray, test_y: torch.Tensor) -> dict[str, RunObservation]:
        """The student's own code trains and predicts in children: its results are whatever the child
        reports, so they are marked unverified (the instructor's edition sends them for review)."""
        self.run.put_inputs({"train_x": self.dataset.train_x, "train_y": self.dataset.train_y})
        proto = self.config.protocol
        request = {"protocol": proto.__dict__, "seed": self.config.seed, "task_timeout_s": self.config.limits.wall_s}
        outcomes = self.run.run("train", [f"train:{v}" for v in variants], request,
                                timeout_s=self.config.limits.wall_s * len(variants))
        observations = {}
        trained = []
        for v in variants:
            o = outcomes[f"train:{v}"]
            obs = RunObservation(variant=v, ok=o.ok, error=o.error)
            observations[v] = obs
            if not o.ok:
                continue
            obs.steps = [int(s) for s in o.data.get("steps", [])][:100_000]
            obs.losses = [float(x) for x in o.data.get("losses", [])][: len(obs.steps)]
            obs.images_per_s = float(o.data.get("images_per_s", 0.0))
            if o.data.get("diverged_at") is not None:
                obs.ok, obs.error = False, f"the training loss became NaN or infinite at step {o.data['diverged_at']}"
                continue
            trained.append(v)
        if trained:
            self.run.put_inputs({"test_x": test_x})
            preds = self.run.run("predict", [f"predict:{v}" for v in trained], {"epochs": proto.epochs})
            for v in trained:
                p, obs = preds[f"predict:{v}"], observations[v]
                if not p.ok:
                    obs.ok, obs.error = False, f"evaluating the trained network failed: {p.error}"
                    continue
                try:
                    obs.epoch_accuracy = [_accuracy(torch.from_numpy(p.array(f"pred_{v}_e{e}", shape=(len(test_y),), dtype="int64")), test_y)
                                          for e in range(1, proto.epochs + 1)]
                except ValueError as e:
                    obs.ok, obs.error = False, f"the predictions are not usable: {e}"
        return observations

    def submission_source(self) -> str:
        """The graded source text (for static checks; never executed here)."""
        return _submission_source(self.run)

    def augmentation_accuracy_drop(self, augmented: np.ndarray) -> float | None:
        """Accuracy of the calibrated reference classifier on the original minus on the augmented images."""
        model = self.calibration.reference_classifier()
        if model is None or self.dataset is None:
            return None
        original = torch.from_numpy(self.inputs["aug_images"])
        labels = torch.from_numpy(self.dataset.test_y[: original.shape[0]])
        with torch.inference_mode():
            before = (model(original).argmax(1) == labels).float().mean()
            after = (model(torch.from_numpy(augmented)).argmax(1) == labels).float().mean()
        return float(before - after)

    # ----- answers.toml ----------------------------------------------------------------------------
    def answers(self) -> tuple[dict, str]:
        """(parsed answers, problem): problem is "" when the file parsed."""
        if self._answers is None:
            path = self.config.submission / "answers.toml"
            if path.is_symlink():  # a link could point at the reference answers, which this process can read
                self._answers = ({}, "answers.toml is a symbolic link; submit the file itself")
            elif not path.is_file():
                self._answers = ({}, "no answers.toml in the submission")
            else:
                try:
                    raw = path.read_bytes()[: 1 << 20]
                    self._answers = (tomllib.loads(raw.decode("utf-8")), "")
                except UnicodeDecodeError:
                    self._answers = ({}, "answers.toml is not UTF-8 text")
                except tomllib.TOMLDecodeError as e:
                    self._answers = ({}, f"answers.toml is not valid TOML: {e}")
        return self._answers

    def answer(self, dotted: str) -> tuple[object | None, str]:
        """(value, problem) for a key like "problem4.parameters"."""
        answers, problem = self.answers()
        if problem:
            return None, problem
        node: object = answers
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None, f"answers.toml has no [{dotted.rsplit('.', 1)[0]}] {dotted.rsplit('.', 1)[1]}"
            node = node[part]
        return node, ""

    def close(self) -> None:
        self.run.close()


def _accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of (N,) predicted classes equal to the (N,) labels."""
    return float((predictions == labels).float().mean())


def _submission_source(run: SubmissionRun) -> str:
    if not run.entry.file:
        return ""
    try:
        return (run.scratch / "submission" / run.entry.file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
