"""Observers of student code at run time, used by the child's tasks: which library code it calls, a
training run with dropout switched off, and parameters that change outside the grader's optimiser step."""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import types

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


MIN_FINGERPRINT_BYTES = 64  # shorter function bodies (return x.y) say nothing about where they came from


def _module_paths(name: str) -> list[str]:
    """The source file (or package folder) of a dotted module name, found without importing anything: the
    top-level package's location joined with the rest of the name. [] when not installed."""
    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    base = os.path.join(next(iter(spec.submodule_search_locations)), *rest)
    found = [p for p in (base + ".py", os.path.join(base, "__init__.py")) if os.path.isfile(p)]
    if os.path.isdir(base):
        found.append(base + os.sep)
    return [os.path.realpath(p) + (os.sep if p.endswith(os.sep) else "") for p in found]


class LibraryCallWatch:
    """Notes use of library code that the student must write themselves, while student code runs.

    The code is identified by the file its code objects were compiled from (`MODULES`: files, or whole
    package folders), not by module name, so the library's source executed under another name still counts;
    a code object recompiled under another file name is still caught by its bytecode (`FINGERPRINTED`).
    Seen in this thread and in threads started meanwhile (profile hooks), and in threads that were already
    running, by sampling their stacks every SAMPLE_S. C functions named in BUILTINS count when called. Where
    `READING_COUNTS`, opening one of those files (or its cached bytecode) since `record_source_reads` counts
    too, in any thread: reading the library's source to run it is using it."""

    MODULES = ("torch.optim.adam", "torch.optim.rmsprop", "torch.optim.adamw", "torch.optim._functional",
               "torch.optim._multi_tensor")
    BUILTINS = ("_fused_adam_", "_fused_adamw_")
    READING_COUNTS = True
    FINGERPRINTED = True
    SAMPLE_S = 0.002

    def __init__(self) -> None:
        self.calls: set[str] = set()
        paths = [p for m in self.MODULES for p in _module_paths(m)]
        self.files = {p for p in paths if not p.endswith(os.sep)}
        self.folders = tuple(p for p in paths if p.endswith(os.sep))
        self.stems = {os.path.splitext(os.path.basename(p))[0] for p in self.files}
        self.codes = self._fingerprints() if self.FINGERPRINTED else {}
        self._stop = threading.Event()

    def _fingerprints(self) -> dict[tuple, str]:
        """(bytecode, names used) of every named function in the watched modules that are loaded -> its name.
        Both must match: bytecode alone is shared by unrelated code of the same shape (a generator expression
        of typing_extensions is byte for byte one of torch's)."""
        codes: dict[tuple, str] = {}
        for name in self.MODULES:
            module = sys.modules.get(name)
            todo = [v.__code__ for v in vars(module).values() if isinstance(v, types.FunctionType)] if module else []
            while todo:
                code = todo.pop()
                if len(code.co_code) >= MIN_FINGERPRINT_BYTES and not code.co_name.startswith("<"):
                    codes[(code.co_code, code.co_names)] = f"{name}.{code.co_name}"
                todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        return codes

    def _library(self, code: types.CodeType) -> str | None:
        """What library code `code` is, or None."""
        filename = code.co_filename
        if filename in self.files or (self.folders and filename.startswith(self.folders)):
            return f"{os.path.basename(filename)}:{code.co_name}"
        if self.codes and not filename.startswith(_TORCH_DIR):
            origin = self.codes.get((code.co_code, code.co_names))
            if origin:
                return f"{origin} (recompiled as {os.path.basename(filename)})"
        if filename not in self.files and os.path.basename(filename).split(".")[0] in self.stems:
            real = os.path.realpath(filename) if os.path.exists(filename) else ""
            if real in self.files:
                return f"{os.path.basename(real)}:{code.co_name}"
        return None

    def __call__(self, frame, event, arg):
        if event == "call":
            found = self._library(frame.f_code)
            if found:
                self.calls.add(found)
        elif event == "c_call" and getattr(arg, "__name__", "") in self.BUILTINS:
            self.calls.add(arg.__name__)

    def _sample(self, main: int) -> None:
        while not self._stop.wait(self.SAMPLE_S):
            for ident, frame in sys._current_frames().items():
                if ident in (main, threading.get_ident()):
                    continue
                while frame is not None:
                    found = self._library(frame.f_code)
                    if found:
                        self.calls.add(found + " (in another thread)")
                    frame = frame.f_back

    def __enter__(self):
        self._stop.clear()
        self._sampler = threading.Thread(target=self._sample, args=(threading.get_ident(),), daemon=True)
        self._sampler.start()
        threading.setprofile(self)
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        threading.setprofile(None)
        self._stop.set()
        self._sampler.join()
        if self.READING_COUNTS:
            watched = {os.path.basename(p) for p in self.files}
            self.calls.update(f"read {name}" for name in _READS if name in watched)


_TORCH_DIR = os.path.dirname(os.path.realpath(torch.__file__))
_READS: set[str] = set()  # watched library files this process opened since record_source_reads ("adam.py")


def record_source_reads() -> None:
    """From now on, note every opening of a watched library file (the optimisers' sources or their cached
    bytecode), in any thread: an audit hook, which nothing in the process can remove. The child starts it
    before importing the submission, so a source read at import counts as much as one read in a task."""
    watched = LibraryCallWatch()
    folders = tuple(os.path.dirname(p) for p in watched.files)

    def hook(event: str, args: tuple) -> None:
        if event != "open" or not args or isinstance(args[0], int):
            return
        try:
            path = os.path.realpath(os.fsdecode(args[0]))
        except (TypeError, ValueError, OSError):
            return
        if path in watched.files:
            _READS.add(os.path.basename(path))
        elif path.endswith(".pyc") and os.path.dirname(os.path.dirname(path)) in folders:
            source = os.path.join(os.path.dirname(os.path.dirname(path)), os.path.basename(path).split(".")[0] + ".py")
            if source in watched.files:
                _READS.add(os.path.basename(source))

    sys.addaudithook(hook)


class TransformsWatch(LibraryCallWatch):
    MODULES = ("torchvision.transforms",)
    BUILTINS = ()
    READING_COUNTS = False
    FINGERPRINTED = False


class DifferentiationWatch(LibraryCallWatch):
    """Automatic differentiation: torch's autograd engine (every backward() and autograd.grad ends in its
    C function run_backward), torch.func's transforms, and the other differentiation libraries."""

    MODULES = ("torch.autograd.functional", "torch._functorch.eager_transforms", "torch._functorch.apis", "jax",
               "autograd", "tensorflow")
    BUILTINS = ("run_backward",)
    READING_COUNTS = False
    FINGERPRINTED = False


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
