"""``LocalExecutor``: batches on a pool of worker processes on this machine.

The datasets go to each worker once, as the pool's initializer arguments (one pickle per
worker process, not one per task). Processes are started with ``spawn``: polars runs thread
pools, and forking a process that has threads can deadlock the child.

A worker process that dies (killed, out of memory) breaks the whole pool in
``concurrent.futures``; the executor then starts a new pool and resubmits the batches that had
not finished, each at most ``retries`` times.

Ctrl-C is the parent's alone, even while workers are still starting (``worker_process``
explains how): a run left early stops its workers itself (``worker_process.stop_pool``:
SIGTERM, then SIGKILL after a grace), and reaps them, so none is left running.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Self

from algotrade.core.errors import AlgoTradeError
from algotrade.data.bars import BarData
from algotrade.research import worker_data
from algotrade.research.evaluate import Batch, ResultRow
from algotrade.research.worker_data import BatchOutcome, DatasetPayload, WorkerData
from algotrade.worker_process import (
    exit_with_parent,
    ignore_sigint,
    starting_workers_without_sigint,
    stop_pool,
)

# Batches queued per worker beyond the running one: keeps workers busy without queueing a
# whole million-point sweep in memory at once.
QUEUED_PER_WORKER = 2
WAIT_SLICE_S = 0.5


class WorkerLostError(AlgoTradeError):
    """A batch's worker process died more often than the retries allow."""


class LocalExecutor:
    """A process pool of ``workers`` processes (see the module docstring)."""

    def __init__(self, workers: int, *, retries: int = 3) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._workers = workers
        self._retries = retries
        self._payloads: list[DatasetPayload] = []
        self._pool: ProcessPoolExecutor | None = None
        self._loads: dict[str, WorkerData] = {}
        # A run left before its end (Ctrl-C between two batches, a consumer that stopped): its
        # batches may still be running, and close() must not wait for them.
        self._unfinished = False

    @property
    def workers(self) -> int:
        return self._workers

    def put_data(self, datasets: Mapping[str, BarData]) -> None:
        self._payloads = list(worker_data.encode(datasets).values())
        self._shutdown_pool()  # the next run starts workers that hold the new data

    def data_loads(self) -> dict[str, WorkerData]:
        return dict(self._loads)

    def run(self, batches: Iterable[Batch]) -> Iterator[list[ResultRow]]:
        pending = iter(batches)
        in_flight: dict[Future[BatchOutcome], Batch] = {}
        retry: list[Batch] = []
        attempts: dict[str, int] = {}
        limit = self._workers * (1 + QUEUED_PER_WORKER)
        self._unfinished = True
        try:
            while True:
                pool = self._ensure_pool()
                while len(in_flight) < limit:
                    batch = retry.pop() if retry else next(pending, None)
                    if batch is None:
                        break
                    attempts[batch.batch_id] = attempts.get(batch.batch_id, 0) + 1
                    # A spawn pool starts a worker in submit when none is idle (and the submit
                    # may wait while that worker reads its start-up data, the datasets).
                    with starting_workers_without_sigint():
                        future = pool.submit(worker_data.run_installed, batch)
                    in_flight[future] = batch
                if not in_flight:
                    self._unfinished = False
                    return
                done = _first_finished(in_flight)
                for future in done:
                    batch = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        if attempts[batch.batch_id] > self._retries:
                            raise WorkerLostError(
                                f"batch {batch.batch_id}: its worker process died "
                                f"{attempts[batch.batch_id]} times"
                            ) from None
                        retry.append(batch)
                        continue
                    self._loads[outcome.worker] = outcome.data
                    yield outcome.rows
                if retry:
                    # The pool is broken: every batch still in it is lost with it.
                    retry.extend(in_flight.values())
                    in_flight.clear()
                    self._shutdown_pool()
        finally:
            if self._unfinished:  # stopped early (Ctrl-C, an error): do not wait for batches
                self._abandon_pool()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._payloads,),
            )
        return self._pool

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _abandon_pool(self) -> None:
        """Stop the pool now: queued batches are cancelled and running ones killed (their
        results would be discarded anyway)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            stop_pool(pool)

    def close(self) -> None:
        if self._unfinished:
            self._abandon_pool()
        else:
            self._shutdown_pool()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _first_finished(futures: Iterable[Future[BatchOutcome]]) -> set[Future[BatchOutcome]]:
    """Wait for at least one future. In slices: a signal may be handled by one of the pool's
    threads, and an endless wait would then keep Ctrl-C from reaching the main thread."""
    while True:
        done, _ = wait(futures, timeout=WAIT_SLICE_S, return_when=FIRST_COMPLETED)
        if done:
            return done


def _start_worker(payloads: list[DatasetPayload]) -> None:
    """Pool initializer. Ctrl-C reaches the whole process group: the parent alone handles it
    (stores what finished, stops the pool), so the workers ignore it."""
    ignore_sigint()
    exit_with_parent()
    worker_data.install(payloads)
