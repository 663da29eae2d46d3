"""The benchmark runs (quick mode) and reports every pipeline with consistent ratios, so it cannot rot."""
from __future__ import annotations

import re

import pytest

from grader.tools.bench import BenchConfig, is_noisy, render, run_bench, time_full_grade


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


@pytest.mark.slow
def test_quick_bench_from_the_command_line_takes_under_a_minute_and_states_the_load(cifar10):
    import subprocess
    import sys
    import time

    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "grader.cli", "bench", "--quick", "--data", cifar10.source],
                         capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - start
    assert run.returncode == 0, run.stderr
    assert elapsed < 60, f"bench --quick took {elapsed:.0f} s"
    assert re.search(r"load average \(1 min\): \d+\.\d\d at the start, \d+\.\d\d at the end", run.stdout)
    assert "torch.compile" not in run.stdout and "full grade" not in run.stdout


def test_a_busy_machine_is_flagged_noisy_and_the_flag_is_printed():
    assert not is_noisy(start=0.2, end=2.3, cpus=2, quiet=0.5)  # the bench's own two threads at the end
    assert is_noisy(start=0.6, end=1.0, cpus=2, quiet=0.5)  # someone else was busy before it began
    assert is_noisy(start=0.1, end=3.1, cpus=2, quiet=0.5)  # more than its own threads by the end
    result = {"device": "cpu", "machine": "x", "train_images_per_s": {}, "engine/starter_b4": 1.0, "engine/bound": 1.0,
              "eval_images_per_s": 1.0, "data_load_s": 0.1, "peak_rss_mib": {"bench": 1, "children": 1}}
    quiet = render({**result, "load": {"start": 0.1, "end": 1.9, "noisy": False}})
    noisy = render({**result, "load": {"start": 3.5, "end": 5.0, "noisy": True}})
    assert "(quiet)" in quiet and "NOISY" not in quiet
    assert "NOISY" in noisy and "3.50 at the start" in noisy


@pytest.mark.slow
def test_the_full_grade_of_the_reference_is_timed_phase_by_phase_and_trains_every_run(cifar10):
    timed = time_full_grade(cifar10.source)
    assert timed["score"] >= timed["max_score"] > 0  # full marks (bonus on top)
    phases = timed["phases"]
    assert {"start-up (fresh interpreter, imports)", "probe checks and starting networks", "training net (grader)",
            "training kaiming (grader)", "training bn (grader)", "report (results.json, report.html, badge.svg)"} <= set(phases)
    assert not any("reused" in p for p in phases)  # a first grade's cost: no training cache
    seconds = [float(v.removesuffix(" s")) for v in phases.values()]
    assert timed["wall_s"] >= max(seconds) > 0
