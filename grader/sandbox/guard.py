"""A check, from inside the child, that the submission left the grader's and the libraries' code alone.

The child shares its process with student code; `Guard` fingerprints what the grader relies on before the
submission is imported and compares it after the import and around every task."""
from __future__ import annotations

import inspect
import sys
import threading
import types
from pathlib import Path

import torch

from grader.sandbox.errors import GraderStop


class Tampering(GraderStop):
    """The submission replaced a function the grader's code relies on (see `Guard`)."""


class Guard:
    """Fingerprints of the code the grader relies on inside the child, taken before the submission is
    imported and compared after the import and before and after every task.

    Results leave the child only as what the grader's own code observed; a submission that rebinds or
    rewrites that code (`grader.sandbox.tasks.PHASES`, `grader.engine.train`, `sys.setprofile`,
    `torch.nn.functional.cross_entropy`, `np.save`, a method of `torch.Tensor` ...) could change what is
    observed. Such a change fails the task in progress and every later one. Covered: the attributes of the
    grader's child modules and of the library modules listed below (callables only for those), the
    dictionaries of their classes, functions' code and defaults, and the trace/profile hooks. A wrapper that
    torch itself puts around its own function (torch._dynamo does this on import) is accepted.
    This is a check of the state at those moments, made from inside the process that runs student code:
    it stops a submission from patching the grader, not a submission that patches and restores in between
    or rewrites memory (ctypes); that is why the parent re-derives every verdict from raw outputs."""

    LIBRARY_MODULES = ("builtins", "os", "io", "json", "signal", "time", "inspect", "threading", "numpy",
                       "numpy.lib.format", "torch", "torch.nn", "torch.nn.functional", "torch.nn.init",
                       "torch.autograd", "torch.optim", "torch.optim.optimizer", "torch.optim.sgd",
                       "torch.utils._python_dispatch", "torch.serialization")
    SYS_NAMES = ("setprofile", "settrace", "getprofile", "gettrace", "exit", "setswitchinterval")
    GRADER_MODULES = ("__main__", "grader.sandbox.child", "grader.sandbox.guard", "grader.sandbox.tasks",
                      "grader.sandbox.protocol", "grader.engine", "grader.sandbox.trace")

    def __init__(self) -> None:
        self.torch_dir = str(Path(torch.__file__).parent)
        self.before = self._take()

    def _owners(self):
        for name in self.GRADER_MODULES:
            module = sys.modules.get(name)
            if module is not None and (name != "__main__" or getattr(module, "__spec__", None)
                                       and module.__spec__.name == "grader.sandbox.child"):
                yield name, vars(module), True
        for name in self.LIBRARY_MODULES:
            if name in sys.modules:
                yield name, vars(sys.modules[name]), False
        yield "sys", {k: getattr(sys, k) for k in self.SYS_NAMES}, False

    def _take(self) -> dict:
        seen: dict = {}
        classes = [(torch.Tensor, False), (torch.nn.Module, False), (torch.optim.Optimizer, False)]
        for owner, namespace, ours in self._owners():
            for key, value in list(namespace.items()):
                if ours or callable(value):
                    seen[f"{owner}.{key}"] = (value, ours)
                if isinstance(value, type) and (value.__module__ or "").startswith(("torch", "numpy", "grader", "__main__")):
                    classes.append((value, ours and value.__module__ in self.GRADER_MODULES))
        for cls, ours in classes:
            for key, value in list(vars(cls).items()):  # libraries' classes keep counters and caches: methods only
                if ours or callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                    seen[f"{cls.__module__}.{cls.__qualname__}.{key}"] = (value, ours)
        return {k: (v, *self._parts(v, ours)) for k, (v, ours) in seen.items()}

    @staticmethod
    def _parts(value, ours: bool) -> tuple:
        func = getattr(value, "__func__", value) if isinstance(value, (staticmethod, classmethod)) else value
        if isinstance(func, types.FunctionType):
            return func, func.__code__, func.__defaults__, func.__kwdefaults__
        if ours and isinstance(value, (dict, list, set)):  # a table of the grader's (VARIANTS) changed in place
            return (repr(value),)
        return ()

    def _accepted(self, old, new) -> bool:
        """torch wrapping its own function (e.g. torch._dynamo's `disable` on torch.manual_seed)."""
        try:
            code = getattr(getattr(new, "__func__", new), "__code__", None)
            return (code is not None and code.co_filename.startswith(self.torch_dir)
                    and inspect.unwrap(new) is inspect.unwrap(old))
        except Exception:  # noqa: BLE001  unwrap on a hostile object
            return False

    def check(self) -> str | None:
        """None when nothing the grader relies on changed; else what changed, in words."""
        changed = []
        if sys.gettrace() is not None or sys.getprofile() is not None or threading.gettrace() is not None \
                or threading.getprofile() is not None:
            changed.append("a trace or profile hook was installed")
        try:
            now = self._take()
        except BaseException as e:  # noqa: BLE001  an object planted in a module whose __class__ raises, say
            return f"the grader could not check its own code ({type(e).__name__}): the submission tampered with it"
        for key, fingerprint in self.before.items():
            new = now.get(key)
            if new is None:
                changed.append(f"{key} was deleted")
            elif len(new) != len(fingerprint) or any(a is not b and not (type(a) is str and a == b)
                                                     for a, b in zip(new, fingerprint)):
                if not self._accepted(fingerprint[0], new[0]):
                    changed.append(f"{key} was replaced")
        if not changed:
            return None
        return ("the submission changed code the grader relies on (" + "; ".join(changed[:4]) +
                (f"; {len(changed) - 4} more" if len(changed) > 4 else "") +
                "): submissions must not patch the grader's or the libraries' functions")
