"""The benchmark runs (quick mode) and reports every pipeline with consistent ratios, so it cannot rot."""
from __future__ import annotations

import re

import pytest

from grader.tools.bench import BenchConfig, render, run_bench


@pytest.mark.slow
def test_quick_benchmark_reports_every_pipeline_and_consistent_ratios(cifar10):
    result = run_bench(BenchConfig(seconds=1.0, grade=False, data=cifar10.source))
    rates = result["train_images_per_s"]
    assert set(k.split(",")[0] for k in rates) == {"starter", "engine", "bound"}
    assert all(v > 0 for v in rates.values())
    engine = next(v for k, v in rates.items() if k.startswith("engine"))
    bound = next(v for k, v in rates.items() if k.startswith("bound"))
    assert result["engine/bound"] == pytest.approx(engine / bound)
    assert result["engine/starter_b4"] == pytest.approx(engine / rates["starter, batch 4"])
    assert result["eval_images_per_s"] > 0
    assert result["data_load_s"] < 5.0  # a cache hit; the README's figure is measured on a quiet machine
    table = render(result)
    assert re.search(r"engine / compute bound: +\d+\.\d\dx", table)
    assert "device: cpu" in table or "device: cuda" in table
    options = result["options_images_per_s"]
    assert {k.split(" (")[0] for k in options} == {"channels_last", "torch.compile", "2 networks as one", "3 networks as one"}
    assert all(v > 0 for v in options.values())
    assert all(result["options/bound"][k] == pytest.approx(v / bound) for k, v in options.items())
    assert "3 networks as one (vmap)" in table
