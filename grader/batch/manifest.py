"""`DIR/class.json`: the roster as the batch read it (every column, in order), the items and the seed, written
when a batch starts. `hw2-grade finalize` reads the class from it: the students in roster order, their extra
columns for the gradebook and the LMS exports, and the late-policy columns."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grader.batch.records import now
from grader.batch.roster import RosterEntry
from grader.results.write import write_atomic

CLASS_FILE = "class.json"
FORMAT = 1


class ManifestError(ValueError):
    """DIR holds no usable class.json: not a batch's output folder, or one from another grader version."""


@dataclass(frozen=True)
class Manifest:
    roster: str  # the roster's path, as given
    entries: tuple[RosterEntry, ...]  # in roster order
    selected: tuple[str, ...]  # rubric numbers graded
    seed: int
    written_at: str = ""  # UTC, ISO 8601

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The roster's extra column names, in order (every entry has the same)."""
        return tuple(k for k, _ in self.entries[0].extra) if self.entries else ()


def write_manifest(out: Path, roster: Path, entries: list[RosterEntry], selected: tuple[str, ...], seed: int) -> None:
    data = {"format": FORMAT, "roster": str(roster), "selected": list(selected), "seed": seed, "written_at": now(),
            "students": [{"student_id": e.student_id, "path": e.path, "commit": e.commit, "extra": [list(kv) for kv in e.extra]}
                         for e in entries]}
    write_atomic(out / CLASS_FILE, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def read_manifest(out: Path) -> Manifest:
    path = out / CLASS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{out} holds no {CLASS_FILE}: give the --out folder of `hw2-grade batch` "
                            f"(run the batch with this grader version first)") from None
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path} cannot be read: {e}") from None
    try:
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        entries = tuple(RosterEntry(s["student_id"], s["path"], s["commit"], tuple((str(k), str(v)) for k, v in s["extra"]))
                        for s in data["students"])
        return Manifest(roster=str(data["roster"]), entries=entries, selected=tuple(map(str, data["selected"])),
                        seed=int(data["seed"]), written_at=str(data.get("written_at", "")))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ManifestError(f"{path} is not a class file of this grader: {e}") from None
