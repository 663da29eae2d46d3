"""grader/progress.py and the events grade() sends: the item being judged and the phase, in order, to the
listener given (nothing global); TerminalProgress renders them."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

from grader.grade import grade
from grader.options import GradeOptions
from grader.progress import ITEM, PHASE, GradeEvent, TerminalProgress
from grader.rubric.items import RUBRIC
from tests.corpus.attacks import BASE


def test_grade_tells_its_listener_each_item_and_phase_in_order(tmp_path, calibration, isolation):
    folder = tmp_path / "alice"
    folder.mkdir()
    shutil.copy(BASE, folder / "submission.py")
    heard: list[GradeEvent] = []
    grade(Path(folder), GradeOptions(selected=RUBRIC.select("5.1.1,5.1.2"), verify_reference=False),
          calibration=calibration, isolation=isolation, listener=heard.append)
    items = [e.text for e in heard if e.kind == ITEM]
    assert items == ["5.1.1 Net architecture", "5.1.2 loss"]
    first_item = next(i for i, e in enumerate(heard) if e.kind == ITEM)
    probe = next(i for i, e in enumerate(heard) if e.kind == PHASE and "quick checks" in e.text)
    assert first_item < probe  # the probe child starts when the first judge asks for it, once
    assert sum(1 for e in heard if "quick checks" in e.text) == 1


def test_terminal_progress_shows_the_item_and_phase():
    stream = io.StringIO()
    with TerminalProgress(stream) as show:
        show(GradeEvent(ITEM, "5.1.3 Net trained"))
        show(GradeEvent(PHASE, "training Net (5.1.3), 2 epochs"))
        description = show.progress.tasks[0].description
    assert "5.1.3 Net trained" in description and "training Net (5.1.3), 2 epochs" in description
