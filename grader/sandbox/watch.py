"""Observers of student code at run time, used by the child's tasks: which library code it calls, a
training run with dropout switched off, and parameters that change outside the grader's optimiser step."""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


class LibraryCallWatch:
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


class TransformsWatch(LibraryCallWatch):
    MODULES = ("torchvision.transforms",)
    BUILTINS = ()


DROPOUT_FUNCTIONS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")


class DropoutDisabled:
    """Dropout is optional in the handout, and in a run of two epochs it costs accuracy: the graded runs
    train every network without it (module and functional forms alike), so that dropout neither helps nor
    hurts a student under the grader's short protocol."""

    def __enter__(self):
        self.saved = {name: getattr(F, name) for name in DROPOUT_FUNCTIONS if hasattr(F, name)}
        for name in self.saved:
            setattr(F, name, lambda input, *args, **kwargs: input)
        self.saved_torch = torch.dropout
        torch.dropout = lambda input, p, train: input
        return self

    def __exit__(self, *exc):
        for name, fn in self.saved.items():
            setattr(F, name, fn)
        torch.dropout = self.saved_torch


class ParametersChangedOutsideStep(Exception):
    """The network's parameters changed between two steps of the grader's optimiser."""


class ParameterWatch:
    """During a graded run the parameters may change only inside the grader's SGD step. Their values are
    kept after every step (and before the first forward) and compared when the next step begins: a forward,
    a hook or a thread that writes weights (pretrained ones shipped with the submission, say) is caught,
    `.data` writes included. The hooks are torch's global optimiser hooks; their call count must equal the
    number of steps taken, so removing them is caught too. Not caught: gradients a custom autograd function
    makes up (they reach the weights through the step itself)."""

    def __init__(self, model: torch.nn.Module) -> None:
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
