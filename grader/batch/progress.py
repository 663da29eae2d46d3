"""What the batch shows while it runs: nothing, one line per finished student (logs, pipes), or a live bar."""
from __future__ import annotations

import sys
import time
from typing import Protocol

from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from grader.batch.records import DONE_STATUSES, StudentRecord, points_text
from grader.messages import plural


class Display(Protocol):
    def begin(self, total: int, skipped: int) -> None: ...
    def update(self, running: int) -> None: ...
    def finished(self, record: StudentRecord, running: int) -> None: ...
    def end(self) -> None: ...


class NullDisplay:
    def begin(self, total: int, skipped: int) -> None: pass
    def update(self, running: int) -> None: pass
    def finished(self, record: StudentRecord, running: int) -> None: pass
    def end(self) -> None: pass


class PlainDisplay:
    """One line per finished student (for logs and pipes)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.total = self.done = self.failed = 0
        self.start = time.monotonic()

    def begin(self, total: int, skipped: int) -> None:
        self.total, self.start = total, time.monotonic()
        note = f" ({skipped} already graded, skipped)" if skipped else ""
        print(f"grading {plural(total, 'student')}{note}", file=self.stream, flush=True)

    def update(self, running: int) -> None:
        pass

    def finished(self, record: StudentRecord, running: int) -> None:
        self.done += 1
        self.failed += record.status not in DONE_STATUSES
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        score = f"{points_text(record.total)}/{points_text(record.max_score)}" if record.total is not None else "-"
        why = f": {record.message}" if record.status not in DONE_STATUSES and record.message else ""
        print(f"[{self.done:>{len(str(self.total))}}/{self.total}] {record.student_id}: {record.status} {score} in "
              f"{record.seconds:.1f} s{why} (running {running}, failed {self.failed}; elapsed {clock(elapsed)}, "
              f"about {clock(left)} left)", file=self.stream, flush=True)

    def end(self) -> None:
        pass


class RichDisplay:
    """A live progress bar: done / running / failed, elapsed and estimated time left."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("running {task.fields[running]}  failed {task.fields[failed]}"),
                                 TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
        self.task = None
        self.failed = 0

    def begin(self, total: int, skipped: int) -> None:
        self.progress.start()
        if skipped:
            self.progress.console.print(f"{plural(skipped, 'student')} already graded: skipped (--regrade grades "
                                        f"{'it' if skipped == 1 else 'them'} again)")
        self.task = self.progress.add_task("grading", total=total, running=0, failed=0)

    def update(self, running: int) -> None:
        self.progress.update(self.task, running=running)

    def finished(self, record: StudentRecord, running: int) -> None:
        self.failed += record.status not in DONE_STATUSES
        if record.status not in DONE_STATUSES:
            self.progress.console.print(f"[red]{record.student_id}: {record.status}[/red] {escape(record.message)}",
                                        highlight=False)
        self.progress.update(self.task, advance=1, running=running, failed=self.failed)

    def end(self) -> None:
        self.progress.stop()


def clock(seconds: float) -> str:
    """h:mm:ss"""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
