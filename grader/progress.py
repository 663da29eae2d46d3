"""What one grade says while it runs: `grade.grade` sends events (the rubric item being judged, the phase the
grader is in) to a listener it is given, and `TerminalProgress` shows them as one live line on a terminal.
Nothing here is global: a grade without a listener sends nowhere, and a batch passes none (it has its own
progress bar, grader.batch.progress)."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

ITEM, PHASE = "item", "phase"


@dataclass(frozen=True)
class GradeEvent:
    kind: str  # ITEM: a rubric item's judge starts; PHASE: what the grader does now (load data, run a child...)
    text: str  # "5.1.3 Net: trained network reaches the pass mark", "training NetBN (5.3.2) in the grader"


Listener = Callable[[GradeEvent], None]


def ignore(event: GradeEvent) -> None:
    """The listener of a grade nobody watches."""


class TerminalProgress:
    """One live line on a terminal: spinner, the item being judged, the phase, and the elapsed time (refreshed
    by rich's own thread, so the clock moves during a long training run). A context manager: the line is
    removed when the grade ends, leaving the terminal to the summary."""

    def __init__(self, stream: TextIO | None = None) -> None:
        # The rubric runs under pytest, whose capture points file descriptor 2 elsewhere while each judge runs:
        # the line is written to a duplicate of the terminal's descriptor, taken now, which that does not move.
        self._own = stream is None
        self.stream = stream or open(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
        self.console = Console(file=self.stream, highlight=False)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.item = ""
        self.phase = "starting"
        self.start = time.monotonic()
        self.task = self.progress.add_task(self._text(), total=None)

    def _text(self) -> str:
        item = f"[bold]{escape(self.item)}[/bold]  " if self.item else ""
        return f"grading  {item}[dim]{escape(self.phase)}[/dim]"

    def __call__(self, event: GradeEvent) -> None:
        if event.kind == ITEM:
            self.item, self.phase = event.text, "judging"
        else:
            self.phase = event.text
        self.progress.update(self.task, description=self._text())

    def __enter__(self) -> "TerminalProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
        if self._own:
            self.stream.close()
