"""The rubric as pytest tests: one test per selected automatic item (parametrized by grader.rubric.plugin),
each running its edition's judge and recording the verdict as pytest-json-report metadata."""
from __future__ import annotations

from grader.rubric.items import resolve


def test_item(item, ctx, record):
    record(resolve(item.judge_for(ctx.edition))(ctx))
