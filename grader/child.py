"""The child side of the sandbox: loads the submission and runs the requested tasks on it.

Runs as `python -m grader.child PHASE BASE` inside the sandbox (see `sandbox.py`), with BASE holding
`submission/` (read-only copy), `in/` (request.json and input arrays), `out/` (results) and `work/` (cwd).
This module must never import `solutions` (hidden in the sandbox) and never sees test labels. It checks
that the submission leaves the grader's and the libraries' code alone (`_Guard`), but it shares its process
with student code: the parent treats everything written to `out/` as a claim to verify, never as a verdict.
Results: `out/result.json` (rewritten after every task, so a crash keeps what finished) and `.npy` arrays.
"""
from __future__ import annotations

import ast
import errno
import importlib.util
import inspect
import io
import json
import math
import os
import signal
import sys
import time
import traceback
import types
from pathlib import Path

import numpy as np

MAX_ERROR_CHARS = 2000  # of an exception message sent back
PRINT_LIMIT = 64 << 10  # bytes of the student's print() output kept; the rest is discarded


class TaskTimeout(BaseException):
    """Raised by the alarm; a BaseException so that the student's `except Exception` cannot swallow it."""


class _CappedStream(io.TextIOBase):
    def __init__(self, stream) -> None:
        self.stream, self.left = stream, PRINT_LIMIT

    def write(self, s: str) -> int:
        if self.left > 0:
            self.stream.write(s[: self.left])
            self.left -= len(s)
        return len(s)

    def flush(self) -> None:
        self.stream.flush()


MEMORY_WORDS = ("can't allocate memory", "DefaultCPUAllocator", "out of memory")  # torch's allocator errors


def describe_exception(e: BaseException, filename: str = "submission.py") -> str:
    """One line a student can act on: the exception and the line of their code that raised it."""
    if isinstance(e, SyntaxError):
        return f"SyntaxError in {Path(e.filename or filename).name} at line {e.lineno}: {e.msg}"
    if isinstance(e, (TaskTimeout, Tampering)):
        return str(e)
    text = _describe(e, filename)
    if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and any(w in text for w in MEMORY_WORDS)):
        return "ran out of memory: " + text  # MemoryError is what RLIMIT_AS looks like; torch raises RuntimeError
    if isinstance(e, OSError) and e.errno == errno.EFBIG:  # RLIMIT_FSIZE (Python ignores SIGXFSZ)
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return f"wrote more than {limit >> 20} MiB to one file (the limit): {text}"
    return text


def _describe(e: BaseException, filename: str) -> str:
    where = ""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if "/submission/" in frame.filename or frame.filename.endswith(filename):
            where = f" (at {Path(frame.filename).name} line {frame.lineno}: {(frame.line or '').strip()[:120]})"
            break
    try:
        msg = str(e).replace("\n", " ")
    except BaseException:  # noqa: BLE001  a student's exception whose __str__ fails
        msg = "(the exception's message could not be read)"
    return f"{type(e).__name__}: {msg}"[:MAX_ERROR_CHARS] + where


def _json_safe(obj):
    """NaN and infinities as the strings "nan", "inf", "-inf" (which float() reads back): a diverged training
    run logs NaN losses, and JSON has no NaN."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


class Tampering(BaseException):
    """The submission replaced a function the grader's code relies on (see `_Guard`)."""


class _Guard:
    """Fingerprints of the code the grader relies on inside the child, taken before the submission is
    imported and compared after the import and before and after every task.

    Results leave the child only as what the grader's own code observed; a submission that rebinds or
    rewrites that code (`grader.child_tasks.PHASES`, `grader.engine.train`, `sys.setprofile`,
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
    GRADER_MODULES = ("__main__", "grader.child", "grader.child_tasks", "grader.engine", "grader.trace")

    def __init__(self) -> None:
        import torch

        self.torch_dir = str(Path(torch.__file__).parent)
        self.before = self._take()

    def _owners(self):
        for name in self.GRADER_MODULES:
            module = sys.modules.get(name)
            if module is not None and (name != "__main__" or getattr(module, "__spec__", None)
                                       and module.__spec__.name == "grader.child"):
                yield name, vars(module), True
        for name in self.LIBRARY_MODULES:
            if name in sys.modules:
                yield name, vars(sys.modules[name]), False
        yield "sys", {k: getattr(sys, k) for k in self.SYS_NAMES}, False

    def _take(self) -> dict:
        import torch

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
        import threading

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


class Context:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.inp, self.out = base / "in", base / "out"
        self.request = json.loads((self.inp / "request.json").read_text())
        self.results: dict = {"_complete": False, "tasks": {}}
        self.module = None

    def save(self) -> None:
        tmp = self.out / "result.json.tmp"
        tmp.write_text(json.dumps(_json_safe(self.results), allow_nan=False, default=str))
        os.replace(tmp, self.out / "result.json")

    def array(self, name: str) -> np.ndarray:
        return np.load(self.inp / f"{name}.npy", allow_pickle=False)

    def put(self, name: str, arr) -> None:
        import torch

        if isinstance(arr, torch.Tensor):
            arr = arr.detach().cpu().numpy()
        arr = np.asarray(arr)
        if arr.dtype == object:
            raise TypeError(f"{name}: not a numeric array")
        np.save(self.out / f"{name}.npy", arr, allow_pickle=False)

    def get(self, name: str):
        if self.module is None:
            raise RuntimeError("the submission did not load")
        if not hasattr(self.module, name):
            raise AttributeError(f"submission defines no `{name}`")
        return getattr(self.module, name)


def load_submission(ctx: Context) -> None:
    entry = ctx.base / "submission" / ctx.request["entry"]
    source = entry.read_bytes()
    if b"\x00" in source:
        raise ValueError(f"{entry.name} is not Python source (it contains binary data)")
    ast.parse(source, filename=entry.name)  # a SyntaxError here names the line without running anything
    sys.path.insert(0, str(entry.parent))
    spec = importlib.util.spec_from_file_location("submission", entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    ctx.module = module


def _alarm(seconds: float, task: str):
    def handler(signum, frame):
        raise TaskTimeout(f"{task} timed out: stopped after {seconds:.0f} s")

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def main(argv: list[str]) -> int:
    phase, base = argv[0], Path(argv[1])
    ctx = Context(base)
    sys.stdout = _CappedStream(sys.stdout)
    sys.stderr = _CappedStream(sys.stderr)
    import torch

    torch.set_num_threads(int(ctx.request.get("threads", 2)))
    from grader import child_tasks

    runners = dict(child_tasks.PHASES[phase])  # a copy: what the submission does to PHASES cannot reach it
    timeout = float(ctx.request.get("task_timeout_s", 120))
    save = Context.save  # the grader's own, bound before student code runs
    ctx.results["_current"] = "import"
    save(ctx)
    guard = _Guard()
    load_error = None
    t0 = time.perf_counter()
    try:
        _alarm(timeout, "importing the submission")
        load_submission(ctx)
    except BaseException as e:  # noqa: BLE001  SystemExit and KeyboardInterrupt from student code too
        load_error = describe_exception(e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    ctx.results["load_seconds"] = time.perf_counter() - t0
    ctx.results["load_error"] = load_error
    tampered = guard.check()
    for task in ctx.request["tasks"]:
        ctx.results["_current"] = task
        save(ctx)
        start = time.perf_counter()
        try:
            if load_error:
                raise RuntimeError(f"the submission did not load: {load_error}")
            tampered = tampered or guard.check()
            if tampered:
                raise Tampering(tampered)
            _alarm(timeout, task)
            data = runners[task.split(":")[0]](ctx, task) or {}
            signal.setitimer(signal.ITIMER_REAL, 0)
            tampered = guard.check()  # a change made while the task ran voids what the task observed
            if tampered:
                raise Tampering(tampered)
            outcome = {"ok": True, **data}
        except BaseException as e:  # noqa: BLE001
            outcome = {"ok": False, "error": describe_exception(e)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        outcome["seconds"] = time.perf_counter() - start
        ctx.results["tasks"][task] = outcome
        save(ctx)
    ctx.results["_current"] = None
    ctx.results["_complete"] = True
    save(ctx)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: student objects' __del__ must not run after the results are final


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
