"""`hw2-grade batch`: grade a whole class from a roster, in a local process pool or on a dask cluster (see the
README, "Grading a class"), then merge the hand-given scores and export the gradebook (`hw2-grade finalize`).
Modules, each importing only those before it: roster, records, manifest, progress, fetch, similarity, config,
gradebook, exports, late, manualcsv, insight, manualpage, classpage, worker, executors, run, finalize, cli.

The names below are re-exported lazily (`grader.batch.X` imports X's module on first use): importing the
package runs this file first, and an eager import of `run` would make `import grader.batch.roster`, and every
worker process, pay for torch, matplotlib and dask (2.5 s measured) whether it needs them or not."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "roster": ("RosterEntry", "RosterError", "read_roster", "validate_id", "is_remote", "is_git_url", "resolve_source"),
    "records": ("STATUSES", "DONE_STATUSES", "GRADE_FILE", "CLAIM_FILE", "ERROR_FILE", "StudentJob", "ItemScore",
                "StudentRecord", "load_record", "read_claim"),
    "manifest": ("CLASS_FILE", "Manifest", "read_manifest", "write_manifest"),
    "similarity": ("SimilarityConfig", "find_similar"),
    "config": ("BatchConfig", "BatchError"),
    "progress": ("Display", "NullDisplay", "PlainDisplay", "RichDisplay"),
    "fetch": ("materialise",),
    "gradebook": ("gradebook_columns", "render_gradebook"),
    "exports": ("all_exports",),
    "late": ("LatePolicy", "make_policy"),
    "manualcsv": ("read_manual_csv",),
    "insight": ("class_insight",),
    "manualpage": ("render_manual_page",),
    "classpage": ("histogram_png", "render_index", "write_class_pages"),
    "worker": ("grade_student", "status_of"),
    "executors": ("Executor", "LocalExecutor", "DaskExecutor", "EXECUTORS"),
    "run": ("BatchSummary", "run_batch", "_lock"),
    "finalize": ("FinalizeConfig", "FinalizeError", "finalize"),
    "cli": ("main", "finalize_main"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(n for n in _MODULE_OF if not n.startswith("_"))


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
