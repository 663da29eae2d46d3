"""Problem 3, public check: the synchronisation stages (3.1) are a list of valid stage names of the two-column
AlexNet (conv1..conv5, fc6..fc8). Which stages are right is judged only by the instructor's run."""
from __future__ import annotations

from checks.answer_format import STAGE_NAMES, read_stage_list
from checks.verdict import Verdict

KEY = "problem3.sync_stages"


def stages_are_stage_names(ctx) -> Verdict:
    stages, problem = ctx.answer(KEY)
    if problem:
        return Verdict(0.0, problem)
    read = read_stage_list(stages)
    if read is None:
        return Verdict(0.0, f"{KEY} must be a list of stage names, got {type(stages).__name__}")
    if read.invalid:
        return Verdict(0.0, f"Not stage names: {', '.join(read.invalid)} (stages are {', '.join(STAGE_NAMES)}).",
                       read.notes)
    if not read.named:
        return Verdict(0.0, f"{KEY} names no stage.")
    return Verdict(1.0, f"{KEY} reads as a list of {len(read.named)} stage "
                        f"name{'s' if len(read.named) != 1 else ''}: {', '.join(read.named)}.", read.notes)
