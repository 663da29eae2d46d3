"""The cgroups (v1) of one child's process tree, where the grader may create them: memory and process counts
capped, CPU capped at the child's share (a quota of `threads` CPUs and the default weight), and its CPU time
and throttling read back, so that a child spinning 40 processes cannot take more than its share of the machine
from the students graded beside it."""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.sandbox.limits import CGROUP_ROOT, Limits

CPU_PERIOD_US = 100_000  # cfs period: the quota is granted per 100 ms
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")


def available() -> tuple[str, ...]:
    """The v1 controllers this process may create groups in (root, and a writable hierarchy)."""
    if os.geteuid() != 0:
        return ()
    return tuple(c for c in CONTROLLERS if os.access(CGROUP_ROOT / c, os.W_OK))


def kill_until_gone(pids: Callable[[], list[int]], rounds: int = 50) -> None:
    """SIGKILL the processes `pids()` lists until it lists none (a process may fork while we look)."""
    for _ in range(rounds):
        found = pids()
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


@dataclass(frozen=True)
class CpuUse:
    cpu_s: float  # CPU seconds of the whole tree
    throttled_s: float  # seconds the tree was held back by its quota (it wanted more than its share)


class ChildCgroup:
    """One group per controller for one child tree; removed on close (which never raises)."""

    def __init__(self, limits: Limits, cpus: int, controllers: tuple[str, ...]) -> None:
        name = f"hw2grade-{uuid.uuid4().hex[:12]}"
        self.dirs: dict[str, Path] = {}
        try:
            for c in controllers:
                d = CGROUP_ROOT / c / name
                d.mkdir()
                self.dirs[c] = d
            if "memory" in self.dirs:
                (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(limits.tree_memory_bytes))
            if "pids" in self.dirs:
                (self.dirs["pids"] / "pids.max").write_text(str(limits.processes))
            if "cpu" in self.dirs:
                (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(max(1, cpus) * CPU_PERIOD_US))
        except OSError:
            self.close()
            raise

    def enter(self) -> None:  # runs in the child between fork and exec
        for d in self.dirs.values():
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def oom_killed(self) -> bool:
        # The OOM killer's own count where the kernel has it (failcnt also counts page cache reclaimed at
        # the limit, which kills nothing).
        memory = self.dirs.get("memory")
        if memory is None:
            return False
        try:
            for line in (memory / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1]) > 0
        except (OSError, ValueError):
            pass
        try:
            return int((memory / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def cpu_use(self) -> CpuUse | None:
        try:
            cpu = int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
            stats = dict(line.split() for line in (self.dirs["cpu"] / "cpu.stat").read_text().splitlines())
            return CpuUse(cpu_s=cpu, throttled_s=int(stats.get("throttled_time", 0)) / 1e9)
        except (KeyError, OSError, ValueError):
            return None

    def members(self) -> list[int]:
        pids_dir = self.dirs.get("pids") or next(iter(self.dirs.values()), None)
        try:
            return [int(p) for p in (pids_dir / "cgroup.procs").read_text().split()] if pids_dir else []
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        kill_until_gone(self.members)

    def close(self) -> None:
        self.kill_all()
        for d in self.dirs.values():
            for _ in range(20):  # the last killed processes may take a moment to leave the group
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
