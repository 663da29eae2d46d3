"""Where `grade_student` runs: the local process pool or a dask cluster, behind one interface (Executor), each
telling a student whose worker died from the innocent students in flight with it."""
from __future__ import annotations

import logging
import multiprocessing
import uuid
from abc import ABC, abstractmethod
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import dask
import distributed

from grader.batch.config import BatchConfig, BatchError
from grader.batch.records import StudentJob, StudentRecord, clear_claim, read_claim
from grader.batch.worker import grade_student, init_local_worker

MAX_REQUEUES = 2  # times an innocent student of a broken pool is graded again before it counts as `worker died`


class Outcomes(Protocol):
    """What an executor reports as it goes; `running` is the number of students still in flight."""

    def waiting(self, running: int) -> None:
        """About to wait for the next student to finish."""

    def graded(self, record: StudentRecord, running: int) -> None:
        """A worker returned the student's record (already in its grade.json)."""

    def failed(self, job: StudentJob, status: str, message: str, running: int) -> None:
        """The student's future failed: its worker died ("worker died") or the result was lost ("error")."""


class Executor(ABC):
    """Grades students with `grade_student`, about one student per worker in flight, so that a dead worker
    fails only its own student."""

    def __init__(self, config: BatchConfig) -> None:
        self.config = config

    @abstractmethod
    def run(self, todo: list[StudentJob], outcomes: Outcomes) -> None:
        """Grade every job; each ends in one call of outcomes.graded or outcomes.failed. Raises BatchError
        when the workers cannot be had; on KeyboardInterrupt, stops the workers and re-raises."""


class LocalExecutor(Executor):
    """A ProcessPoolExecutor with `jobs` spawned workers. When a worker dies the pool breaks and the others
    are terminated; their SIGTERM handler marks their student "terminated" in `.worker.json`, so only the
    student whose worker died is recorded as such and the others are graded again in a fresh pool."""

    def run(self, todo: list[StudentJob], outcomes: Outcomes) -> None:
        queue = deque(todo)
        requeued: Counter = Counter()
        context = multiprocessing.get_context("spawn")  # no fork of a parent with threads (progress bar, pools)
        while queue:
            pool = ProcessPoolExecutor(max_workers=self.config.jobs, mp_context=context, initializer=init_local_worker,
                                       initargs=(self.config.threads,))
            try:
                broken = self._until_broken(pool, queue, outcomes)
            except BaseException:
                _terminate_local_workers()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True, cancel_futures=True)  # joins the workers: their SIGTERM notes are on disk now
            for job in reversed(broken):
                claim = read_claim(job.student_dir)
                innocent = claim.get("state") == "terminated" or not claim  # terminated by the pool, or never started
                if innocent and requeued[job.student_id] < MAX_REQUEUES:
                    requeued[job.student_id] += 1
                    queue.appendleft(job)
                else:
                    outcomes.failed(job, "worker died", "the worker process grading this student died (killed, or out "
                                    "of memory); rerun to grade again", 0)

    def _until_broken(self, pool: ProcessPoolExecutor, queue: deque[StudentJob], outcomes: Outcomes) -> list[StudentJob]:
        """Grade from the queue until it is empty or the pool breaks; the students whose future failed
        because the pool broke."""
        in_flight: dict = {}
        broken: list[StudentJob] = []
        pool_broken = False
        while True:
            while queue and not pool_broken and len(in_flight) < self.config.jobs:  # only running students in flight
                job = queue.popleft()
                clear_claim(job.student_dir)
                try:
                    in_flight[pool.submit(grade_student, job)] = job
                except BrokenProcessPool:  # broke since the last wait: this one never started
                    queue.appendleft(job)
                    pool_broken = True
            if not in_flight:
                return broken
            outcomes.waiting(len(in_flight))
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                job = in_flight.pop(future)
                try:
                    record = future.result()
                except BrokenProcessPool:
                    broken.append(job)
                    pool_broken = True
                    continue
                except Exception as e:  # noqa: BLE001  e.g. a result that cannot be unpickled
                    outcomes.failed(job, "error", f"{type(e).__name__}: {e}", len(in_flight))
                    continue
                outcomes.graded(record, len(in_flight))
            if pool_broken and not in_flight:
                return broken


def _terminate_local_workers() -> None:
    """SIGTERM the pool's workers (Ctrl-C): each kills its sandboxed children and exits at once."""
    for process in multiprocessing.active_children():
        process.terminate()


class DaskExecutor(Executor):
    """One task per student (`pure=False`, `retries=0`) on the scheduler, or on a LocalCluster of `jobs`
    single-threaded worker processes started here, where a dead worker fails its task at once (KilledWorker)
    and a worker holds only the task it runs."""

    def run(self, todo: list[StudentJob], outcomes: Outcomes) -> None:
        config = self.config
        cluster = None
        try:
            if config.scheduler:
                client = distributed.Client(config.scheduler, timeout=config.scheduler_timeout_s)
            else:
                with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                      "distributed.scheduler.worker-saturation": 1.0}):
                    cluster = distributed.LocalCluster(n_workers=config.jobs, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR)
                client = distributed.Client(cluster)
        except (OSError, TimeoutError, ValueError) as e:
            raise BatchError(f"cannot reach the dask scheduler {config.scheduler or '(local cluster)'}: {e}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=config.scheduler_timeout_s)
            except TimeoutError:
                raise BatchError(f"the dask scheduler {config.scheduler} has no worker after "
                                 f"{config.scheduler_timeout_s:.0f} s") from None
            _dask_loop(client, todo, outcomes)
        finally:  # on Ctrl-C, closing our LocalCluster kills its workers; a shared cluster's running tasks finish
            client.close()
            if cluster is not None:
                cluster.close()


def _dask_loop(client: distributed.Client, todo: list[StudentJob], outcomes: Outcomes) -> None:
    queue = deque(todo)
    in_flight: dict = {}
    futures = distributed.as_completed([], with_results=False)
    try:
        while queue or in_flight:
            # keep about one student per worker thread in flight: a dead worker then fails only its own student
            slots = max(1, sum(client.nthreads().values()))
            while queue and len(in_flight) < slots:
                job = queue.popleft()
                clear_claim(job.student_dir)
                future = client.submit(grade_student, job, pure=False, retries=0,
                                       key=f"grade-student-{uuid.uuid4().hex}")  # one task group: queued fairly
                in_flight[future] = job
                futures.add(future)
            outcomes.waiting(len(in_flight))
            future = next(futures)
            job = in_flight.pop(future)
            try:
                record = future.result()
            except distributed.KilledWorker:
                outcomes.failed(job, "worker died", "the dask worker grading this student died (killed, or out of "
                                "memory); rerun to grade again", len(in_flight))
                continue
            except Exception as e:  # noqa: BLE001  cancelled, lost connection, unpicklable result
                outcomes.failed(job, "error", f"{type(e).__name__}: {e}", len(in_flight))
                continue
            outcomes.graded(record, len(in_flight))
    except BaseException:
        client.cancel(list(in_flight))
        raise


EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor, "dask": DaskExecutor}
