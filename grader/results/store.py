"""A grade kept on disk: the whole GradeResult as JSON (`report-data.json` in a batch student's folder), so that
`hw2-grade finalize` can merge the human grader's scores and render the report, results.json and badge again
without grading anew. PNG images travel as base64; the format is versioned."""
from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from checks.verdict import ProofResult
from grader.results.model import AccuracyRow, Curve, GradeResult, ItemResult

RESULT_FILE = "report-data.json"
FORMAT = 1
# PNG fields, read off the dataclass so that a new image field cannot be forgotten here
_BYTES = tuple(f.name for f in dataclasses.fields(GradeResult) if str(f.type).startswith("bytes"))
_LISTS = {"items": ItemResult, "curves": Curve, "accuracy_table": AccuracyRow, "proofs": ProofResult}


class StoreError(ValueError):
    """The file is not a grade this grader wrote."""


def result_to_json(result: GradeResult) -> str:
    data = dataclasses.asdict(result)
    for key in _BYTES:
        data[key] = base64.b64encode(data[key]).decode("ascii") if data[key] else None
    data["format"] = FORMAT
    return json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n"


def _record(cls: type, value: Any) -> Any:
    """A dataclass instance from its asdict() form; tuple fields come back as tuples."""
    if not isinstance(value, dict):
        raise StoreError(f"expected an object for {cls.__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(value) - set(names)
    if unknown:
        raise StoreError(f"unknown fields of {cls.__name__}: {', '.join(sorted(unknown))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    return cls(**kwargs)


def result_from_json(text: str) -> GradeResult:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise StoreError(f"not JSON: {e}") from None
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise StoreError(f"not a {RESULT_FILE} of format {FORMAT}")
    try:
        for key in _BYTES:
            data[key] = base64.b64decode(data[key]) if data.get(key) else None
        for key, cls in _LISTS.items():
            data[key] = [_record(cls, v) for v in data.get(key) or []]
        return GradeResult(**data)  # its list fields stay lists
    except (TypeError, ValueError) as e:
        raise StoreError(str(e)) from None
