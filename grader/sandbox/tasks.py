"""The tasks a child runs on student code, by phase. Each takes the child Context and its `Task`, puts
arrays with `ctx.put` under the names of `grader.sandbox.protocol`, and returns a small JSON-safe dict.
Inputs come from the parent through `ctx.array`. Judging happens in the parent: these functions only
observe what the student's code does.
"""
from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F

from grader.engine import Protocol, predict, start_variant, train_variant
from grader.sandbox import protocol as P
from grader.sandbox.errors import describe_exception
from grader.sandbox.trace import trace_forward
from grader.sandbox.watch import (DifferentiationWatch, DropoutDisabled, LibraryCallWatch,
                                  ParametersChangedOutsideStep, ParameterWatch, TransformsWatch)


def names(ctx, task):
    found = {}
    for name in P.CONTRACT:
        obj = ctx.find(name)
        found[name] = ("class" if inspect.isclass(obj) else "callable" if callable(obj) else
                       "missing" if obj is None else type(obj).__name__)
    return {"names": found}


def _export_state(ctx, owner: str, model: torch.nn.Module, events: list[dict]) -> list[list]:
    """Save every tensor the forward pass used as P.state_tensor(owner, i); returns [[name, shape], ...] in
    the order of i."""
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    used = sorted({e[k] for e in events for k in ("weight", "bias", "running_mean", "running_var") if e.get(k)})
    for i, name in enumerate(used):
        ctx.put(P.state_tensor(owner, i), tensors[name].detach().float())
    return [[name, list(tensors[name].shape)] for name in used]


def _export_gradients(ctx, owner: str, model: torch.nn.Module, tensors: list[list]) -> dict:
    """The gradients of the cross-entropy loss against the parent's targets (GRAD_Y) on each of its batches
    (GRAD_X), in train mode with dropout off (as the grader trains), with respect to every tensor exported
    as P.state_tensor(owner, i) (`tensors`: [[name, shape], ...]): P.state_gradient(owner, i), (B, *shape),
    for each tensor that receives one. Returns {"gradients": [status of tensor i], "stochastic": whether
    two train-mode passes on the same batch differ (dropout the grader could not switch off, e.g. a
    `dropout` imported from torch.nn.functional before it patched it)}, a status being "ok", "none" (a
    parameter that receives no gradient), "frozen" (requires_grad is off) or "buffer", and
    "gradient_error" when backpropagation itself raised (its forward may still be fine). Run last: the
    train-mode passes move BatchNorm's running statistics."""
    params = dict(model.named_parameters())
    names = [str(t[0]) for t in tensors]
    status = ["buffer" if n not in params else "ok" if params[n].requires_grad else "frozen" for n in names]
    live = [i for i, s in enumerate(status) if s == "ok"]
    x = torch.from_numpy(ctx.array(P.GRAD_X))  # (B, N, 3, 32, 32)
    y = torch.from_numpy(ctx.array(P.GRAD_Y))  # (B, N)
    grads: dict[int, list] = {i: [] for i in live}
    stochastic = False
    try:
        with DropoutDisabled():
            model.train()
            for b, (xb, yb) in enumerate(zip(x, y)):
                out = model(xb.clone())
                if not isinstance(out, torch.Tensor):
                    raise TypeError(f"forward returned {type(out).__name__}, expected a tensor of logits")
                if b == 0:
                    with torch.no_grad():
                        again = model(xb.clone())
                    stochastic = not (isinstance(again, torch.Tensor) and torch.equal(again, out.detach()))
                loss = F.cross_entropy(out, yb)
                found = (torch.autograd.grad(loss, [params[names[i]] for i in live], allow_unused=True)
                         if loss.requires_grad and live else [None] * len(live))
                for i, g in zip(live, found):
                    grads[i].append(g)
    except Exception as e:  # noqa: BLE001  the forward was judged already; a failing backward is its own finding
        return {"gradients": ["none" if s == "ok" else s for s in status], "gradient_error": describe_exception(e),
                "stochastic": stochastic}
    for i in live:
        if all(g is None for g in grads[i]):
            status[i] = "none"
            continue
        param = params[names[i]]
        ctx.put(P.state_gradient(owner, i), torch.stack([torch.zeros_like(param) if g is None else g.detach()
                                                         for g in grads[i]]).float())
    return {"gradients": status, "stochastic": stochastic}


def _export_layers(ctx, model: torch.nn.Module, weight_name, bias_name) -> list[dict]:
    """Save the weight and bias of every conv and linear layer of `model`, in forward order (an eval-mode
    trace on zeros), as weight_name(i) and bias_name(i), float64; returns [{"op", "weight", "bias"}, ...]."""
    with torch.no_grad():
        events, _ = trace_forward(model.eval(), torch.zeros(2, 3, 32, 32))
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    layer_events = [e for e in events if e["op"] in ("conv", "linear")]
    for i, e in enumerate(layer_events):
        ctx.put(weight_name(i), tensors[e["weight"]].detach().double())
        if e["bias"]:
            ctx.put(bias_name(i), tensors[e["bias"]].detach().double())
    return [{"op": e["op"], "weight": e["weight"], "bias": e["bias"]} for e in layer_events]


def _build(ctx, cls_name: str) -> torch.nn.Module:
    model = ctx.get(cls_name)()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{cls_name}() returned {type(model).__name__}, not an nn.Module")
    return model


class ForwardDependsOnObservation(Exception):
    """forward() computes one thing while the grader records it and another when it does not."""


OBSERVED_RTOL = 1e-5  # the same operations with and without a recorder give the same floats


def _check_unobserved(cls_name: str, model: torch.nn.Module, x: torch.Tensor, y_traced) -> None:
    """Run the eval-mode forward again with no recorder active, no `torch.no_grad`, and no grader.sandbox.trace frame
    on the stack, from the same random state; a network that looks for the recorder (an active
    TorchDispatchMode, torch._C's dispatch stack, a `trace` frame) to show the handout's network only then
    gives a different output here, and the task fails instead of grading what was shown."""
    torch.manual_seed(1)
    y_plain = model(x)
    if not isinstance(y_plain, torch.Tensor) or tuple(y_plain.shape) != tuple(y_traced.shape):
        raise ForwardDependsOnObservation(f"{cls_name}() returns something else when its operations are not "
                                          f"recorded: forward must not depend on being observed")
    a, b = y_plain.detach().double(), y_traced.detach().double()
    worst = float((a - b).abs().max() / (b.abs().max() + 1e-6)) if a.numel() else 0.0
    if not worst <= OBSERVED_RTOL:
        raise ForwardDependsOnObservation(f"{cls_name}() computes a different function when the grader does not "
                                          f"record its operations (relative difference {worst:.2g}): forward must "
                                          f"not depend on being observed")


def architecture(ctx, task):
    """Trace Net (eval mode) or NetBN (a train-mode pass, then eval mode) on the parent's inputs."""
    cls_name = task.arg
    torch.manual_seed(0)
    model = _build(ctx, cls_name)
    x1, x2 = torch.from_numpy(ctx.array(P.ARCH_X1)), torch.from_numpy(ctx.array(P.ARCH_X2))
    out = {}
    with torch.no_grad():
        if cls_name == "NetBN":
            model.train()
            events_train, y_train = trace_forward(model, x1)
            ctx.put(P.network_output(cls_name, "train"), y_train.float())
            out["events_train"] = events_train
        model.eval()
        torch.manual_seed(1)
        events, y = trace_forward(model, x2)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{cls_name}() returned {type(y).__name__}, expected a tensor of logits")
    _check_unobserved(cls_name, model, x2, y)
    ctx.put(P.network_output(cls_name, "eval"), y.float())
    out["events"] = events
    out["tensors"] = _export_state(ctx, cls_name, model, events + out.get("events_train", []))
    out.update(_export_gradients(ctx, cls_name, model, out["tensors"]))
    return out


def loss(ctx, task):
    fn = ctx.get("loss_fn")
    logits, targets = torch.from_numpy(ctx.array(P.LOSS_LOGITS)), torch.from_numpy(ctx.array(P.LOSS_TARGETS))  # (R, N, 10), (R, N)
    values = []
    for lg, tg in zip(logits, targets):
        v = fn(lg.clone(), tg.clone())
        if not isinstance(v, torch.Tensor) or v.numel() != 1:
            raise TypeError(f"loss_fn returned {type(v).__name__}{'' if not isinstance(v, torch.Tensor) else ' of shape ' + str(tuple(v.shape))}, expected a scalar tensor")
        values.append(float(v.detach()))
    ctx.put(P.LOSS_VALUES, np.asarray(values, dtype=np.float64))
    reference = [float(torch.nn.functional.cross_entropy(lg, tg)) for lg, tg in zip(logits, targets)]
    # Whether the pipeline task has anything to add: only an observation to skip work, never a verdict (the
    # parent judges loss_fn from the values above; skipping the pipeline can only take evidence away).
    ctx.loss_is_cross_entropy = bool(np.allclose(values, reference, rtol=1e-4, atol=1e-6))
    return {}


def pipeline(ctx, task):
    """The student's own pipeline, loss_fn(Net()(x), y) in eval mode: a network that returns log-probabilities
    with nll_loss as loss_fn computes the softmax loss, though loss_fn alone is not cross-entropy. Skipped when
    loss_fn alone already is (then Net's forward, which 5.1.1 checks, need not run here)."""
    if ctx.loss_is_cross_entropy:
        return {"skipped": True}
    fn = ctx.get("loss_fn")
    torch.manual_seed(0)
    model = _build(ctx, "Net").eval()
    x, y = torch.from_numpy(ctx.array(P.ARCH_X2)), torch.from_numpy(ctx.array(P.PIPELINE_TARGETS))  # (8, 3, 32, 32), (8,)
    with torch.no_grad():
        out = model(x)
        value = fn(out.clone(), y.clone())
    if not isinstance(out, torch.Tensor) or not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError("Net() or loss_fn returned something other than a tensor")
    ctx.put(P.PIPELINE_OUTPUT, out.float())
    ctx.put(P.PIPELINE_LOSS, np.asarray([float(value)], dtype=np.float64))
    return {}


def init(ctx, task):
    """Call init_weights on fresh Net()s with several seeds; export each conv/linear weight and bias."""
    fn = ctx.get("init_weights")
    draws = ctx.request.init_draws
    layers = None
    for k in range(draws):
        torch.manual_seed(1000 + k)
        model = _build(ctx, "Net")
        fn(model)
        layers = _export_layers(ctx, model, lambda i, k=k: P.init_weight(i, k), lambda i, k=k: P.init_bias(i, k))
    return {"layers": layers, "draws": draws}


def bptt(ctx, task):
    fn = ctx.get("bptt_gradients")
    returned = []
    watch = DifferentiationWatch()  # the handout asks for the derivation, not for autograd's
    for i in range(ctx.request.bptt_instances):
        params = {k: ctx.array(P.bptt_input(i, k)).copy() for k in P.BPTT_KEYS}
        with watch:
            grads = fn(params, *(ctx.array(P.bptt_input(i, k)).copy() for k in P.BPTT_INPUTS))
        if not isinstance(grads, dict):
            raise TypeError(f"bptt_gradients returned {type(grads).__name__}, expected a dict")
        got = []
        for k in P.BPTT_KEYS:
            if k in grads:
                ctx.put(P.bptt_gradient(i, k), np.asarray(grads[k], dtype=np.float64))
                got.append(k)
        returned.append(got)
    return {"returned": returned, "autodiff_calls": sorted(watch.calls)}


def optimizer(ctx, task):
    """Run the student's optimizer on the parent's least-squares problems; export the trajectories."""
    name = task.arg  # "Adam" or "RMSProp"
    cls = ctx.get(name)
    settings = ctx.request.optimizer_settings[name]
    X, Y, W0 = (torch.from_numpy(ctx.array(k)) for k in (P.OPT_X, P.OPT_Y, P.OPT_W0))  # (N, D), (N, K), (K, D) float64
    steps = ctx.request.optimizer_steps
    watch = LibraryCallWatch()
    errors = {}
    for s, kwargs in enumerate(settings):
        try:
            with watch:
                traj = least_squares_trajectory(cls, kwargs, X, Y, W0, steps)
            ctx.put(P.optimizer_trajectory(name, s), traj)
        except Exception as e:  # noqa: BLE001  one failing setting must not hide the others
            errors[str(s)] = describe_exception(e)
    return {"library_calls": sorted(watch.calls), "errors": errors}


def least_squares_trajectory(cls, kwargs: dict, X: torch.Tensor, Y: torch.Tensor, W0: torch.Tensor,
                             steps: int) -> torch.Tensor:
    """(steps, K*D + K) float64: the parameters (w (K, D) from W0, b (K,) from zeros) after each step of
    optimiser `cls(params, **kwargs)` on the mean squared error of X @ w.T + b against Y. The child runs the
    student's optimiser through it, the parent torch.optim's, so both solve exactly the same problem."""
    w = W0.clone().requires_grad_(True)
    b = torch.zeros(W0.shape[0], dtype=torch.float64, requires_grad=True)
    opt = cls([w, b], **kwargs)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        ((X @ w.T + b - Y) ** 2).mean().backward()
        opt.step()
        traj.append(torch.cat([w.detach().flatten(), b.detach()]).clone())
    return torch.stack(traj)


def augmentation(ctx, task):
    fn = ctx.get("augment")
    images = torch.from_numpy(ctx.array(P.AUG_IMAGES))  # (N, 3, 32, 32) float32
    before = images.clone()
    with TransformsWatch() as watch:
        a = fn(images, torch.Generator().manual_seed(7))
        b = fn(images, torch.Generator().manual_seed(7))
        c = fn(images, torch.Generator().manual_seed(8))
    for key, t in (("a", a), ("b", b), ("c", c)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"augment returned {type(t).__name__}, expected a tensor")
        ctx.put(P.augmented(key), t.detach())
    return {"dtype": str(a.dtype).replace("torch.", ""), "input_modified": not torch.equal(images, before),
            "transforms_calls": sorted(watch.calls)}


def train_run(ctx, task):
    """One graded training run with the grader's engine and protocol, of a network the grader cannot train
    itself; writes the weights after every epoch to out/, which the grader carries into the predict phase."""
    variant = P.VARIANTS[task.arg]
    protocol = Protocol(**ctx.request.protocol)
    seed = ctx.request.seed
    train_x = torch.from_numpy(np.array(ctx.array(P.TRAIN_X)))  # (N, 3, 32, 32) uint8
    train_y = torch.from_numpy(np.array(ctx.array(P.TRAIN_Y)))
    traced: dict = {}

    def record_start(model: torch.nn.Module) -> None:
        traced["watch"] = ParameterWatch(model)  # from the initialised start on

    init_fn = ctx.get("init_weights") if variant.init else None
    try:
        with DropoutDisabled():
            # NCHW: a student's network may use BatchNorm in forms fast_layout_ok cannot see
            model, result = train_variant(lambda: ctx.get(variant.network)(), init_fn, train_x, train_y, protocol, seed,
                                          on_ready=record_start, channels_last=False)
    finally:
        if "watch" in traced:
            traced["watch"].close()
    watch = traced["watch"]
    watch.verify("after the last step")
    per_epoch = min(protocol.train_images, train_x.shape[0]) // protocol.batch_size
    expected = result.diverged_at if result.diverged_at is not None else per_epoch * protocol.epochs
    if watch.steps != expected:
        raise ParametersChangedOutsideStep(f"the grader saw {watch.steps} optimiser steps of {expected}: its step "
                                           f"hooks were removed or another optimiser stepped the network")
    for epoch, state in enumerate(result.epoch_states, start=1):
        torch.save(state, ctx.out / P.epoch_state(variant.name, epoch))  # carried into the predict phase; never read by the parent
    return {"steps": result.steps, "losses": result.losses, "diverged_at": result.diverged_at,
            "images_per_s": result.images_per_s, "seconds": result.seconds}


def start_run(ctx, task):
    """The starting network of a graded run, built and initialised by the student's code exactly as a run
    would (seed, build, initialise): its traced forward and starting tensors, its outputs on the parent's
    inputs in eval mode (arch_x2), train mode (arch_x1) and eval mode again (which shows how the train-mode
    pass moved BatchNorm's running statistics), and its loss gradients (GRAD_X), for the grader to check
    that its reference network computes the same function, updates its state the same way and receives
    the same gradients, before training it itself. Then the layers of the starting networks built the same
    way with the run's seed and each of `fresh_seeds`, for the grader to check that they are random draws
    of an initialisation (P.start_weight, P.start_bias)."""
    variant = P.VARIANTS[task.arg]
    init_fn = ctx.get("init_weights") if variant.init else None
    inputs = {x: torch.from_numpy(ctx.array(x)) for _, x in P.START_PASSES}  # (8, 3, 32, 32) each
    build = lambda: ctx.get(variant.network)()  # noqa: E731
    with DropoutDisabled():
        model = start_variant(build, init_fn, ctx.request.seed)
        with torch.no_grad():
            events, _ = trace_forward(model.eval(), torch.zeros(2, 3, 32, 32))
            tensors = _export_state(ctx, variant.name, model, events)  # before a train-mode pass moves BN statistics
            for pass_name, x in P.START_PASSES:
                y = model.train(pass_name == "train")(inputs[x])
                if not isinstance(y, torch.Tensor):
                    raise TypeError(f"{variant.network}() returned {type(y).__name__}, expected a tensor of logits")
                ctx.put(P.start_output(variant.name, pass_name), y.float())
    out = {"events": events, "tensors": tensors, **_export_gradients(ctx, variant.name, model, tensors)}
    seeds = [ctx.request.seed, *ctx.request.fresh_seeds]
    for d, seed in enumerate(seeds):
        drawn = start_variant(build, init_fn, seed)
        out["layers"] = _export_layers(ctx, drawn, lambda i, d=d: P.start_weight(variant.name, i, d),
                                       lambda i, d=d: P.start_bias(variant.name, i, d))
    out["draws"] = len(seeds)
    return out


def predict_run(ctx, task):
    """Predict classes for the (perturbed, unlabelled) test images with the trained weights of a run."""
    variant = P.VARIANTS[task.arg]
    model = _build(ctx, variant.network)
    test_x = torch.from_numpy(np.array(ctx.array(P.TEST_X)))
    for epoch in range(1, ctx.request.epochs + 1):
        state = torch.load(ctx.work / P.epoch_state(variant.name, epoch), weights_only=True)
        model.load_state_dict(state)
        ctx.put(P.predictions(variant.name, epoch), predict(model, test_x).to(torch.int64))
    return {}


PHASES = {
    "probe": {"names": names, "arch": architecture, "loss": loss, "pipeline": pipeline, "init": init, "bptt": bptt,
              "optimizer": optimizer, "augment": augmentation, "start": start_run},
    "train": {"train": train_run},
    "predict": {"predict": predict_run},
}
