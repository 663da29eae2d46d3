"""The tasks a child runs on student code, by phase. Each takes the child Context and the task name, puts
arrays with `ctx.put`, and returns a small JSON-safe dict. Inputs come from the parent through `ctx.array`.
Judging happens in the parent: these functions only observe what the student's code does.
"""
from __future__ import annotations

import inspect
import sys

import numpy as np
import torch

from grader.engine import Protocol, predict, start_variant, train_variant
from grader.trace import trace_forward

CONTRACT = ("Net", "init_weights", "NetBN", "loss_fn", "bptt_gradients", "Adam", "RMSProp", "augment")


def names(ctx, task):
    found = {}
    for name in CONTRACT:
        obj = getattr(ctx.module, name, None)
        found[name] = ("class" if inspect.isclass(obj) else "callable" if callable(obj) else
                       "missing" if obj is None else type(obj).__name__)
    return {"names": found}


def _export_state(ctx, prefix: str, model: torch.nn.Module, events: list[dict]) -> dict[str, list[int]]:
    """Save every tensor the forward pass used; returns name -> shape."""
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    used = {e[k] for e in events for k in ("weight", "bias", "running_mean", "running_var") if e.get(k)}
    shapes = {}
    for i, name in enumerate(sorted(used)):
        t = tensors[name]
        ctx.put(f"{prefix}_t{i}", t.detach().float())
        shapes[name] = [f"{prefix}_t{i}", list(t.shape)]
    return shapes


def _build(ctx, cls_name: str) -> torch.nn.Module:
    model = ctx.get(cls_name)()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{cls_name}() returned {type(model).__name__}, not an nn.Module")
    return model


class ForwardDependsOnObservation(Exception):
    """forward() computes one thing while the grader records it and another when it does not."""


OBSERVED_RTOL = 1e-5  # the same operations with and without a recorder give the same floats


def _check_unobserved(cls_name: str, model: torch.nn.Module, x: torch.Tensor, y_traced) -> None:
    """Run the eval-mode forward again with no recorder active, no `torch.no_grad`, and no grader.trace frame
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
    cls_name = task.split(":")[1]
    torch.manual_seed(0)
    model = _build(ctx, cls_name)
    x1, x2 = torch.from_numpy(ctx.array("arch_x1")), torch.from_numpy(ctx.array("arch_x2"))
    out = {}
    with torch.no_grad():
        if cls_name == "NetBN":
            model.train()
            events_train, y_train = trace_forward(model, x1)
            ctx.put(f"{cls_name}_y_train", y_train.float())
            out["events_train"] = events_train
        model.eval()
        torch.manual_seed(1)
        events, y = trace_forward(model, x2)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{cls_name}() returned {type(y).__name__}, expected a tensor of logits")
    _check_unobserved(cls_name, model, x2, y)
    ctx.put(f"{cls_name}_y_eval", y.float())
    out["events"] = events
    out["tensors"] = _export_state(ctx, cls_name, model, events + out.get("events_train", []))
    return out


def loss(ctx, task):
    fn = ctx.get("loss_fn")
    logits, targets = torch.from_numpy(ctx.array("loss_logits")), torch.from_numpy(ctx.array("loss_targets"))  # (R, N, 10), (R, N)
    values = []
    for lg, tg in zip(logits, targets):
        v = fn(lg.clone(), tg.clone())
        if not isinstance(v, torch.Tensor) or v.numel() != 1:
            raise TypeError(f"loss_fn returned {type(v).__name__}{'' if not isinstance(v, torch.Tensor) else ' of shape ' + str(tuple(v.shape))}, expected a scalar tensor")
        values.append(float(v.detach()))
    ctx.put("loss_values", np.asarray(values, dtype=np.float64))
    return {}


def init(ctx, task):
    """Call init_weights on fresh Net()s with several seeds; export each conv/linear weight and bias."""
    fn = ctx.get("init_weights")
    draws = int(ctx.request.get("init_draws", 8))
    layers = None
    for k in range(draws):
        torch.manual_seed(1000 + k)
        model = _build(ctx, "Net")
        fn(model)
        with torch.no_grad():
            events, _ = trace_forward(model.eval(), torch.zeros(2, 3, 32, 32))
        tensors = dict(model.named_parameters())
        layer_events = [e for e in events if e["op"] in ("conv", "linear")]
        layers = [{"op": e["op"], "weight": e["weight"], "bias": e["bias"]} for e in layer_events]
        for i, e in enumerate(layer_events):
            ctx.put(f"init_w{i}_d{k}", tensors[e["weight"]].detach().double())
            if e["bias"]:
                ctx.put(f"init_b{i}_d{k}", tensors[e["bias"]].detach().double())
    return {"layers": layers, "draws": draws}


def bptt(ctx, task):
    fn = ctx.get("bptt_gradients")
    count = int(ctx.request["bptt_instances"])
    keys = ("W_xh", "W_hh", "b_h", "W_hz", "b_z")
    returned = []
    for i in range(count):
        params = {k: ctx.array(f"bptt{i}_{k}").copy() for k in keys}
        grads = fn(params, ctx.array(f"bptt{i}_xs").copy(), ctx.array(f"bptt{i}_ys").copy(), ctx.array(f"bptt{i}_h0").copy())
        if not isinstance(grads, dict):
            raise TypeError(f"bptt_gradients returned {type(grads).__name__}, expected a dict")
        got = []
        for k in keys:
            if k in grads:
                ctx.put(f"bptt{i}_grad_{k}", np.asarray(grads[k], dtype=np.float64))
                got.append(k)
        returned.append(got)
    return {"returned": returned}


class _LibraryCallWatch:
    """Notes calls into torch's own Adam/RMSprop code while student code runs (a profile hook sees
    Python functions and C builtins alike)."""

    MODULES = ("torch.optim.adam", "torch.optim.rmsprop", "torch.optim.adamw", "torch.optim._functional")
    BUILTINS = ("_fused_adam_", "_fused_adamw_")

    def __init__(self) -> None:
        self.calls: set[str] = set()

    def __call__(self, frame, event, arg):
        if event == "call":
            mod = frame.f_globals.get("__name__", "")
            if mod.startswith(self.MODULES):
                self.calls.add(f"{mod}.{frame.f_code.co_name}")
        elif event == "c_call" and getattr(arg, "__name__", "") in self.BUILTINS:
            self.calls.add(arg.__name__)

    def __enter__(self):
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)


def optimizer(ctx, task):
    """Run the student's optimizer on the parent's least-squares problems; export the trajectories."""
    name = task.split(":")[1]  # "Adam" or "RMSProp"
    cls = ctx.get(name)
    settings = ctx.request["optimizer_settings"][name]
    X, Y, W0 = (torch.from_numpy(ctx.array(f"opt_{k}")) for k in ("X", "Y", "W0"))  # (N, D), (N, K), (K, D) float64
    steps = int(ctx.request["optimizer_steps"])
    watch = _LibraryCallWatch()
    errors = {}
    for s, kwargs in enumerate(settings):
        w = W0.clone().requires_grad_(True)
        b = torch.zeros(W0.shape[0], dtype=torch.float64, requires_grad=True)
        try:
            with watch:
                opt = cls([w, b], **kwargs)
                traj = []
                for _ in range(steps):
                    opt.zero_grad()
                    ((X @ w.T + b - Y) ** 2).mean().backward()
                    opt.step()
                    traj.append(torch.cat([w.detach().flatten(), b.detach()]).clone())
            ctx.put(f"opt_{name}_{s}", torch.stack(traj))  # (steps, K*D + K)
        except Exception as e:  # noqa: BLE001  one failing setting must not hide the others
            from grader.child import describe_exception

            errors[str(s)] = describe_exception(e)
    return {"library_calls": sorted(watch.calls), "errors": errors}


class _TransformsWatch(_LibraryCallWatch):
    MODULES = ("torchvision.transforms",)
    BUILTINS = ()


def augmentation(ctx, task):
    fn = ctx.get("augment")
    images = torch.from_numpy(ctx.array("aug_images"))  # (N, 3, 32, 32) float32
    before = images.clone()
    with _TransformsWatch() as watch:
        a = fn(images, torch.Generator().manual_seed(7))
        b = fn(images, torch.Generator().manual_seed(7))
        c = fn(images, torch.Generator().manual_seed(8))
    for key, t in (("a", a), ("b", b), ("c", c)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"augment returned {type(t).__name__}, expected a tensor")
        ctx.put(f"aug_{key}", t.detach())
    return {"dtype": str(a.dtype).replace("torch.", ""), "input_modified": not torch.equal(images, before),
            "transforms_calls": sorted(watch.calls)}


VARIANTS = {"net": ("Net", False), "kaiming": ("Net", True), "bn": ("NetBN", False)}
DROPOUT_FUNCTIONS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")


class _DropoutDisabled:
    """Dropout is optional in the handout, and in a run of two epochs it costs accuracy: the graded runs
    train every network without it (module and functional forms alike), so that dropout neither helps nor
    hurts a student under the grader's short protocol."""

    def __enter__(self):
        import torch.nn.functional as F

        self.saved = {name: getattr(F, name) for name in DROPOUT_FUNCTIONS if hasattr(F, name)}
        for name in self.saved:
            setattr(F, name, lambda input, *args, **kwargs: input)
        self.saved_torch = torch.dropout
        torch.dropout = lambda input, p, train: input
        return self

    def __exit__(self, *exc):
        import torch.nn.functional as F

        for name, fn in self.saved.items():
            setattr(F, name, fn)
        torch.dropout = self.saved_torch


class ParametersChangedOutsideStep(Exception):
    """The network's parameters changed between two steps of the grader's optimiser."""


class _ParameterWatch:
    """During a graded run the parameters may change only inside the grader's SGD step. Their values are
    kept after every step (and before the first forward) and compared when the next step begins: a forward,
    a hook or a thread that writes weights (pretrained ones shipped with the submission, say) is caught,
    `.data` writes included. The hooks are torch's global optimiser hooks; their call count must equal the
    number of steps taken, so removing them is caught too. Not caught: gradients a custom autograd function
    makes up (they reach the weights through the step itself)."""

    def __init__(self, model: torch.nn.Module) -> None:
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        self.params = list(model.parameters())
        self.ids = {id(p) for p in self.params}
        self.snapshot = [p.detach().clone() for p in self.params]
        self.steps = 0
        self.handles = [register_optimizer_step_pre_hook(self._pre), register_optimizer_step_post_hook(self._post)]

    def _ours(self, opt) -> bool:
        return {id(p) for g in opt.param_groups for p in g["params"]} == self.ids

    def _pre(self, opt, args, kwargs) -> None:
        if self._ours(opt):
            self.verify(f"before SGD step {self.steps + 1}")

    def _post(self, opt, args, kwargs) -> None:
        if self._ours(opt):
            self.snapshot = [p.detach().clone() for p in self.params]
            self.steps += 1

    @staticmethod
    def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
        """Equal values, NaN equal to NaN (a run that diverged must still be told it diverged)."""
        if a.shape != b.shape:
            return False
        if a.is_floating_point() or a.is_complex():
            return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0))
        return torch.equal(a, b)

    def verify(self, when: str) -> None:
        for p, s in zip(self.params, self.snapshot):
            if not self._same(p.detach(), s.to(p.device)):
                raise ParametersChangedOutsideStep(
                    f"the network's parameters changed outside the grader's optimiser ({when}): forward, a hook or "
                    f"another thread wrote to them; a graded run must train the network it was given")

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def train_run(ctx, task):
    """One graded training run with the grader's engine and protocol, of a network the grader cannot train
    itself; keeps the weights after every epoch in work/ for the predict phase."""
    variant = task.split(":")[1]
    cls_name, use_init = VARIANTS[variant]
    protocol = Protocol(**ctx.request["protocol"])
    seed = int(ctx.request["seed"])
    train_x = torch.from_numpy(np.array(ctx.array("train_x")))  # (N, 3, 32, 32) uint8
    train_y = torch.from_numpy(np.array(ctx.array("train_y")))
    traced: dict = {}

    def record_start(model: torch.nn.Module) -> None:
        traced["watch"] = _ParameterWatch(model)  # from the initialised start on

    init_fn = ctx.get("init_weights") if use_init else None
    try:
        with _DropoutDisabled():
            # NCHW: a student's network may use BatchNorm in forms fast_layout_ok cannot see
            model, result = train_variant(lambda: ctx.get(cls_name)(), init_fn, train_x, train_y, protocol, seed,
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
        torch.save(state, ctx.base / "work" / f"{variant}_e{epoch}.pt")  # for a later predict phase; never read by the parent
    return {"steps": result.steps, "losses": result.losses, "diverged_at": result.diverged_at,
            "images_per_s": result.images_per_s, "seconds": result.seconds}


START_PASSES = (("eval", "arch_x2"), ("train", "arch_x1"), ("eval_after", "arch_x2"))  # (output key, input), in order


def start_run(ctx, task):
    """The starting network of a graded run, built and initialised by the student's code exactly as a run
    would (seed, build, initialise): its traced forward and starting tensors, and its outputs on the
    parent's inputs in eval mode (arch_x2), train mode (arch_x1) and eval mode again (which shows how the
    train-mode pass moved BatchNorm's running statistics), for the grader to check that its reference
    network computes the same function, and updates its state the same way, before training it itself."""
    variant = task.split(":")[1]
    cls_name, use_init = VARIANTS[variant]
    init_fn = ctx.get("init_weights") if use_init else None
    inputs = {x: torch.from_numpy(ctx.array(x)) for _, x in START_PASSES}  # (8, 3, 32, 32) each
    with _DropoutDisabled():
        model = start_variant(lambda: ctx.get(cls_name)(), init_fn, int(ctx.request["seed"]))
        with torch.no_grad():
            events, _ = trace_forward(model.eval(), torch.zeros(2, 3, 32, 32))
            tensors = _export_state(ctx, f"{variant}_e0", model, events)  # before a train-mode pass moves BN statistics
            outputs = {}
            for key, x in START_PASSES:
                y = model.train(key == "train")(inputs[x])
                if not isinstance(y, torch.Tensor):
                    raise TypeError(f"{cls_name}() returned {type(y).__name__}, expected a tensor of logits")
                ctx.put(f"{variant}_y_{key}", y.float())
                outputs[key] = f"{variant}_y_{key}"
    return {"events": events, "tensors": {"e0": tensors}, "outputs": outputs}


def predict_run(ctx, task):
    """Predict classes for the (perturbed, unlabelled) test images with the trained weights of a run."""
    variant, epochs = task.split(":")[1], int(ctx.request["epochs"])
    cls_name, _ = VARIANTS[variant]
    model = _build(ctx, cls_name)
    test_x = torch.from_numpy(np.array(ctx.array("test_x")))
    for epoch in range(1, epochs + 1):
        state = torch.load(ctx.base / "work" / f"{variant}_e{epoch}.pt", weights_only=True)
        model.load_state_dict(state)
        ctx.put(f"pred_{variant}_e{epoch}", predict(model, test_x).to(torch.int64))
    return {}


PHASES = {
    "probe": {"names": names, "arch": architecture, "loss": loss, "init": init, "bptt": bptt,
              "optimizer": optimizer, "augment": augmentation},
    "start": {"start": start_run},
    "train": {"train": train_run},
    "predict": {"predict": predict_run},
}
