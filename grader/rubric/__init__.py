"""The rubric: item numbers, names and points (fixed), and `select` for `--only`.

Automatic items are pytest tests in this package's `test_*.py` modules, one module per handout problem;
manual items have no test and are listed as pending with the student's text.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RubricItem:
    number: str
    name: str
    points: float
    manual: bool = False
    bonus: bool = False
    answer_key: str = ""  # answers.toml key whose text a manual item shows ("problem2.reasons")
    public: bool = True  # checked in the student edition too (False: only the instructor's run scores it)


RUBRIC: tuple[RubricItem, ...] = (
    RubricItem("1.1", "BPTT output-layer gradients", 10, public=False),
    RubricItem("1.2", "BPTT recurrent gradients", 10, public=False),
    RubricItem("2.1", "G_t expression", 10, public=False),
    RubricItem("2.2", "two reasons", 10, manual=True, answer_key="problem2.reasons"),
    RubricItem("3.1", "synchronisation stages", 10, public=False),
    RubricItem("4.1", "parameter count", 5, public=False),
    RubricItem("4.2", "SGD multiplications", 5, public=False),
    RubricItem("4.3", "path-enumeration complexity", 10, public=False),
    RubricItem("5.1.1", "Net architecture", 3),
    RubricItem("5.1.2", "loss", 2),
    RubricItem("5.1.3", "Net trains (accuracy)", 3),
    RubricItem("5.1.4", "analysis", 2, manual=True, answer_key="problem5.analysis"),
    RubricItem("5.2.1", "init_weights variance", 4),
    RubricItem("5.2.2", "Kaiming-initialised Net trains better", 3),
    RubricItem("5.2.3", "proofs of Eq. 3 and 4", 3, manual=True, answer_key="problem5.proofs"),
    RubricItem("5.3.1", "NetBN architecture", 5),
    RubricItem("5.3.2", "NetBN trains (accuracy)", 5),
    RubricItem("5.4.1", "Adam", 4, bonus=True),
    RubricItem("5.4.2", "RMSProp", 3, bonus=True),
    RubricItem("5.4.3", "augmentation", 3, bonus=True),
)
BY_NUMBER = {i.number: i for i in RUBRIC}


class SelectionError(ValueError):
    pass


def select(only: str | None) -> tuple[str, ...]:
    """Rubric numbers chosen by `--only` ("5.1,1.2": prefixes select whole groups); all when empty."""
    if not only:
        return tuple(BY_NUMBER)
    chosen: list[str] = []
    for part in (p.strip() for p in only.split(",")):
        if not part:
            continue
        hits = [n for n in BY_NUMBER if n == part or n.startswith(part + ".")]
        if not hits:
            raise SelectionError(f"--only: {part!r} names no rubric item (items are {', '.join(BY_NUMBER)})")
        chosen += [h for h in hits if h not in chosen]
    if not chosen:
        raise SelectionError("--only: no rubric item given")
    return tuple(n for n in BY_NUMBER if n in chosen)
