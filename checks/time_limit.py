"""Time limits on computations in the calling thread, whichever thread that is.

SIGALRM reaches only a process's main thread, and a grade may run in a worker thread (a Dask worker runs its
tasks in threads). So a watchdog thread raises `TimeLimitExceeded` in the limited thread through CPython's
PyThreadState_SetAsyncExc, which takes effect at the thread's next bytecode: pure-Python work such as sympy's
is stopped within milliseconds; a single long call into C code is stopped when it returns (the callers bound
the sizes such calls see). Limits nest; time spent inside `paused()` (waiting for sandboxed children, which
have limits of their own) does not count.
"""
from __future__ import annotations

import ctypes
import functools
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")
_local = threading.local()  # this thread's active limits, innermost last


class TimeLimitExceeded(BaseException):
    """A computation ran past its time limit. A BaseException, so that `except Exception` in the limited code
    cannot swallow it; `limit` is the `time_limit` whose block it ended."""

    limit: object = None


class _Limit:
    def __init__(self, seconds: float, absolute: float | None) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        if absolute is not None:
            self.deadline = min(self.deadline, absolute)
        self.absolute = absolute
        # a class of its own, so that an enclosing limit's exception passes through this one
        self.exception = type("TimeLimitExceeded", (TimeLimitExceeded,), {})
        self.paused_since: float | None = None
        self.lock = threading.Lock()
        self.fired = self.done = False


def _watch(limit: _Limit, thread_id: int) -> None:
    while True:
        with limit.lock:
            if limit.done:
                return
            now = time.monotonic()
            if limit.paused_since is None and now >= limit.deadline:
                limit.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(limit.exception))
                limit.deadline = now + 1.0  # raise again in a second if the first was swallowed
            wait = limit.deadline - now if limit.paused_since is None else 0.05
        time.sleep(min(max(wait, 0.005), 0.1))


@contextmanager
def time_limit(seconds: float, until: float | None = None) -> Iterator[_Limit]:
    """Stop the block with TimeLimitExceeded after `seconds` of its own time (paused time excluded), or at
    `until` (a time.monotonic() value) whichever comes first. Yields the limit (the exception's `limit`)."""
    limit = _Limit(seconds, until)
    stack = _local.__dict__.setdefault("limits", [])
    stack.append(limit)
    thread_id = threading.get_ident()
    watcher = threading.Thread(target=_watch, args=(limit, thread_id), daemon=True, name="time-limit")
    watcher.start()
    try:
        yield limit
    except limit.exception:
        error = TimeLimitExceeded(f"stopped after {seconds:g} s (the time limit)")
        error.limit = limit
        raise error from None
    finally:
        with limit.lock:
            limit.done = True
            if limit.fired:  # an exception raised but not yet delivered must not escape this block
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        stack.remove(limit)
        watcher.join()


@contextmanager
def paused() -> Iterator[None]:
    """The block's time does not count against this thread's limits (limits with an `until` keep their
    end: they fire as soon as the block is over, if it has passed)."""
    limits = list(getattr(_local, "limits", []))
    now = time.monotonic()
    for limit in limits:
        with limit.lock:
            if limit.paused_since is None:
                limit.paused_since = now
    try:
        yield
    finally:
        end = time.monotonic()
        for limit in limits:
            with limit.lock:
                if limit.paused_since == now:
                    limit.deadline += end - now
                    if limit.absolute is not None:
                        limit.deadline = min(limit.deadline, max(limit.absolute, end))
                    limit.paused_since = None


def limited(seconds: float, on_timeout: Callable[[float], T]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: run the function under `time_limit(seconds)`; when it is exceeded, return
    `on_timeout(seconds)` instead."""
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> T:
            own = None
            try:
                with time_limit(seconds) as own:
                    return fn(*args, **kwargs)
            except TimeLimitExceeded as e:
                if own is None or e.limit is not own:
                    raise  # an enclosing limit's
                return on_timeout(seconds)
        return wrapper
    return decorate
