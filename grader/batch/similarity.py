"""Similar submissions: pairwise similarity of the students' code after normalisation, by copydetect's
winnowing (its tokenizer replaces variable, function and class names and strings by placeholders and drops
comments, so renamed variables and reordered functions still match), with boilerplate ignored: the course
starter and the contract's signatures (templates/similarity_boilerplate.txt) and any files the instructor
names. The pairs above a threshold go to DIR/similarity.json and get a side-by-side page under DIR/similar/.

A pair's score is the larger of the two shares "of one student's normalised code, the part also found in the
other's": high for a copy, whichever student added code around it. Measured on this project's corpus
(tests/grader/batch/test_similarity.py; copydetect hashes k-grams with Python's per-process string hash, so
only a 64-bit hash collision could change a figure from run to run): planted copies (identifiers renamed, definitions
in reverse order, comments rewritten) score 0.95; the honest solutions of tests/corpus/styles and
tests/grader/test_batch.py score at most 0.63 against each other. A listed pair is a lead for a human to read,
never a verdict."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from grader.batch.fetch import CLONES
from grader.batch.records import DONE_STATUSES, StudentRecord, read_json_object
from grader.batch.roster import RosterEntry, is_git_url, resolve_source
from grader.results.html import clean, template_environment, template_dirs
from grader.results.store import RESULT_FILE, StoreError, result_from_json
from grader.results.write import write_atomic
from grader.sandbox.submission import MAX_SOURCE_BYTES, locate_entry

SIMILARITY_FILE = "similarity.json"
PAIRS_DIR = "similar"
BOILERPLATE_FILE = "similarity_boilerplate.txt"
PAIR_TEMPLATE = "similar.html"


@dataclass(frozen=True)
class SimilarityConfig:
    threshold: float = 0.75  # pair score (share of normalised code found in the other) listed from here on
    noise_chars: int = 25  # k-gram length in characters of normalised code (copydetect's noise threshold)
    window: int = 1  # winnowing window in k-grams (1: every k-gram; copydetect's default guarantee 25 = noise)
    min_chars: int = 300  # a submission with less normalised code left after boilerplate is not compared
    boilerplate: tuple[Path, ...] = ()  # the course's own starter files, ignored too
    max_pairs: int = 200  # pairs listed at most (highest first)


@dataclass(frozen=True)
class Pair:
    a: str  # student ids, a before b in roster order
    b: str
    share_a: float  # of a's normalised code, the share also in b's
    share_b: float
    slices_a: tuple[tuple[int, int], ...]  # matching character ranges in a's source
    slices_b: tuple[tuple[int, int], ...]
    page: str = ""  # side-by-side page, relative to DIR

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


def graded_folder(out: Path, entry: RosterEntry, roster_dir: Path) -> Path:
    """The folder that was graded for a roster row: the batch's clone, or the roster's own folder."""
    if is_git_url(entry.path) or entry.commit:
        return out / CLONES / entry.student_id
    return Path(resolve_source(entry.path, roster_dir))


def submission_sources(out: Path, entries: Sequence[RosterEntry], records: Sequence[StudentRecord],
                       roster_dir: Path) -> dict[str, str]:
    """student id -> the graded code (submission.py, or the definitions kept from a notebook), for the
    students with a grade; at most MAX_SOURCE_BYTES each."""
    graded = {r.student_id for r in records if r.status in DONE_STATUSES}
    sources = {}
    for e in entries:
        if e.student_id not in graded:
            continue
        folder = graded_folder(out, e, roster_dir)
        try:
            entry = locate_entry(folder)
            if entry.notebook:
                # the parent never parses a notebook: the code its sandboxed slice kept is in the student's result
                result = result_from_json((out / e.student_id / RESULT_FILE).read_text(encoding="utf-8"))
                if result.graded_code:
                    sources[e.student_id] = result.graded_code[:MAX_SOURCE_BYTES]
            elif entry.file is not None:
                with open(folder / entry.file, encoding="utf-8", errors="replace") as f:
                    sources[e.student_id] = f.read(MAX_SOURCE_BYTES)
        except (OSError, ValueError, RecursionError, StoreError):
            continue  # the report already says why the folder could not be read
    return sources


def boilerplate_texts(config: SimilarityConfig) -> list[str]:
    bundled = next((d / BOILERPLATE_FILE for d in template_dirs() if (d / BOILERPLATE_FILE).is_file()), None)
    paths = ([bundled] if bundled else []) + list(config.boilerplate)
    return [p.read_text(encoding="utf-8", errors="replace")[:MAX_SOURCE_BYTES] for p in paths]


def find_similar(sources: dict[str, str], boilerplate: list[str], config: SimilarityConfig) -> tuple[list[Pair], int]:
    """(pairs at or above the threshold, highest first; submissions compared)."""
    # copydetect is imported here, not at the top: it imports matplotlib.pyplot (0.4 s measured on this
    # project's 2-core machine), which finalize and the class page, reading only similarity.json, do not need
    from copydetect.detector import CodeFingerprint, compare_files

    def fingerprint(text: str, window: int, boiler=None):
        # the name only tells copydetect's tokenizer the language; nothing is read from disk
        return CodeFingerprint("submission.py", config.noise_chars, window, boilerplate=boiler, fp=io.StringIO(text))

    boiler = np.unique(np.array([h for t in boilerplate for h in fingerprint(t, 1).hashes], dtype=np.int64))
    prints = {sid: fingerprint(text, config.window, boiler) for sid, text in sources.items()}
    ids = [sid for sid in sources if prints[sid].token_coverage >= config.min_chars]
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            _, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
            if max(share_a, share_b) >= config.threshold:
                pairs.append(Pair(a, b, round(float(share_a), 4), round(float(share_b), 4),
                                  _ranges(slices_a), _ranges(slices_b)))
    pairs.sort(key=lambda p: -p.score)
    return pairs[: config.max_pairs], len(ids)


def _ranges(slices: np.ndarray) -> tuple[tuple[int, int], ...]:
    """copydetect's (2, n) start/end array as (start, end) pairs."""
    return tuple((int(s), int(e)) for s, e in zip(*slices)) if len(slices) and len(slices[0]) else ()


def _segments(text: str, ranges: tuple[tuple[int, int], ...]) -> list[tuple[str, bool]]:
    """The text cut into (piece, matched) runs for the side-by-side view."""
    out, at = [], 0
    for start, end in sorted(ranges):
        start, end = max(start, at), min(end, len(text))
        if start > at:
            out.append((text[at:start], False))
        if end > start:
            out.append((text[start:end], True))
            at = end
    out.append((text[at:], False))
    return [(clean(piece, len(piece) + 1), matched) for piece, matched in out if piece]


def write_similarity(out: Path, sources: dict[str, str], pairs: list[Pair], compared: int,
                     config: SimilarityConfig) -> list[Pair]:
    """similarity.json and one side-by-side page per pair; returns the pairs with their page names."""
    (out / PAIRS_DIR).mkdir(exist_ok=True)
    template = template_environment().get_template(PAIR_TEMPLATE)
    named = []
    for n, p in enumerate(pairs, start=1):
        page = f"{PAIRS_DIR}/pair-{n:03d}.html"
        write_atomic(out / page, template.render(
            a=p.a, b=p.b, share_a=f"{100 * p.share_a:.0f}%", share_b=f"{100 * p.share_b:.0f}%",
            left=_segments(sources[p.a], p.slices_a), right=_segments(sources[p.b], p.slices_b)))
        named.append(replace(p, page=page))
    data = {"threshold": config.threshold, "compared": compared, "noise_chars": config.noise_chars,
            "window": config.window, "pairs": [{"a": p.a, "b": p.b, "share_a": p.share_a, "share_b": p.share_b,
                                                "page": p.page} for p in named]}
    write_atomic(out / SIMILARITY_FILE, json.dumps(data, indent=1) + "\n")
    return named


def read_similarity(out: Path) -> dict:
    """similarity.json as the class page shows it ({} when the batch wrote none)."""
    return read_json_object(out / SIMILARITY_FILE)
