"""The child side of the sandbox: loads the submission and runs the requested tasks on it.

Runs as `python -m grader.child PHASE BASE` inside the sandbox (see `sandbox.py`), with BASE holding
`submission/` (read-only copy), `in/` (request.json and input arrays), `out/` (results) and `work/` (cwd).
This module must never import `solutions` (hidden in the sandbox) and never sees test labels.
Results: `out/result.json` (rewritten after every task, so a crash keeps what finished) and `.npy` arrays.
"""
from __future__ import annotations

import ast
import importlib.util
import io
import json
import os
import signal
import sys
import time
import traceback
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


def describe_exception(e: BaseException, filename: str = "submission.py") -> str:
    """One line a student can act on: the exception and the line of their code that raised it."""
    if isinstance(e, SyntaxError):
        return f"SyntaxError in {Path(e.filename or filename).name} at line {e.lineno}: {e.msg}"
    if isinstance(e, TaskTimeout):
        return str(e)
    where = ""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if "/submission/" in frame.filename or frame.filename.endswith(filename):
            where = f" (at {Path(frame.filename).name} line {frame.lineno}: {(frame.line or '').strip()[:120]})"
            break
    msg = str(e).replace("\n", " ")
    return f"{type(e).__name__}: {msg}"[:MAX_ERROR_CHARS] + where


class Context:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.inp, self.out = base / "in", base / "out"
        self.request = json.loads((self.inp / "request.json").read_text())
        self.results: dict = {"_complete": False, "tasks": {}}
        self.module = None

    def save(self) -> None:
        tmp = self.out / "result.json.tmp"
        tmp.write_text(json.dumps(self.results, allow_nan=False, default=str))
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

    runners = child_tasks.PHASES[phase]
    timeout = float(ctx.request.get("task_timeout_s", 120))
    ctx.results["_current"] = "import"
    ctx.save()
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
    for task in ctx.request["tasks"]:
        ctx.results["_current"] = task
        ctx.save()
        start = time.perf_counter()
        try:
            if load_error:
                raise RuntimeError(f"the submission did not load: {load_error}")
            _alarm(timeout, task)
            data = runners[task.split(":")[0]](ctx, task) or {}
            outcome = {"ok": True, **data}
        except BaseException as e:  # noqa: BLE001
            outcome = {"ok": False, "error": describe_exception(e)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        outcome["seconds"] = time.perf_counter() - start
        ctx.results["tasks"][task] = outcome
        ctx.save()
    ctx.results["_current"] = None
    ctx.results["_complete"] = True
    ctx.save()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: student objects' __del__ must not run after the results are final


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
