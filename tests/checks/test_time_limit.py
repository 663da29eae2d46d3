"""checks.time_limit stops pure-Python work after its limit in any thread (SIGALRM reaches only the main one),
lets limits nest, and does not count time spent in `paused()`."""
from __future__ import annotations

import threading
import time

import pytest
import sympy as sp

from checks.time_limit import TimeLimitExceeded, limited, paused, time_limit


def spin() -> None:
    while True:
        pass


def test_a_loop_in_the_main_thread_is_stopped_at_its_limit():
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="stopped after 0.3 s"):
        with time_limit(0.3):
            spin()
    assert 0.3 <= time.monotonic() - start < 2.0


def test_a_limit_works_in_a_worker_thread_and_pausing_does_not_count():
    """As in a Dask worker's thread: 1 s of waiting in paused() does not use up a 0.5 s limit."""
    seen = []

    def work():
        try:
            with time_limit(0.5):
                with paused():
                    time.sleep(1.0)
                seen.append("after the pause")
                spin()
        except TimeLimitExceeded:
            seen.append("stopped")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert seen == ["after the pause", "stopped"]


def test_limited_turns_its_own_limit_into_a_value_and_passes_an_outer_one_on():
    slow_expand = limited(0.3, lambda seconds: f"gave up after {seconds} s")(lambda: sp.expand((sp.Symbol("d") + sp.Symbol("n") + 1) ** 400))
    start = time.monotonic()
    assert slow_expand() == "gave up after 0.3 s" and time.monotonic() - start < 3
    with pytest.raises(TimeLimitExceeded) as outer:
        with time_limit(0.2) as limit:
            limited(30, lambda seconds: "inner")(spin)()
    assert outer.value.limit is limit


def test_nothing_is_raised_after_a_block_that_ended_in_time():
    with time_limit(0.2):
        pass
    time.sleep(0.5)  # a late exception from the watchdog would surface here
