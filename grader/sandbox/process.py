"""Runs one phase of student code in a child process that cannot harm the machine or the grade.

Layers, strongest available first (the report states which were used):
- bubblewrap (`bwrap`): no network, its own PID namespace (nothing outlives the run), the file system
  read-only and limited to the system, Python and the few grader modules the child runs (`CHILD_MODULES`):
  the rest of the grader's tree (the reference solutions, the rubric, `.git`, the calibration files), the data
  and the output folder are not there; only its scratch directory is writable.
- a dedicated unprivileged uid when the grader runs as root, so that the process limit binds;
- cgroup v1 memory, pids and CPU (a quota of `threads` CPUs) limits for the whole process tree, where the
  cgroup file system is writable (`grader.sandbox.cgroup`); a nice level always;
- a writable space of its own per child (`grader.sandbox.space`): a tmpfs whose size the kernel enforces
  where the grader runs as root, else a polled folder; nothing else of the scratch is writable;
- rlimits always: address space, CPU time, file size, open files, processes; a wall-clock timeout that
  kills the whole process group; a scrubbed environment that carries a marker (`MARKER_VAR`), by which every
  process the child started is found and killed when it ends, whatever else failed;
- its stdout and stderr go through a pipe the parent drains, keeping a capped tail: no file of the host is
  open in the child for it to fill.
Nothing the child prints or returns as an exit code is a verdict: results cross back only as files in its
`out/` directory (JSON and `.npy` arrays), copied out bounded (`tree.copy_outputs`) and validated by the caller.
A child that never reached the submission's import (its stdout lacks `protocol.LOADING_LINE`), or that hit its
wall-clock limit while starved of CPU by the machine's load, ends in a status that is the grader's failure
(`ChildOutcome.grader_fault`), never the student's.
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from grader.sandbox import cgroup as cgroups
from grader.sandbox import limits as limits_module
from grader.sandbox.bwrap import INSIDE, bwrap_argv, existing, import_paths
from grader.sandbox.cgroup import ChildCgroup, kill_until_gone
from grader.sandbox.limits import ChildOutcome, Isolation, Limits
from grader.sandbox.nesting import json_depth
from grader.sandbox.protocol import CHILD_MODULE, LOADING_LINE, MARKER_VAR, PHASE_MODULE
from grader.sandbox.space import DISK_POLL_S, ChildSpace
from grader.sandbox.tree import TreeCaps, remove_tree, walk

UID_SLOTS = 1024  # children that can run at once on one machine, each with a uid of its own
UID_LOCKS = Path("/run/hw2-grade-uids")  # one lock file per uid in use (root's; the uids exist only as root)


def _count_processes(uid: int) -> int:
    n = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                n += d.stat().st_uid == uid
            except OSError:
                pass
    return n


def _kill_uid(uid: int, marker: str) -> None:
    """Kill every process of the sandbox uid: catches anything that escaped the process group. A process that
    carries another child's marker is spared: it belongs to another grading run sharing the uid on this
    machine (two `hw2-grade` commands at once), which killing it would break."""
    own = f"{MARKER_VAR}={marker}".encode()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid != uid:
                    continue
                env = (d / "environ").read_bytes().split(b"\0")
                if any(v.startswith(MARKER_VAR.encode() + b"=") and v != own for v in env):
                    continue
                os.kill(int(d.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


def marked_processes(prefix: str = "") -> list[int]:
    """Processes whose environment carries the sandbox marker (of children of this grader process when
    `prefix` is f"{os.getpid()}-", of one child when it is that child's whole marker)."""
    needle = f"{MARKER_VAR}={prefix}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                env = (d / "environ").read_bytes()
            except OSError:  # gone, or not ours to read
                continue
            if any(v.startswith(needle) for v in env.split(b"\0")):
                found.append(int(d.name))
    return found


def kill_marked(marker: str) -> None:
    """SIGKILL every process carrying `marker` until none is left."""
    kill_until_gone(lambda: marked_processes(marker))


def make_scratch(submission_dir: Path | None, base: Path | None = None, notes: list[str] | None = None,
                 caps: TreeCaps = TreeCaps(), first: str | None = None) -> Path:
    """A private directory holding a bounded copy of the submission (so the child never touches the original;
    an empty one for None): walked iteratively within `caps` (depth, entries, bytes), holes kept, .git, links
    and special files left out; what was left out is appended to `notes`."""
    scratch = Path(tempfile.mkdtemp(prefix="hw2grade-", dir=base))
    (scratch / "in").mkdir()
    if submission_dir is None:
        (scratch / "submission").mkdir(0o755)
        return scratch
    try:
        listing = walk(submission_dir, caps, copy_to=scratch / "submission", first=first)
    except BaseException:
        remove_tree(scratch)
        raise
    if notes is not None:
        notes.extend(listing.left_out)
    return scratch


@contextmanager
def claim_uid(first: int | None = None) -> Iterator[int]:
    """An unprivileged uid for one child, not used by any other child on this machine while it is held (an
    exclusive lock on UID_LOCKS/<uid>.lock, which dies with the process that holds it). Why: RLIMIT_NPROC
    counts a uid's processes, and after a child the grader kills every process of its uid; children of
    concurrent grading runs (two `hw2-grade` commands, batch workers) sharing one uid would starve or kill
    each other."""
    import fcntl

    first = limits_module.SANDBOX_UID if first is None else first  # read at call time: tests move the base
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in range(first, first + UID_SLOTS):
        fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
        return
    raise RuntimeError(f"all {UID_SLOTS} sandbox uids from {first} are in use (locks in {UID_LOCKS})")


def run_child(phase: str, request: dict, scratch: Path, limits: Limits, iso: Isolation, keep: Path,
              hidden: list[Path] = (), carry: list[Path] = ()) -> ChildOutcome:
    """Run `python -m grader.sandbox.child PHASE` on the submission copied in `scratch`; `request` is the JSON job.

    The child reads `in/request.json` (and arrays put in `in/` by the caller), finds `carry` (files of an
    earlier child) in its fresh `work/`, and writes `out/`, which is copied to `keep` when it ends. As root,
    it runs as a uid claimed for it alone (`claim_uid`), released once no process of that uid is left."""
    if not iso.drop_uid:
        return _run_child(phase, request, scratch, limits, iso, hidden, None, keep, list(carry))
    with claim_uid() as uid:
        return _run_child(phase, request, scratch, limits, iso, hidden, uid, keep, list(carry))


NICE = 5  # every child runs at a lower priority than the grader that must stop it
STARVED_SHARE = 0.75  # a child that waited for a CPU this share of the time it could run was starved
HEAD_BYTES = 64 << 10  # of the child's output kept from its start (where LOADING_LINE is)


def _run_child(phase: str, request: dict, scratch: Path, limits: Limits, iso: Isolation, hidden: list[Path],
               uid: int | None, keep: Path, carry: list[Path]) -> ChildOutcome:
    (scratch / "in" / "request.json").write_text(json.dumps(request))
    if iso.drop_uid:
        os.chmod(scratch, 0o755)
    space = ChildSpace(scratch / f"rw-{uuid.uuid4().hex[:8]}", limits, uid)
    try:
        space.carry(carry)
        outcome = _supervise(phase, request, scratch, space, limits, iso, hidden, uid)
        space.keep(keep)
    finally:
        space.close()
    outcome.out_dir = keep
    outcome.results = _read_results(keep, limits)
    if outcome.status == "ok" and outcome.results.get("_complete") is not True:
        memory_words = ("MemoryError", "bad_alloc", "Cannot allocate memory", "DefaultCPUAllocator: can't allocate")
        outcome.status = "memory" if outcome.oom or any(w in outcome.log_tail for w in memory_words) else "crashed"
    if outcome.status not in ("ok", "overloaded") and not outcome.started:  # no student code ran: the sandbox failed
        outcome.status = "unstarted"
    return outcome


def _supervise(phase: str, request: dict, scratch: Path, space: ChildSpace, limits: Limits, iso: Isolation,
               hidden: list[Path], uid: int | None) -> ChildOutcome:
    """Start the child, wait for it within its limits, kill everything it started; how it ended."""
    base, rw = (INSIDE, INSIDE) if iso.bwrap else (scratch, space.root)
    # -P: the work folder (the child's cwd, writable) is not put first on sys.path, so nothing the student
    # wrote there can stand in for a module the grader imports
    cmd = [sys.executable, "-P", "-s", "-B", "-m", PHASE_MODULE.get(phase, CHILD_MODULE), phase, str(base), str(rw)]
    threads = int(request.get("threads", 2))
    if iso.bwrap:
        cmd = bwrap_argv(iso, scratch, space.root, existing(list(hidden)), uid, tmp_bytes=limits.disk_bytes) + cmd
    marker = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # finds every process of this child, wherever it went
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(rw / "work"),
           "TMPDIR": "/tmp" if iso.bwrap else str(space.work),
           "PYTHONPATH": os.pathsep.join(str(p) for p in import_paths()), "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           # OpenMP's threads spin 300,000 times at each barrier before they sleep: a niced child on a busy
           # machine then burns its CPU time spinning for a sibling thread that is not running (measured on
           # this project's 2-core machine with three busy processes: a per-image-loop network's 10 SGD steps
           # took over 30 s of CPU instead of 2 s, and hit its CPU-time limit). 10,000 spins keeps the speed
           # of an idle machine (within noise, 12-16k images/s of the handout's network on 2 threads).
           "GOMP_SPINCOUNT": "10000",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", MARKER_VAR: marker}
    nproc = limits.processes if iso.drop_uid or os.geteuid() == 0 else _count_processes(os.geteuid()) + limits.processes
    cgroup = ChildCgroup(limits, threads, cgroups.available()) if iso.cgroup else None

    def preexec() -> None:
        os.setsid()  # own process group, killed as a whole on timeout
        os.nice(NICE)
        if cgroup:
            cgroup.enter()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if not iso.drop_uid:  # with drop_uid the limit must bind the sandbox uid, set below through bwrap's exec
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    if iso.drop_uid:  # RLIMIT_NPROC does not bind root; it is set for the sandbox uid by prlimit after setpriv
        cmd = cmd[: cmd.index("setpriv")] + ["prlimit", f"--nproc={nproc}", "setpriv"] + cmd[cmd.index("setpriv") + 1:]
    start = time.perf_counter()
    status, oom, proc, output, cpu_s = "ok", False, None, None, None
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, cwd=space.work, preexec_fn=preexec, close_fds=True)
        output = CappedOutput(proc.stdout, head=HEAD_BYTES, tail=limits.output_bytes)
        deadline = start + limits.wall_s
        while proc.poll() is None:
            if time.perf_counter() >= deadline:
                status = "overloaded" if _starved(marker, cgroup, limits.wall_s, threads) else "timeout"
                break
            if not space.mounted and space.full():  # a polled space: stopped within DISK_POLL_S
                status = "disk"
                break
            try:
                proc.wait(timeout=min(DISK_POLL_S, max(deadline - time.perf_counter(), 0.001)))
            except subprocess.TimeoutExpired:
                pass
    finally:
        if proc is not None:
            _ignore(os.killpg, proc.pid, signal.SIGKILL)
            proc.wait()
        if cgroup:
            oom, use = cgroup.oom_killed(), cgroup.cpu_use()
            cpu_s = use.cpu_s if use else None
            cgroup.close()
        if iso.drop_uid:
            _kill_uid(uid, marker)
        # Last: whatever still carries this child's marker (without bwrap, cgroups or a uid of its own,
        # a process that left the process group with setsid would otherwise live on).
        kill_marked(marker)
        if output is not None:
            output.close()
    if status == "ok" and space.full():
        status = "disk"
    seconds = time.perf_counter() - start
    started = f"{LOADING_LINE} ({marker})".encode() in output.head
    return ChildOutcome(status=status, seconds=seconds, log_tail=output.tail.decode("utf-8", "replace"),
                        returncode=proc.returncode, started=started, oom=oom, cpu_s=cpu_s)


def _ignore(fn, *args) -> None:
    try:
        fn(*args)
    except (OSError, ProcessLookupError):
        pass


class CappedOutput:
    """Drains a child's stdout pipe in a thread, keeping the first `head` and the last `tail` bytes: the child
    can print without end and the parent holds a bounded amount, on no disk."""

    def __init__(self, pipe, head: int, tail: int) -> None:
        self.pipe, self.head_limit, self.tail_limit = pipe, head, tail
        self.head, self.tail = b"", bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True, name="hw2-child-output")
        self._thread.start()

    def _drain(self) -> None:
        fd = self.pipe.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            if len(self.head) < self.head_limit:
                self.head += chunk[: self.head_limit - len(self.head)]
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    def close(self) -> None:
        """Once every writer is dead: read what is left, then close (a writer that escaped cannot hold it)."""
        self._thread.join(timeout=2.0)
        self._stop.set()
        self._thread.join()
        self.pipe.close()


def _starved(marker: str, cgroup: ChildCgroup | None, wall_s: float, threads: int) -> bool:
    """Whether the machine's other work starved the child of CPU: its threads that were ready to run for a
    good part of the time (no more of them than its share of `threads` CPUs: a child running more is
    crowding itself out) spent most of that time waiting for a CPU (the kernel's per-thread schedstat), and
    its own CPU quota did not hold it back. Then a wall-clock limit it hit says nothing about its code."""
    ready_threads = []  # (on CPU, waiting) in ns, per thread that was ready for over a tenth of the wall time
    for pid in marked_processes(marker):
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                on_cpu, queued, _ = (int(x) for x in (task / "schedstat").read_text().split())
                if on_cpu + queued > 0.1e9 * wall_s:
                    ready_threads.append((on_cpu, queued))
        except (OSError, ValueError):
            continue
    if not ready_threads or len(ready_threads) > threads + 1:  # asleep, or its own crowd
        return False
    use = cgroup.cpu_use() if cgroup else None
    if use is not None and use.throttled_s > 0.1 * wall_s:  # it wanted more than its quota: its own doing
        return False
    waiting = sum(q for _, q in ready_threads)
    return waiting / sum(c + q for c, q in ready_threads) > STARVED_SHARE


MAX_RESULT_DEPTH = 32  # nesting of the child's result.json (the grader's own is 6 deep)


def _read_results(out: Path, limits: Limits) -> dict:
    """The child's JSON, size- and depth-capped; anything unreadable counts as no result."""
    path = out / "result.json"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limits.result_bytes:
            return {}
        text = path.read_text(encoding="utf-8")
        if json_depth(text) > MAX_RESULT_DEPTH:
            return {}
        data = json.loads(text)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return {}


def load_array(out_dir: Path, name: str, shape: tuple[int, ...] | None = None, dtype: str | None = None,
               max_bytes: int = 64 << 20) -> np.ndarray:
    """A `.npy` array written by the child, loaded without pickle and validated; ValueError if not acceptable."""
    if not name.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"bad array name {name!r}")
    path = out_dir / f"{name}.npy"
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"no array {name}")
    if path.stat().st_size > max_bytes:
        raise ValueError(f"array {name} is larger than {max_bytes} bytes")
    arr = np.load(path, allow_pickle=False)
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"array {name} has shape {tuple(arr.shape)}, expected {tuple(shape)}")
    if dtype is not None and arr.dtype != np.dtype(dtype):
        raise ValueError(f"array {name} has dtype {arr.dtype}, expected {dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"array {name} holds NaN or infinite values")
    return arr
