"""Runs one phase of student code in a child process that cannot harm the machine or the grade.

Layers, strongest available first (the report states which were used):
- bubblewrap (`bwrap`): no network, its own PID namespace (nothing outlives the run), the file system
  read-only and limited to the system, Python and the few grader modules the child runs (`CHILD_MODULES`):
  the rest of the grader's tree (the reference solutions, the rubric, `.git`, the calibration files), the data
  and the output folder are not there; only its scratch directory is writable.
- a dedicated unprivileged uid when the grader runs as root, so that the process limit binds;
- cgroup v1 memory and pids limits for the whole process tree, where the cgroup file system is writable;
- rlimits always: address space, CPU time, file size, open files, processes; a wall-clock timeout that
  kills the whole process group; a scrubbed environment that carries a marker (`MARKER_VAR`), by which every
  process the child started is found and killed when it ends, whatever else failed.
Nothing the child prints or returns as an exit code is a verdict: results cross back only as files in its
`out/` directory (JSON and `.npy` arrays), which the caller validates.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from grader.sandbox.bwrap import INSIDE, bwrap_argv, existing, import_paths
from grader.sandbox import limits as limits_module
from grader.sandbox.limits import CGROUP_ROOT, ChildOutcome, Isolation, Limits
from grader.sandbox.protocol import CHILD_MODULE, PHASE_MODULE

UID_SLOTS = 1024  # children that can run at once on one machine, each with a uid of its own
UID_LOCKS = Path("/run/hw2-grade-uids")  # one lock file per uid in use (root's; the uids exist only as root)
MARKER_VAR = "HW2_GRADE_SANDBOX"  # in the environment of every child: "<grader pid>-<run id>"


def _count_processes(uid: int) -> int:
    n = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                n += d.stat().st_uid == uid
            except OSError:
                pass
    return n


class _Cgroup:
    """A memory+pids cgroup (v1) for one child tree; removed on close."""

    def __init__(self, limits: Limits) -> None:
        name = f"hw2grade-{uuid.uuid4().hex[:12]}"
        self.dirs = [CGROUP_ROOT / "memory" / name, CGROUP_ROOT / "pids" / name]
        for d in self.dirs:
            d.mkdir()
        (self.dirs[0] / "memory.limit_in_bytes").write_text(str(limits.tree_memory_bytes))
        (self.dirs[1] / "pids.max").write_text(str(limits.processes))

    def enter(self) -> None:  # runs in the child between fork and exec
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def oom_killed(self) -> bool:
        # The OOM killer's own count where the kernel has it (failcnt also counts page cache reclaimed at
        # the limit, which kills nothing).
        try:
            for line in (self.dirs[0] / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1]) > 0
        except (OSError, ValueError):
            pass
        try:
            return int((self.dirs[0] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def kill_all(self) -> None:
        for _ in range(50):
            pids = [int(p) for p in (self.dirs[1] / "cgroup.procs").read_text().split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def close(self) -> None:
        self.kill_all()
        for d in self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


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


def kill_marked(marker: str, rounds: int = 50) -> None:
    """SIGKILL every process carrying `marker` until none is left (a process may fork while we look)."""
    for _ in range(rounds):
        pids = marked_processes(marker)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def make_scratch(submission_dir: Path, base: Path | None = None) -> Path:
    """A private directory holding a copy of the submission (so the child never touches the original)."""
    scratch = Path(tempfile.mkdtemp(prefix="hw2grade-", dir=base))
    for sub in ("in", "out", "work"):
        (scratch / sub).mkdir()
    shutil.copytree(submission_dir, scratch / "submission", symlinks=True, ignore=_not_copied)
    # The copy keeps the student's modes (a 0700 folder, a 0600 file): make it readable by the sandbox uid.
    for path in [scratch / "submission", *(scratch / "submission").rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return scratch


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """What the scratch copy leaves out: .git, symbolic links (a link to the reference or the data would point
    out of the submission; without bubblewrap the child could follow it) and anything that is neither a
    file nor a folder (a FIFO would block the copy)."""
    import stat

    skipped = {".git"}
    for name in names:
        try:
            mode = os.lstat(os.path.join(folder, name)).st_mode
        except OSError:
            skipped.add(name)
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            skipped.add(name)
    return skipped


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


def run_child(phase: str, request: dict, scratch: Path, limits: Limits, iso: Isolation,
              hidden: list[Path] = ()) -> ChildOutcome:
    """Run `python -m grader.sandbox.child PHASE` on the submission copied in `scratch`; `request` is the JSON job.

    The child reads `in/request.json` (and arrays put in `in/` by the caller) and writes `out/`. As root, it
    runs as a uid claimed for it alone (`claim_uid`), released once no process of that uid is left."""
    if not iso.drop_uid:
        return _run_child(phase, request, scratch, limits, iso, hidden, uid=None)
    with claim_uid() as uid:
        return _run_child(phase, request, scratch, limits, iso, hidden, uid=uid)


def _run_child(phase: str, request: dict, scratch: Path, limits: Limits, iso: Isolation, hidden: list[Path],
               uid: int | None) -> ChildOutcome:
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    (scratch / "in" / "request.json").write_text(json.dumps(request))
    base = INSIDE if iso.bwrap else scratch
    cmd = [sys.executable, "-s", "-B", "-m", PHASE_MODULE.get(phase, CHILD_MODULE), phase, str(base)]
    if iso.bwrap:
        cmd = bwrap_argv(iso, scratch, existing(list(hidden)), uid) + cmd
    marker = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # finds every process of this child, wherever it went
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(base / "work"), "TMPDIR": "/tmp" if iso.bwrap else str(scratch / "work"),
           "PYTHONPATH": os.pathsep.join(str(p) for p in import_paths()), "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": str(request.get("threads", 2)), "MKL_NUM_THREADS": str(request.get("threads", 2)),
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", MARKER_VAR: marker}
    if iso.drop_uid:
        for p in (out, scratch / "work"):
            os.chown(p, uid, uid)
        os.chmod(scratch, 0o755)
    nproc = limits.processes if iso.drop_uid or os.geteuid() == 0 else _count_processes(os.geteuid()) + limits.processes
    cgroup = _Cgroup(limits) if iso.cgroup else None

    def preexec() -> None:
        os.setsid()  # own process group, killed as a whole on timeout
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
    log_path = scratch / "child.log"
    start = time.perf_counter()
    status = "ok"
    cpu_seconds = None
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=scratch / "work", preexec_fn=preexec, close_fds=True)
        try:
            # RLIMIT_FSIZE caps one file; the quota on all of them is polled (a file system quota would need
            # a mount of its own): a child past it is stopped within DISK_POLL_S.
            deadline = start + limits.wall_s
            while proc.poll() is None:
                if time.perf_counter() >= deadline:
                    status = "timeout"
                    cpu_seconds = _cpu_seconds(marker)
                    break
                if not _within_quota([out, scratch / "work"], limits):
                    status = "disk"
                    break
                try:
                    proc.wait(timeout=min(DISK_POLL_S, max(deadline - time.perf_counter(), 0.001)))
                except subprocess.TimeoutExpired:
                    pass
            if status == "ok" and not _within_quota([out, scratch / "work"], limits):
                status = "disk"
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if cgroup:
                oom = cgroup.oom_killed()
                cgroup.close()
            else:
                oom = False
            if iso.drop_uid:
                _kill_uid(uid, marker)
            # Last: whatever still carries this child's marker (without bwrap, cgroups or a uid of its own,
            # a process that left the process group with setsid would otherwise live on).
            kill_marked(marker)
    seconds = time.perf_counter() - start
    log_tail = _read_tail(log_path, limits.output_bytes)
    results = _read_results(out, limits)
    if status == "ok" and results.get("_complete") is not True:
        memory_words = ("MemoryError", "bad_alloc", "Cannot allocate memory", "DefaultCPUAllocator: can't allocate")
        status = "memory" if oom or any(w in log_tail for w in memory_words) else "crashed"
    return ChildOutcome(status=status, seconds=seconds, results=results, out_dir=out, log_tail=log_tail,
                        returncode=proc.returncode, cpu_seconds=cpu_seconds)


def _cpu_seconds(marker: str) -> float:
    """CPU seconds (user and system, with their reaped children's) of every live process of one child."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in marked_processes(marker):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17)
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


DISK_POLL_S = 0.2  # seconds between two looks at the child's disk use


def _within_quota(folders: list[Path], limits: Limits) -> bool:
    """Whether the folders hold at most limits.disk_bytes in at most limits.disk_entries entries (stops counting
    as soon as either is passed; symbolic links count as entries, never followed)."""
    total, entries = 0, 0
    stack = [str(f) for f in folders]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    entries += 1
                    if entries > limits.disk_entries:
                        return False
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
                    if total > limits.disk_bytes:
                        return False
        except OSError:
            continue
    return True


def _read_tail(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - limit))
        return f.read().decode("utf-8", "replace")


def _read_results(out: Path, limits: Limits) -> dict:
    """The child's JSON, size-capped; anything unreadable counts as no result."""
    path = out / "result.json"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limits.result_bytes:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError):
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
