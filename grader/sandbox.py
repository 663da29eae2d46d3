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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

SANDBOX_UID = 60123  # first of the unprivileged uids children run as when the grader is root; no account needed
UID_SLOTS = 1024  # children that can run at once on one machine, each with a uid of its own
UID_LOCKS = Path("/run/hw2-grade-uids")  # one lock file per uid in use (root's; the uids exist only as root)
INSIDE = Path("/sandbox")  # where the scratch directory appears inside bubblewrap
CGROUP_ROOT = Path("/sys/fs/cgroup")
# The only grader modules the child imports (grader.child and what it imports); inside bubblewrap they are
# all the child sees of the grader's tree. A module added to the child's imports must be listed here.
CHILD_MODULES = ("__init__.py", "child.py", "child_tasks.py", "engine.py", "trace.py")
MARKER_VAR = "HW2_GRADE_SANDBOX"  # in the environment of every child: "<grader pid>-<run id>"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child phase."""

    wall_s: float = 300.0  # wall-clock seconds before the process group is killed
    cpu_s: int = 600  # CPU seconds (RLIMIT_CPU), all threads together
    memory_bytes: int = 6 << 30  # address space per process (RLIMIT_AS); torch needs ~4 GiB of mappings to start
    tree_memory_bytes: int = 8 << 30  # resident memory of the whole process tree (cgroup), where available
    file_bytes: int = 256 << 20  # largest file the child may write (RLIMIT_FSIZE)
    disk_bytes: int = 1 << 30  # all the child leaves in its out/ and work/ together (polled, see DISK_POLL_S)
    disk_entries: int = 10_000  # files and folders in out/ and work/ together
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 96  # processes and threads of the child's uid (RLIMIT_NPROC) / of its cgroup
    output_bytes: int = 64 << 10  # stdout+stderr kept for diagnostics (the rest is discarded)
    result_bytes: int = 1 << 20  # largest JSON result accepted from the child

    def describe(self) -> str:
        return (f"wall {self.wall_s:.0f} s, CPU {self.cpu_s} s, address space {self.memory_bytes >> 30} GiB per process, "
                f"file size {self.file_bytes >> 20} MiB, disk {self.disk_bytes >> 20} MiB, {self.open_files} open files, "
                f"{self.processes} processes")


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
        parts = [f"bubblewrap ({self.bwrap}): no network, private PID namespace, read-only file system with only "
                 "the system, Python and the grader's child modules in it (the reference, the rubric, the data and "
                 "the outputs are not there)" if self.bwrap else
                 "rlimits only: NO bubblewrap, so student code can read and write files and use the network as the "
                 "grader's user; install bubblewrap for isolation"]
        parts.append(f"an unprivileged uid of its own (from {SANDBOX_UID})" if self.drop_uid else
                     f"same uid as the grader{' (root)' if os.geteuid() == 0 else ''}")
        parts.append("cgroup memory and process limits" if self.cgroup else "no cgroup limits")
        parts.append("rlimits on address space, CPU time, file size, open files and processes, and a wall-clock limit")
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
    status: str  # "ok", "timeout", "memory", "disk", "crashed"
    seconds: float  # wall time of the child
    results: dict = field(default_factory=dict)  # validated JSON the child wrote to out/result.json
    out_dir: Path | None = None  # where its arrays are (read with `load_array`)
    log_tail: str = ""  # the end of what it printed, for diagnostics only
    returncode: int | None = None  # of the process the grader started (bwrap passes its child's on)

    def describe_failure(self, limits: Limits) -> str:
        if self.status == "timeout":
            return f"timed out: stopped after {self.seconds:.0f} s (limit {limits.wall_s:.0f} s)"
        if self.status == "disk":
            return (f"filled its disk quota: stopped after {self.seconds:.0f} s (limit {limits.disk_bytes >> 20} MiB "
                    f"and {limits.disk_entries:,} files in its working folders)")
        if self.status == "memory":
            return (f"ran out of memory (limits: {_gib(limits.memory_bytes)} of address space per process, "
                    f"{_gib(limits.tree_memory_bytes)} for all its processes where cgroups are available)")
        tail = self.log_tail.strip().splitlines()[-1:] or ["no message"]
        return f"the process died ({_exit_words(self.returncode, limits)}; last output: {tail[0][:300]})"


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB"


def _exit_words(code: int | None, limits: Limits) -> str:
    """How the child ended, in words: bwrap reports a signal that killed its child as 128 + the signal."""
    if code is None:
        return "no exit status"
    sig = -code if code < 0 else code - 128 if code > 128 else 0
    if sig == signal.SIGXFSZ:
        return f"killed for writing more than {limits.file_bytes >> 20} MiB to one file"
    if sig == signal.SIGXCPU:
        return f"killed for using more than {limits.cpu_s} s of CPU time"
    if sig:
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"it exited with status {code} before the grader's tasks finished"


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


def grader_root() -> Path:
    """The directory holding the `grader` package: a source checkout or an installation's site-packages."""
    return Path(__file__).resolve().parent.parent


def _is_site_dir(p: Path) -> bool:
    return p.name in ("site-packages", "dist-packages")


def _import_paths() -> list[Path]:
    """The child's PYTHONPATH: the parent's import path, with the grader's root always in it (the parent's
    sys.path may reach the grader only through "" or the current directory, which the child does not share)."""
    paths = _python_paths()
    return paths if grader_root() in paths else paths + [grader_root()]


def _bwrap_argv(iso: Isolation, scratch: Path, hidden: list[Path], uid: int | None = None) -> list[str]:
    # As root, keep the real user namespace so that setpriv can switch to the unprivileged uid; otherwise
    # a new user namespace is what lets an ordinary user run bwrap at all.
    unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"] \
        if iso.drop_uid else ["--unshare-all"]
    argv = [iso.bwrap, *unshare, "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--dir", "/var/tmp"]
    for sys_dir in ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        argv += ["--ro-bind-try", sys_dir, sys_dir]
    # The grader's own tree is never bound whole: a source checkout holds solutions/ (and its history in
    # .git/), the rubric, the calibration and the reference classifier. Only CHILD_MODULES are bound, into
    # an otherwise empty grader/ folder (and solutions/, which `hidden` covers for every student). An
    # installed grader lives in site-packages, which Python needs: that is bound, with the grader's and the
    # checks' packages covered by empty folders; so is a checkout inside another directory on the import
    # path (the checkout is covered).
    root = grader_root()
    installed = _is_site_dir(root)
    bound = [p for p in _python_paths() if p != root or installed]
    outer = [p for p in bound if p == root or not p.is_relative_to(root)]
    inner = [p for p in bound if p not in outer]  # e.g. a virtual environment inside the checkout
    covers = [root / pkg for pkg in ("grader", "checks") if (root / pkg).is_dir()] if installed else \
        [root] if any(root.is_relative_to(p) for p in outer) else []
    # Directories bwrap creates on the way to a bind target are private to root unless made otherwise,
    # which would lock the unprivileged uid out of /work/... or /root/...
    parents = sorted({a for p in bound + [INSIDE / "x", root / "grader" / "x"] for a in p.parents if str(a) != "/"},
                     key=lambda a: len(a.parts))
    for a in parents:
        argv += ["--perms", "0755", "--dir", str(a)]
    for p in outer:
        argv += ["--ro-bind", str(p), str(p)]
    for c in covers:
        argv += ["--perms", "0755", "--tmpfs", str(c)]
    for a in parents:  # again, for the folders the covers hid
        if any(a.is_relative_to(c) and a != c for c in covers):
            argv += ["--perms", "0755", "--dir", str(a)]
    for p in inner:
        argv += ["--ro-bind", str(p), str(p)]
    if covers or installed:
        argv += ["--perms", "0755", "--dir", str(root / "grader")]
    for module in CHILD_MODULES:
        argv += ["--ro-bind", str(root / "grader" / module), str(root / "grader" / module)]
    # The reference solutions are bound too, for grading the bundled reference itself (it imports them);
    # for a student, grade() lists them in `hidden`, whose empty folders below cover them.
    for ref in reference_paths():
        argv += ["--ro-bind", str(ref), str(ref)]
    for c in covers:
        argv += ["--remount-ro", str(c)]
    # An empty read-only directory (or /dev/null for a file) over each hidden path that a bind above exposes;
    # covering one that nothing exposes would only create its parent folders for the child to see.
    visible = outer + inner + reference_paths() + [Path(d) for d in ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin")]
    for p in hidden:
        if any(p.is_relative_to(v) for v in visible):
            argv += ["--tmpfs", str(p), "--remount-ro", str(p)] if p.is_dir() else ["--ro-bind", "/dev/null", str(p)]
    argv += ["--ro-bind", str(scratch / "submission"), str(INSIDE / "submission"),
             "--ro-bind", str(scratch / "in"), str(INSIDE / "in"),
             "--bind", str(scratch / "out"), str(INSIDE / "out"),
             "--bind", str(scratch / "work"), str(INSIDE / "work"), "--chdir", str(INSIDE / "work")]
    if iso.drop_uid:  # bwrap runs as root to mount; setpriv then drops to the unprivileged uid for good
        argv += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
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

    first = SANDBOX_UID if first is None else first
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
    """Run `python -m grader.child PHASE` on the submission copied in `scratch`; `request` is the JSON job.

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
    cmd = [sys.executable, "-s", "-B", "-m", "grader.child", phase, str(base)]
    if iso.bwrap:
        cmd = _bwrap_argv(iso, scratch, _existing(list(hidden)), uid) + cmd
    marker = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # finds every process of this child, wherever it went
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(base / "work"), "TMPDIR": "/tmp" if iso.bwrap else str(scratch / "work"),
           "PYTHONPATH": os.pathsep.join(str(p) for p in _import_paths()), "PYTHONHASHSEED": "0",
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
                        returncode=proc.returncode)


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
