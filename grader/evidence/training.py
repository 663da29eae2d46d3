"""The graded training runs of a submission (5.1.3, 5.2.2, 5.3.2), each trained where its result can be
trusted.

The student's code builds and initialises each network in the sandbox ("start" phase), also under further
construction seeds, so that the judge can tell a fresh random initialisation from stored weights
(checks.initialisers). The instructor's edition checks that the reference network holding those starting
tensors computes the same function and receives the same loss gradients (grader.reference.gradients), and
then trains and evaluates the reference network in the grading process with the calibration's engine and
seed: nothing the submission writes can stand in for the training. Runs whose network does not map onto
the reference (and every run in the student's edition, which has no reference) are trained and evaluated by
the student's own code in the sandbox ("train" and "predict" phases), and marked unverified.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable

import numpy as np
import torch

from checks.initialisers import LayerDraws
from grader.data import Cifar10, perturb_test_images
from grader.engine import Protocol, predict, train_started
from grader.evidence.budget import START_CPU_S, measure_cpu_per_image, training_budget
from grader.evidence.cache import CachedRun, TrainingCache, data_digest, run_key
from grader.evidence.draws import read_layer_draws
from grader.evidence.probes import ProbeInputs
from grader.options import GradeOptions
from grader.progress import PHASE, GradeEvent, Listener, ignore
from grader.sandbox import protocol as P
from grader.sandbox.runner import SubmissionRun, TaskOutcome

FRESH_LIMIT = 0.20  # an untrained network above this test accuracy was not freshly initialised
FRESH_DRAWS = 3  # starting networks built with further construction seeds, beside the run's own
FRESH_SEED_STEP = 100_003  # their seeds: the run's + k * this (k = 1..FRESH_DRAWS), apart from the probes' 1000 + k


@dataclass
class RunObservation:
    """One training run of the submission, as the grading process measured it."""

    variant: str
    ok: bool
    error: str = ""
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)  # after each epoch, 0..1
    initial_accuracy: float | None = None  # before training (fresh weights), when evaluated in the parent
    verified: bool = False  # trained and evaluated by the grader itself, not reported by the student's code
    unmapped: str = ""  # why the grader could not train it in its reference network ("" when it did, or tried not)
    first_conv: np.ndarray | None = None  # (C, 3, k, k) final weights of the first conv, for the report
    start_layers: list[LayerDraws] | None = None  # conv/linear layers of the starting networks, one draw per seed
    start_seeds: list[int] = field(default_factory=list)  # their construction seeds, the run's first
    start_error: str = ""  # why start_layers could not be read
    images_per_s: float = 0.0
    seconds: float = 0.0  # wall time of the training
    grader_fault: bool = False  # not ok because the grader failed to observe it (`error` says how)
    limit: str = ""  # the time limit of a run of the student's own code (grader.evidence.budget)
    reused: bool = False  # a trusted run from identical starting tensors was already trained: its result is this one


@dataclass(frozen=True)
class TrainingSetup:
    """What the graded runs of one grade are made of."""

    run: SubmissionRun  # the submission's sandboxed children
    options: GradeOptions
    protocol: Protocol
    dataset: Cifar10
    inputs: ProbeInputs  # ARCH_X1, ARCH_X2: the inputs the starting networks are compared on (already in in/)
    listener: Listener = ignore  # hears which run trains where
    cache: TrainingCache | None = None  # trusted runs already trained (grader.evidence.cache); None: train every run
    starts: dict = field(default_factory=dict)  # start task -> its outcome, when the probe child built them already


def train_variants(ctx: TrainingSetup, variants: list[str]) -> dict[str, RunObservation]:
    """Every graded run of `variants`, trained where its result can be trusted (see the module docstring)."""
    observations: dict[str, RunObservation] = {}
    test_x = perturb_test_images(ctx.dataset.test_x, ctx.options.seed)
    test_y = torch.from_numpy(ctx.dataset.test_y)
    data = lru_cache(maxsize=1)(lambda: data_digest(ctx.dataset.train_x, ctx.dataset.train_y, test_x, ctx.dataset.test_y))
    in_sandbox = []
    seeds = fresh_seeds(ctx.options.seed)
    starts = dict(ctx.starts)
    missing = [P.start(v) for v in variants if P.start(v) not in starts]
    if missing:
        timeout = ctx.options.limits.wall_s
        request = P.Request(seed=ctx.options.seed, fresh_seeds=seeds[1:], task_timeout_s=timeout)
        ctx.listener(GradeEvent(PHASE, "building the starting networks in a sandbox"))
        starts |= ctx.run.run(missing, request, timeout_s=timeout)
    for v in variants:
        o = starts[P.start(v)]
        if not o.ok:
            observations[v] = RunObservation(v, ok=False, error=f"building the starting network failed: {o.error}",
                                             grader_fault=o.grader_fault)
            continue
        start = _start_draws(v, o, seeds)
        model, why = _reference_start(ctx, v, o) if ctx.options.edition == "instructor" else (None, "")
        if model is None:
            in_sandbox.append(v)
            observations[v] = RunObservation(v, ok=False, unmapped=why, **start)
            continue
        ctx.listener(GradeEvent(PHASE, f"training {P.VARIANTS[v].label}, {ctx.protocol.epochs} epochs"))
        observations[v] = replace(_train_here(ctx, v, model, test_x, test_y, data), **start)
    if in_sandbox:
        trained = _train_in_sandbox(ctx, in_sandbox, test_x, test_y)
        for v, obs in trained.items():
            first = observations[v]
            observations[v] = replace(obs, unmapped=first.unmapped, start_layers=first.start_layers,
                                      start_seeds=first.start_seeds, start_error=first.start_error)
    return {v: observations[v] for v in variants}


def fresh_seeds(seed: int) -> list[int]:
    """The construction seeds of the starting networks whose layers the judge compares: the run's first."""
    return [seed + k * FRESH_SEED_STEP for k in range(FRESH_DRAWS + 1)]


def _start_draws(variant: str, o: TaskOutcome, seeds: list[int]) -> dict:
    """RunObservation's start_* fields from a start task's outcome."""
    try:
        layers = read_layer_draws(o, len(seeds), lambda i, d: P.start_weight(variant, i, d),
                                  lambda i, d: P.start_bias(variant, i, d))
    except ValueError as e:
        return {"start_layers": None, "start_seeds": seeds, "start_error": str(e)}
    return {"start_layers": layers, "start_seeds": seeds, "start_error": ""}


def _reference_start(ctx: TrainingSetup, variant: str, o: TaskOutcome) -> tuple[torch.nn.Module | None, str]:
    """The reference network holding the student's starting tensors, or (None, why) when it does not
    compute the same function as the student's network on the probe inputs, or does not receive the same
    loss gradients."""
    # Imported here, not at the top: the reference exists in the instructor's edition only (the student
    # edition ships no solutions/), and only this path of the instructor's edition needs it.
    from checks.architecture import MappingError
    from grader.reference.gradients import compare_gradients
    from grader.reference.networks import OUTPUT_RTOL, load_into_reference, output_difference, reference_model

    network = P.VARIANTS[variant].network
    model = reference_model(network, o.data.get("events", []))  # BatchNorm before or after the ReLU, as the student's
    inputs = ctx.inputs
    try:
        mapping = load_into_reference(model, network, o.data.get("events", []), o.data.get("tensors", []), variant,
                                      o.out_dir)
        # up to log-softmax: a network returning log-probabilities trains as its logits do under cross-entropy
        worst = output_difference(model, [(pass_name.removesuffix("_after"), inputs[x],
                                           o.array(P.start_output(variant, pass_name), shape=(8, 10), dtype="float32"))
                                          for pass_name, x in P.START_PASSES], log_probabilities=True)
    except (MappingError, ValueError, KeyError, TypeError) as e:
        return None, f"its tensors do not map onto the reference network ({e})"
    if not worst <= OUTPUT_RTOL:
        return None, f"it computes a different function from the reference network (relative difference {worst:.2g})"
    gradients = compare_gradients(model, network, mapping, o, variant, inputs[P.GRAD_X], inputs[P.GRAD_Y])
    if not gradients.ok:
        return None, f"it computes the reference's function, but its gradients differ: {gradients.describe()}"
    return model, ""


def _train_here(ctx: TrainingSetup, variant: str, model: torch.nn.Module, test_x: np.ndarray,
                test_y: torch.Tensor, data: Callable[[], str]) -> RunObservation:
    """Train the reference network from the student's starting tensors with the grader's engine, and
    evaluate it on the perturbed test images after every epoch (and before the first); with a cache, a run
    from byte-identical starting tensors (and everything else equal: grader.evidence.cache) is reused.
    `data`: the digest of the training and test data, computed once per grade when first asked for."""
    start = time.perf_counter()
    if ctx.cache is None:
        run, reused = _train_reference(ctx, model, test_x, test_y), False
    else:
        key = run_key(model, ctx.protocol, ctx.options.seed, ctx.options.threads, data())
        run, reused = ctx.cache.run(key, lambda: _train_reference(ctx, model, test_x, test_y))
    obs = RunObservation(variant=variant, ok=not run.error, error=run.error, verified=True, reused=reused,
                         initial_accuracy=run.initial_accuracy, steps=list(run.steps), losses=list(run.losses),
                         epoch_accuracy=list(run.epoch_accuracy), images_per_s=run.images_per_s,
                         first_conv=run.first_conv)
    obs.seconds = time.perf_counter() - start
    return obs


def _train_reference(ctx: TrainingSetup, model: torch.nn.Module, test_x: np.ndarray,
                     test_y: torch.Tensor) -> CachedRun:
    """The run itself, in this process: what a cache entry holds."""
    start = time.perf_counter()
    x = torch.from_numpy(test_x)
    initial = accuracy(predict(model, x), test_y)
    if initial > FRESH_LIMIT:  # stored weights, not an initialisation: the training judge says so; no time spent
        return CachedRun(initial, [], [], [], 0.0, time.perf_counter() - start, "", None)
    before = torch.get_num_threads()
    torch.set_num_threads(ctx.options.threads)  # as many as a child would use (a batch worker sets its share)
    try:
        result = train_started(model, torch.from_numpy(ctx.dataset.train_x), torch.from_numpy(ctx.dataset.train_y),
                               ctx.protocol, ctx.options.seed)
    finally:
        torch.set_num_threads(before)
    if result.diverged_at is not None:
        return CachedRun(initial, result.steps, result.losses, [], result.images_per_s, time.perf_counter() - start,
                         f"the training loss became NaN or infinite at step {result.diverged_at}", None)
    model.cpu()
    epoch_accuracy = []
    for state in result.epoch_states:
        model.load_state_dict(state)
        epoch_accuracy.append(accuracy(predict(model, x), test_y))
    return CachedRun(initial, result.steps, result.losses, epoch_accuracy, result.images_per_s,
                     time.perf_counter() - start, "", model.conv1.weight.detach().numpy().copy())


def _train_in_sandbox(ctx: TrainingSetup, variants: list[str], test_x: np.ndarray,
                      test_y: torch.Tensor) -> dict[str, RunObservation]:
    """The student's own code trains and predicts in children: its results are whatever the child
    reports, so they are marked unverified (the instructor's edition sends them for review)."""
    ctx.run.put_inputs({P.TRAIN_X: ctx.dataset.train_x, P.TRAIN_Y: ctx.dataset.train_y})
    proto = ctx.protocol
    budget = training_budget(proto, measure_cpu_per_image(proto, ctx.options.threads))  # CPU time, not wall time
    # The child's task alarm counts CPU time: task_timeout_s seconds on each of its threads (grader.sandbox.child)
    request = P.Request(protocol=proto.__dict__, seed=ctx.options.seed, task_timeout_s=budget.cpu_s / ctx.options.threads)
    limits = replace(ctx.options.limits, wall_s=budget.wall_s * len(variants) + START_CPU_S,
                     cpu_s=int(budget.cpu_s * len(variants) + START_CPU_S))
    labels = ", ".join(P.VARIANTS[v].label for v in variants)
    ctx.listener(GradeEvent(PHASE, f"training {labels} with the submission's own code in a sandbox"))
    outcomes = ctx.run.run([P.train(v) for v in variants], request, limits=limits)
    observations = {}
    trained = []
    for v in variants:
        o = outcomes[P.train(v)]
        obs = RunObservation(variant=v, ok=o.ok, error=o.error, seconds=o.seconds, grader_fault=o.grader_fault,
                             limit=budget.describe())
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
        ctx.run.put_inputs({P.TEST_X: test_x})
        weights = [outcomes[P.train(v)].out_dir / P.epoch_state(v, e) for v in trained for e in range(1, proto.epochs + 1)]
        preds = ctx.run.run([P.predict(v) for v in trained], P.Request(epochs=proto.epochs),
                            carry=[w for w in weights if w.is_file()])  # each child's work/ is fresh
        for v in trained:
            p, obs = preds[P.predict(v)], observations[v]
            if not p.ok:
                obs.ok, obs.error = False, f"evaluating the trained network failed: {p.error}"
                obs.grader_fault = p.grader_fault
                continue
            try:
                obs.epoch_accuracy = [accuracy(torch.from_numpy(p.array(P.predictions(v, e), shape=(len(test_y),),
                                                                        dtype="int64")), test_y)
                                      for e in range(1, proto.epochs + 1)]
            except ValueError as e:
                obs.ok, obs.error = False, f"the predictions are not usable: {e}"
    return observations


def accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of (N,) predicted classes equal to the (N,) labels."""
    return float((predictions == labels).float().mean())
