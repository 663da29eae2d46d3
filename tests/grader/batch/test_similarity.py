"""Similar submissions: copydetect's winnowing over normalised code, the starter code and the contract's
signatures ignored. Planted copies (identifiers renamed, definitions reordered, comments rewritten) are found;
honest solutions written independently (the corpus's styles and the batch tests' solutions) are not.
No random sampling is involved (copydetect's k-gram hashes vary by process only through a 64-bit collision)."""
from __future__ import annotations

import ast
import re

import pytest

from grader import batch
from grader.batch.records import StudentRecord
from grader.batch.roster import RosterEntry
from grader.batch.similarity import (SimilarityConfig, boilerplate_texts, find_similar, read_similarity,
                                     submission_sources, write_similarity)
from grader.results.model import GradeResult
from grader.results.store import RESULT_FILE, result_to_json
from tests.corpus.styles import HERE
from tests.grader.html_tools import text_of
from tests.grader.test_batch import CORRECT, CORRECT_ATTRIBUTES, SYNTAX_ERROR

HONEST = {"seq": CORRECT, "attr": CORRECT_ATTRIBUTES, "base": (HERE / "base_submission.py").read_text(),
          **{s: (HERE / "styles" / s / "submission.py").read_text()
             for s in ("functional", "modulelist_dropout", "bias_free_bn", "script_with_main")}}


def disguise(source: str, renames: dict[str, str], comment: str) -> str:
    """A copy as a student would disguise it: identifiers renamed, top-level definitions in reverse order,
    comments dropped and one of their own added."""
    for old, new in renames.items():
        source = re.sub(rf"\b{old}\b", new, source)
    tree = ast.parse(source)
    lines = source.splitlines()
    chunks = ["\n".join(lines[(n.decorator_list[0].lineno if getattr(n, "decorator_list", None) else n.lineno) - 1:n.end_lineno])
              for n in tree.body]
    imports = [c for c, n in zip(chunks, tree.body) if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [c for c, n in zip(chunks, tree.body) if not isinstance(n, (ast.Import, ast.ImportFrom))]
    body = "\n\n\n".join(reversed(rest))
    body = "\n".join(line.split("  #")[0].rstrip() if "  #" in line else line for line in body.splitlines())
    return f"# {comment}\n" + "\n".join(imports) + "\n\n\n" + body + "\n"


PLANTED = {
    "copy-of-attr": disguise(CORRECT_ATTRIBUTES, {"conv1": "first", "conv2": "second", "fc1": "dense_a", "fc2": "dense_b",
                                                  "fc3": "out_layer", "bn1": "norm_a", "bn2": "norm_b", "bn3": "norm_c",
                                                  "bn4": "norm_d", "x": "h", "m": "layer", "fan_in": "n_inputs"},
                             "my own solution, written over the weekend"),
    "copy-of-base": disguise(HONEST["base"], {"model": "network", "logits": "scores", "targets": "labels",
                                              "images": "batch", "generator": "rng", "state": "memory"},
                             "HW2 submission"),
}


@pytest.fixture(scope="module")
def found():
    sources = {**HONEST, **PLANTED, "tiny-a": SYNTAX_ERROR, "tiny-b": SYNTAX_ERROR}
    return find_similar(sources, boilerplate_texts(SimilarityConfig()), SimilarityConfig()), sources


def test_planted_copies_are_found_and_honest_solutions_are_not(found):
    (pairs, compared), _ = found
    assert compared == 9  # the two tiny submissions have too little code left to compare
    assert {(p.a, p.b) for p in pairs} == {("attr", "copy-of-attr"), ("base", "copy-of-base")}
    assert all(min(p.share_a, p.share_b) >= 0.85 for p in pairs), pairs


def test_honest_solutions_stay_well_below_the_threshold(found):
    _, sources = found
    honest_only = {k: v for k, v in sources.items() if k in HONEST}
    low = SimilarityConfig(threshold=0.01)
    pairs, _ = find_similar(honest_only, boilerplate_texts(low), low)
    assert len(pairs) >= 10 and max(p.score for p in pairs) <= 0.65, [(p.a, p.b, p.score) for p in pairs]


def test_the_starter_code_does_not_count_as_shared():
    config = SimilarityConfig()
    starter = boilerplate_texts(config)[0]
    student = starter.split("# The contract")[0]  # a student who hands in the starter unchanged, twice
    with_boiler, _ = find_similar({"a": student + CORRECT, "b": student + CORRECT_ATTRIBUTES}, boilerplate_texts(config),
                                  config)
    without, _ = find_similar({"a": student + CORRECT, "b": student + CORRECT_ATTRIBUTES}, [], config)
    assert with_boiler == [] and len(without) == 1


def test_side_by_side_page_marks_shared_code_and_escapes_it(tmp_path, found):
    _, sources = found
    evil = {"x": PLANTED["copy-of-attr"] + '\nNOTE = "</pre><script>alert(1)</script>"\n',
            "y": CORRECT_ATTRIBUTES + '\nNOTE = "</pre><script>alert(1)</script>"\n'}
    config = SimilarityConfig()
    pairs, compared = find_similar(evil, boilerplate_texts(config), config)
    [pair] = write_similarity(tmp_path, evil, pairs, compared, config)
    page = (tmp_path / pair.page).read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<mark>") >= 3 and "self.fc1" in text_of(page, "right")
    assert read_similarity(tmp_path)["pairs"][0]["page"] == "similar/pair-001.html"
    html = batch.render_index([], tmp_path / "r.csv", tmp_path, ("5.1.2",), seed=0, n_students=2)
    assert "x and y" in text_of(html, "similar") and 'href="similar/pair-001.html"' in html


def test_a_notebook_is_compared_on_the_code_its_grade_ran_and_never_parsed_here(tmp_path):
    roster_dir, out = tmp_path / "class", tmp_path / "out"
    (roster_dir / "py-student").mkdir(parents=True)
    (roster_dir / "py-student" / "submission.py").write_text(CORRECT)
    (roster_dir / "nb-student").mkdir()
    # not valid JSON: were the notebook read here, it would fail; its graded code comes from the result
    (roster_dir / "nb-student" / "hw2.ipynb").write_text("{ not a notebook")
    (out / "nb-student").mkdir(parents=True)
    (out / "nb-student" / RESULT_FILE).write_text(result_to_json(GradeResult("nb-student", graded_code=CORRECT_ATTRIBUTES)))
    entries = [RosterEntry("py-student", "py-student"), RosterEntry("nb-student", "nb-student"),
               RosterEntry("ungraded", "py-student")]
    records = [StudentRecord("py-student", "graded"), StudentRecord("nb-student", "graded"),
               StudentRecord("ungraded", "failed to load")]

    sources = submission_sources(out, entries, records, roster_dir)

    assert sources == {"py-student": CORRECT, "nb-student": CORRECT_ATTRIBUTES}
