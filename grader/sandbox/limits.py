"""What confines a child and what protects the machine: the resource limits of one child phase
(`Limits`), the isolation found on this host (`Isolation`, `detect_isolation`), and how a child ended
(`ChildOutcome`), in words a student can act on."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.protocol import IDLE_SHARE

SANDBOX_UID = 60123  # first of the unprivileged uids children run as when the grader is root (grader.sandbox.process.claim_uid)
CGROUP_ROOT = Path("/sys/fs/cgroup")


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
    cpu_seconds: float | None = None  # CPU time its processes had used when a wall-clock limit stopped it

    def starved(self) -> bool:
        """Stopped at its wall-clock limit while computing, not waiting: under a CPU-time limit of its own
        (which it did not reach), that means the machine's load kept it from its CPU time."""
        return self.status == "timeout" and self.cpu_seconds is not None and \
            self.cpu_seconds >= IDLE_SHARE * self.seconds

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


