"""Runs one phase of student code in a child process that cannot harm the machine or the grade.

Layers, strongest available first (the report states which were used):
- bubblewrap (`bwrap`): no network, its own PID namespace (nothing outlives the run), the file system
  read-only and limited to the system, Python and the grader's code, with the reference solutions, the data
  and the output folder hidden; only its scratch directory is writable.
- a dedicated unprivileged uid when the grader runs as root, so that the process limit binds;
- cgroup v1 memory and pids limits for the whole process tree, where the cgroup file system is writable;
- rlimits always: address space, CPU time, file size, open files, processes; a wall-clock timeout that
  kills the whole process group; a scrubbed environment.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SANDBOX_UID = 60123  # unprivileged uid the child runs as when the grader is root; no account needed
INSIDE = Path("/sandbox")  # where the scratch directory appears inside bubblewrap
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child phase."""

    wall_s: float = 300.0  # wall-clock seconds before the process group is killed
    cpu_s: int = 600  # CPU seconds (RLIMIT_CPU), all threads together
    memory_bytes: int = 6 << 30  # address space per process (RLIMIT_AS); torch needs ~4 GiB of mappings to start
    tree_memory_bytes: int = 8 << 30  # resident memory of the whole process tree (cgroup), where available
    file_bytes: int = 256 << 20  # largest file the child may write (RLIMIT_FSIZE)
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 96  # processes and threads of the child's uid (RLIMIT_NPROC) / of its cgroup
    output_bytes: int = 64 << 10  # stdout+stderr kept for diagnostics (the rest is discarded)
    result_bytes: int = 1 << 20  # largest JSON result accepted from the child

    def describe(self) -> str:
        return (f"wall {self.wall_s:.0f} s, CPU {self.cpu_s} s, address space {self.memory_bytes >> 30} GiB per process, "
                f"file size {self.file_bytes >> 20} MiB, {self.open_files} open files, {self.processes} processes")


@dataclass(frozen=True)
class Isolation:
    """What protects the machine, as found on this host."""

    bwrap: str | None  # path of bubblewrap, if usable
    drop_uid: bool  # child runs as SANDBOX_UID
    cgroup: bool  # memory and pids cgroups available

    @property
    def label(self) -> str:
        return "bubblewrap" if self.bwrap else "rlimits only"

    def describe(self) -> str:
        parts = [f"bubblewrap ({self.bwrap}): no network, private PID namespace, read-only file system with the "
                 "reference, data and outputs hidden" if self.bwrap else
                 "NO bubblewrap: student code can read files and use the network as this user; install "
                 "bubblewrap for isolation"]
        parts.append(f"unprivileged uid {SANDBOX_UID}" if self.drop_uid else "same uid as the grader")
        parts.append("cgroup memory and process limits" if self.cgroup else "no cgroup limits (rlimits only)")
        return "; ".join(parts)


def detect_isolation(allow_bwrap: bool = True) -> Isolation:
    bwrap = shutil.which("bwrap") if allow_bwrap else None
    if bwrap:
        probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                               capture_output=True, timeout=30)
        bwrap = bwrap if probe.returncode == 0 else None
    root = os.geteuid() == 0
    cgroup = root and all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("memory", "pids"))
    return Isolation(bwrap=bwrap, drop_uid=root and bwrap is not None, cgroup=cgroup)


@dataclass
class ChildOutcome:
    status: str  # "ok", "timeout", "memory", "crashed"
    seconds: float  # wall time of the child
    results: dict = field(default_factory=dict)  # validated JSON the child wrote to out/result.json
    out_dir: Path | None = None  # where its arrays are (read with `load_array`)
    log_tail: str = ""  # the end of what it printed, for diagnostics only

    def describe_failure(self, limits: Limits) -> str:
        if self.status == "timeout":
            return f"timed out: stopped after {self.seconds:.0f} s (limit {limits.wall_s:.0f} s)"
        if self.status == "memory":
            return f"ran out of memory (limit {limits.memory_bytes >> 30} GiB)"
        tail = self.log_tail.strip().splitlines()[-1:] or ["no message"]
        return f"the process died ({tail[0][:300]})"


def reference_paths() -> list[Path]:
    """Where the reference solutions live (hidden from student code)."""
    import importlib.util

    spec = importlib.util.find_spec("solutions")
    return [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []


def _existing(paths: list[Path]) -> list[Path]:
    return [p.resolve() for p in paths if p.exists()]


def _python_paths() -> list[Path]:
    """Directories the child's Python needs: interpreter prefixes and the parent's import path."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent.parent}
    paths.update(Path(p) for p in sys.path if p and Path(p).is_dir())
    return sorted({p.resolve() for p in paths})


def _bwrap_argv(iso: Isolation, scratch: Path, hidden: list[Path]) -> list[str]:
    # As root, keep the real user namespace so that setpriv can switch to the unprivileged uid; otherwise
    # a new user namespace is what lets an ordinary user run bwrap at all.
    unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"] \
        if iso.drop_uid else ["--unshare-all"]
    argv = [iso.bwrap, *unshare, "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--dir", "/var/tmp"]
    for sys_dir in ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        argv += ["--ro-bind-try", sys_dir, sys_dir]
    # Directories bwrap creates on the way to a bind target are private to root unless made otherwise,
    # which would lock the unprivileged uid out of /work/... or /root/...
    parents = sorted({a for p in _python_paths() + [INSIDE / "x"] for a in p.parents if str(a) != "/"},
                     key=lambda a: len(a.parts))
    for a in parents:
        argv += ["--perms", "0755", "--dir", str(a)]
    for p in _python_paths():
        argv += ["--ro-bind", str(p), str(p)]
    for p in hidden:  # an empty read-only directory (or /dev/null for a file) over each hidden path
        argv += ["--tmpfs", str(p), "--remount-ro", str(p)] if p.is_dir() else ["--ro-bind", "/dev/null", str(p)]
    argv += ["--ro-bind", str(scratch / "submission"), str(INSIDE / "submission"),
             "--ro-bind", str(scratch / "in"), str(INSIDE / "in"),
             "--bind", str(scratch / "out"), str(INSIDE / "out"),
             "--bind", str(scratch / "work"), str(INSIDE / "work"), "--chdir", str(INSIDE / "work")]
    if iso.drop_uid:  # bwrap runs as root to mount; setpriv then drops to the unprivileged uid for good
        argv += ["--", "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return argv


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


def _kill_uid(uid: int) -> None:
    """Kill every process of the sandbox uid: catches anything that escaped the process group."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid:
                    os.kill(int(d.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


def make_scratch(submission_dir: Path, base: Path | None = None) -> Path:
    """A private directory holding a copy of the submission (so the child never touches the original)."""
    scratch = Path(tempfile.mkdtemp(prefix="hw2grade-", dir=base))
    for sub in ("in", "out", "work"):
        (scratch / sub).mkdir()
    shutil.copytree(submission_dir, scratch / "submission", symlinks=True, ignore=shutil.ignore_patterns(".git"))
    # The copy keeps the student's modes (a 0700 folder, a 0600 file): make it readable by the sandbox uid.
    for path in [scratch / "submission", *(scratch / "submission").rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return scratch


def run_child(phase: str, request: dict, scratch: Path, limits: Limits, iso: Isolation,
              hidden: list[Path] = ()) -> ChildOutcome:
    """Run `python -m grader.child PHASE` on the submission copied in `scratch`; `request` is the JSON job.

    The child reads `in/request.json` (and arrays put in `in/` by the caller) and writes `out/`."""
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    (scratch / "in" / "request.json").write_text(json.dumps(request))
    base = INSIDE if iso.bwrap else scratch
    cmd = [sys.executable, "-s", "-B", "-m", "grader.child", phase, str(base)]
    if iso.bwrap:
        cmd = _bwrap_argv(iso, scratch, _existing(list(hidden))) + cmd
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(base / "work"), "TMPDIR": "/tmp" if iso.bwrap else str(scratch / "work"),
           "PYTHONPATH": os.pathsep.join(str(p) for p in _python_paths()), "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": str(request.get("threads", 2)), "MKL_NUM_THREADS": str(request.get("threads", 2)),
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    if iso.drop_uid:
        for p in (out, scratch / "work"):
            os.chown(p, SANDBOX_UID, SANDBOX_UID)
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
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=scratch / "work", preexec_fn=preexec, close_fds=True)
        try:
            proc.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            status = "timeout"
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
                _kill_uid(SANDBOX_UID)
    seconds = time.perf_counter() - start
    log_tail = _read_tail(log_path, limits.output_bytes)
    results = _read_results(out, limits)
    if status == "ok" and results.get("_complete") is not True:
        memory_words = ("MemoryError", "bad_alloc", "Cannot allocate memory", "DefaultCPUAllocator: can't allocate")
        status = "memory" if oom or any(w in log_tail for w in memory_words) else "crashed"
    return ChildOutcome(status=status, seconds=seconds, results=results, out_dir=out, log_tail=log_tail)


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
