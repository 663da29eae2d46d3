"""The child side of the sandbox: loads the submission and runs the requested tasks on it.

Runs as `python -P -m grader.sandbox.child PHASE BASE RW` inside the sandbox (`grader.sandbox.process`), with
BASE holding `submission/` (read-only copy) and `in/` (request.json and input arrays), and RW (the child's own
writable space, fresh for every child) holding `out/` (results) and `work/` (cwd, where the grader puts the
files it carries over from an earlier child). It must never import `solutions` (hidden in the sandbox) and never sees test labels. It checks that
the submission leaves the grader's and the libraries' code alone (`Guard`), but it shares its process with
student code: the parent treats everything written to `out/` as a claim to verify, never as a verdict.
Results: `out/result.json` (rewritten after every task, so a crash keeps what finished) and `.npy` arrays.
"""
from __future__ import annotations

import __future__
import ast
import importlib.util
import io
import json
import linecache
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from grader.sandbox import tasks
from grader.sandbox.errors import TaskTimeout, describe_exception, describe_import_failure
from grader.sandbox.guard import Guard, Tampering
from grader.sandbox.contract import contract_hints
from grader.sandbox.protocol import ALIASES, LOADING_LINE, MARKER_VAR, Request, Task
from grader.sandbox.slicing import SLICE_ENTRY, cell_filename
from grader.sandbox.watch import record_source_reads

PRINT_LIMIT = 64 << 10  # bytes of the student's print() output kept; the rest is discarded


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


class Context:
    def __init__(self, base: Path, rw: Path) -> None:
        self.base = base
        self.inp, self.out, self.work = base / "in", rw / "out", rw / "work"
        self.request = Request.from_json(json.loads((self.inp / "request.json").read_text()))
        self.results: dict = {"_complete": False, "tasks": {}}
        self.module = None
        self.tree: ast.Module | None = None  # submission.py's syntax tree (for hints on missing names)
        self.slice: dict | None = None  # a notebook's slice, when the entry is one
        self.spellings: dict[str, str] = {}  # contract name -> the spelling found (RMSprop for RMSProp)
        self.loss_is_cross_entropy = False  # set by the loss task; the pipeline task has nothing to add then

    def save(self) -> None:
        tmp = self.out / "result.json.tmp"
        tmp.write_text(json.dumps(_json_safe(self.results), allow_nan=False, default=str))
        os.replace(tmp, self.out / "result.json")

    def array(self, name: str) -> np.ndarray:
        return np.load(self.inp / f"{name}.npy", allow_pickle=False)

    def put(self, name: str, arr) -> None:
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().cpu().numpy()
        arr = np.asarray(arr)
        if arr.dtype == object:
            raise TypeError(f"{name}: not a numeric array")
        np.save(self.out / f"{name}.npy", arr, allow_pickle=False)

    def find(self, name: str):
        """The object the submission binds to contract name `name` under any accepted spelling, or None."""
        for spelling in (name, *ALIASES.get(name, ())):
            obj = getattr(self.module, spelling, None)
            if obj is not None:
                if spelling != name:
                    self.spellings[name] = spelling
                    self.results["spellings"] = self.spellings
                return obj
        return None

    def get(self, name: str):
        if self.module is None:
            raise RuntimeError("the submission did not load")
        obj = self.find(name)
        if obj is None:
            raise AttributeError(self.missing(name))
        return obj

    def missing(self, name: str) -> str:
        """"submission defines no `NetBN`: add ..." with one line in the submission's own style."""
        if self.slice is not None:
            hints, where = self.slice.get("hints", {}), str(self.slice.get("notebook", "the notebook"))
        else:
            hints, where = contract_hints(self.tree.body if self.tree else []), "submission"
        hint = hints.get(name)
        return f"{where} defines no `{name}`" + (f": add, for example, `{hint}`" if hint else "")


def load_submission(ctx: Context) -> None:
    entry = ctx.base / "submission" / ctx.request.entry
    sys.path.insert(0, str(entry.parent))
    sys.argv = [entry.name]  # argparse at the top of a script or notebook sees no options: their defaults
    if entry.name == SLICE_ENTRY:  # a notebook: run the statements its slice kept, each under its cell's name
        ctx.slice = json.loads(entry.read_text())
        module = type(sys)("submission")
        module.__name__ = "__main__"  # as in Jupyter: a kept `if __name__ == "__main__":` block runs
        sys.modules["submission"] = module
        ctx.module = module
        ctx.results["load_warnings"] = exec_slice(ctx.slice, module.__dict__)
        return
    source = entry.read_bytes()
    if b"\x00" in source:
        raise ValueError(f"{entry.name} is not Python source (it contains binary data)")
    ctx.tree = ast.parse(source, filename=entry.name)  # a SyntaxError here names the line without running anything
    spec = importlib.util.spec_from_file_location("submission", entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    ctx.module = module


def _after_load_failures(ctx: Context) -> str:
    """What a failing task's message adds when statements of a notebook failed while it loaded: the name the
    task missed is most likely one of theirs."""
    failures = ctx.results.get("load_warnings") or []
    return f" (while the notebook loaded, {failures[0]}" + (f", and {len(failures) - 1} more" if len(failures) > 1 else "") \
        + ")" if failures else ""


def exec_slice(data: dict, namespace: dict) -> list[str]:
    """Run the kept statements of a slice in `namespace`, in order, each compiled with its cell's name and
    line numbers. A statement that raises does not stop the others (a name it defines stays undefined);
    returns what each failure was, "code cell 1, line 14: SystemExit: 2"."""
    notebook = str(data.get("notebook", "notebook"))
    for cell in data.get("cells", []):
        name = cell_filename(notebook, int(cell["cell"]))
        text = str(cell["source"])
        linecache.cache[name] = (len(text), None, [ln + "\n" for ln in text.splitlines()], name)
    failures, flags = [], 0
    for s in data.get("statements", []):
        if not s.get("kept"):
            continue
        name = cell_filename(notebook, int(s["cell"]))
        tree = ast.parse(str(s["code"]), filename=name)
        ast.increment_lineno(tree, int(s["line"]) - 1)
        for node in tree.body:  # `from __future__ import annotations` holds for the statements after it
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                flags |= sum(getattr(__future__, a.name).compiler_flag for a in node.names if hasattr(__future__, a.name))
        try:
            code = compile(tree, name, "exec", flags=flags, dont_inherit=True)
            exec(code, namespace)  # noqa: S102  the student's own statement, in the sandbox
        except (Exception, SystemExit, KeyboardInterrupt) as e:  # noqa: BLE001  a grader stop still propagates
            failures.append(f"code cell {s['cell']}, line {_raised_at(e, name) or s['line']}: "
                            f"{type(e).__name__}: {str(e)[:300]}")
    return failures


def _raised_at(e: BaseException, filename: str) -> int | None:
    tb, line = e.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _alarm(seconds: float, threads: int, task: str):
    """Stop `task` once it has used `seconds` times `threads` of CPU time (the process's, all threads): a
    busy machine slows a task down without bringing its limit closer; a task that sleeps is stopped by the
    parent's wall-clock limit instead."""
    def handler(signum, frame):
        raise TaskTimeout(f"{task} timed out: stopped after {seconds * threads:.0f} s of CPU time (limit "
                          f"{seconds:.0f} s on {threads} threads)")

    signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, seconds * threads)


def _stop_alarm() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)


def main(argv: list[str]) -> int:
    phase, base, rw = argv[0], Path(argv[1]), Path(argv[2])
    ctx = Context(base, rw)
    sys.stdout = _CappedStream(sys.stdout)
    sys.stderr = _CappedStream(sys.stderr)
    torch.set_num_threads(ctx.request.threads)
    runners = dict(tasks.PHASES[phase])  # a copy: what the submission does to PHASES cannot reach it
    timeout = ctx.request.task_timeout_s
    save = Context.save  # the grader's own, bound before student code runs
    ctx.results["_current"] = "import"
    save(ctx)
    guard = Guard()
    load_error = None
    t0 = time.perf_counter()
    if any(Task.parse(k).kind == "optimizer" for k in ctx.request.tasks):
        record_source_reads()  # reading torch's optimiser sources, at import too, counts as using them
    sys.__stdout__.write(f"{LOADING_LINE} ({os.environ.get(MARKER_VAR, '')})\n")  # no student code ran before this
    sys.__stdout__.flush()
    try:
        _alarm(timeout, ctx.request.threads, "importing the submission")
        load_submission(ctx)
    except BaseException as e:  # noqa: BLE001  SystemExit and KeyboardInterrupt from student code too
        load_error = describe_import_failure(e, ctx.request.entry, ctx.tree)
    finally:
        _stop_alarm()
    ctx.results["load_seconds"] = time.perf_counter() - t0
    ctx.results["load_error"] = load_error
    tampered = guard.check()
    for key in ctx.request.tasks:
        task = Task.parse(key)
        ctx.results["_current"] = key
        save(ctx)
        start = time.perf_counter()
        try:
            if load_error:
                raise RuntimeError(f"the submission did not load: {load_error}")
            tampered = tampered or guard.check()
            if tampered:
                raise Tampering(tampered)
            _alarm(timeout, ctx.request.threads, key)
            data = runners[task.kind](ctx, task) or {}
            _stop_alarm()
            tampered = guard.check()  # a change made while the task ran voids what the task observed
            if tampered:
                raise Tampering(tampered)
            outcome = {"ok": True, **data}
        except BaseException as e:  # noqa: BLE001
            outcome = {"ok": False, "error": describe_exception(e) + _after_load_failures(ctx)}
        finally:
            _stop_alarm()
        outcome["seconds"] = time.perf_counter() - start
        ctx.results["tasks"][key] = outcome
        save(ctx)
    ctx.results["_current"] = None
    ctx.results["_complete"] = True
    save(ctx)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: student objects' __del__ must not run after the results are final


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
