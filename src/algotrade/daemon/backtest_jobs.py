"""Backtest jobs for the API: a bounded queue in front of a small process pool.

A backtest is CPU-bound for seconds to minutes, so it never runs on the daemon's event loop
(DESIGN.md: heavy work goes to a process pool). The pool (``spawn`` context: a fresh
interpreter, no copy of the daemon's sockets, locks or threads) is created on the first job and
holds ``max_workers`` processes. Jobs wait in our own queue and are handed to the pool only
when a worker is free, so a broken pool fails just the jobs that were running in it:

- a worker that dies (killed, crashed, out of memory) fails its job with a one-line error and
  the pool is thrown away; the next job gets a new one;
- cancelling a running job kills the worker it runs in (a process pool cannot stop one task);
  another job that was running in the same pool is queued again (backtests are deterministic);
- at shutdown the workers are killed, not waited for.

Each job has a folder ``<root>/<job_id>/`` with ``job.json`` (state, written on every change)
and, when done, ``report.html`` and ``result.json`` (written by the worker). Jobs on disk are
listed again after a restart; one that was queued or running then is marked failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import shutil
import signal
import time
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from multiprocessing import get_context
from multiprocessing.connection import wait as wait_for_ready
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from algotrade.atomic_file import write_atomic
from algotrade.backtest.job_spec import REPORT_FILE, BarLoader, JobSpec
from algotrade.core.errors import InputError, RetryableError
from algotrade.daemon.service_api import ServiceError
from algotrade.worker_process import exit_with_parent

_log = logging.getLogger("algotrade.backtests")

JOB_FILE = "job.json"
JOB_ID_PATTERN = r"^bt-[0-9]{17}-[0-9a-f]{6}$"
_JOB_ID = re.compile(JOB_ID_PATTERN)
INTERRUPTED = "interrupted: the daemon stopped before this backtest finished"
Runner = Callable[[JobSpec, str | None, str], dict[str, Any]]


def run_job(
    spec: JobSpec, datasets_dir: str | None, out_dir: str, *, loader: BarLoader | None = None
) -> dict[str, Any]:
    """``backtest.job.run_job``, imported in the worker process that runs it: the daemon itself
    never loads polars, numpy or the report for a job (about 0.4 s of every start)."""
    from algotrade.backtest.job import run_job as run  # noqa: PLC0415 - see the docstring

    return run(spec, datasets_dir, out_dir, loader=loader)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})


class BacktestQueueFull(ServiceError, RetryableError):
    code = "queue_full"
    http_status = 429


class BacktestNotFound(ServiceError, InputError):
    code = "not_found"
    http_status = 404


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """Sortable by creation time: ``bt-<UTC yyyymmddHHMMSSmmm>-<random>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
    return f"bt-{stamp}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class BacktestJob:
    job_id: str
    spec: JobSpec
    state: JobState = JobState.QUEUED
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    metrics: dict[str, Any] | None = None
    symbols: list[str] = field(default_factory=list)
    bars: int | None = None
    cancel_requested: bool = False

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "job_id": self.job_id,
            "state": self.state.value,
            "strategy": spec.strategy,
            "params": spec.params,
            "data": "synthetic" if spec.synthetic is not None else "dataset",
            "synthetic": spec.synthetic is not None,
            "spec": spec.to_json(),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "metrics": self.metrics,
            "symbols": self.symbols,
            "bars": self.bars,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BacktestJob:
        return cls(
            job_id=data["job_id"],
            spec=JobSpec.from_json(data["spec"]),
            state=JobState(data["state"]),
            created_at=data["created_at"],
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            error=data.get("error"),
            metrics=data.get("metrics"),
            symbols=list(data.get("symbols") or []),
            bars=data.get("bars"),
        )


class BacktestJobs:
    """The jobs of one daemon. Methods run on the event loop; files are written in threads."""

    def __init__(
        self,
        root: Path,
        datasets: Path,
        *,
        max_workers: int = 1,
        max_queued: int = 8,
        max_kept: int = 50,
        runner: Runner = run_job,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if not 1 <= max_workers <= 4:
            raise ValueError(f"max_workers must be 1..4, got {max_workers}")
        self.root = root
        self.datasets = datasets
        self.max_workers = max_workers
        self.max_queued = max_queued
        self.max_kept = max_kept
        self._runner = runner
        # Told each job's state once it is written (``{"job_id", "deleted": True}`` when a
        # job is removed): the WebSocket topic ``backtests``.
        self._on_change = on_change
        self._jobs: dict[str, BacktestJob] = {}
        self._queue: deque[BacktestJob] = deque()
        self._running: dict[str, Future[dict[str, Any]]] = {}
        self._pool: ProcessPoolExecutor | None = None
        # Pools we killed on purpose (a cancel), so their other jobs are queued again.
        self._killed_pools: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._write_lock = asyncio.Lock()

    # -- reading --------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the jobs a previous run left (start-up, before serving). A job that was
        queued or running then is failed now: its worker died with that daemon."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            path = folder / JOB_FILE
            if not _JOB_ID.fullmatch(folder.name) or not path.is_file():
                continue
            try:
                job = BacktestJob.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _log.warning("backtest %s: unreadable %s (%s); skipped", folder.name, JOB_FILE, exc)
                continue
            if job.state in ACTIVE:
                job.state, job.error, job.finished_at = JobState.FAILED, INTERRUPTED, _now()
                self._write(job)
            self._jobs[job.job_id] = job

    def recent(self, limit: int) -> list[BacktestJob]:
        """Newest first."""
        return sorted(self._jobs.values(), key=lambda j: j.job_id, reverse=True)[:limit]

    def get(self, job_id: str) -> BacktestJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise BacktestNotFound(f"no backtest '{job_id}'")
        return job

    def report_path(self, job_id: str) -> Path | None:
        """The job's HTML report, or None until it is done."""
        job = self.get(job_id)
        path = self.root / job.job_id / REPORT_FILE
        return path if job.state is JobState.DONE and path.is_file() else None

    def worker_pids(self) -> list[int]:
        """Pids of the pool's live worker processes (tests, diagnostics)."""
        return [p.pid for p in self._processes() if p.pid is not None and p.is_alive()]

    # -- changing -------------------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> BacktestJob:
        if self._closed:
            raise BacktestQueueFull("the daemon is shutting down")
        queued = sum(1 for job in self._jobs.values() if job.state is JobState.QUEUED)
        if queued >= self.max_queued:
            raise BacktestQueueFull(
                f"{queued} backtests are already waiting (at most {self.max_queued}); "
                "try again when one has finished"
            )
        job = BacktestJob(new_job_id(), spec)
        self._jobs[job.job_id] = job
        self._queue.append(job)
        await self._save(job)
        await self._forget_oldest()
        self._dispatch()
        return job

    async def delete(self, job_id: str) -> BacktestJob | None:
        """Cancel a queued or running job (returns it, now cancelled); remove a finished one
        and its files (returns None)."""
        job = self.get(job_id)
        if job.state is JobState.QUEUED:
            self._queue.remove(job)
            self._finish(job, JobState.CANCELLED, error="cancelled before it started")
            await self._save(job)
            return job
        if job.state is JobState.RUNNING:
            job.cancel_requested = True
            self._kill_pool()  # the watcher marks it cancelled when the pool reports it
            return job
        async with self._write_lock:  # no job.json write may recreate the folder
            del self._jobs[job_id]
            await asyncio.to_thread(shutil.rmtree, self.root / job_id, True)
        self._tell({"job_id": job_id, "deleted": True})
        return None

    async def shutdown(self) -> None:
        """Kill the workers (a running backtest is not waited for) and stop the watchers."""
        self._closed = True
        for job in self._jobs.values():
            if job.state in ACTIVE:
                self._finish(job, JobState.FAILED, error=INTERRUPTED)
                await self._save(job)
        self._queue.clear()
        pool, processes = self._pool, self._processes()
        self._pool = None
        for task in list(self._tasks):
            task.cancel()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                with contextlib.suppress(Exception):
                    process.kill()
            await asyncio.to_thread(_join, processes)

    # -- the pool -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.max_workers and not self._closed:
            job = self._queue.popleft()
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.max_workers,
                    mp_context=get_context("spawn"),
                    initializer=exit_with_parent,  # a kill -9 of the daemon ends them too
                )
            pool = self._pool
            out = str(self.root / job.job_id)
            datasets = str(self.datasets)
            try:
                future = pool.submit(self._runner, job.spec, datasets, out)
            except (BrokenProcessPool, RuntimeError) as exc:
                # The pool broke between two jobs (a worker died while idle): the next job
                # gets a new pool; this one fails rather than retrying in a loop.
                _log.warning("backtest %s: worker pool unusable (%s)", job.job_id, exc)
                self._discard_pool(pool)
                self._finish(job, JobState.FAILED, error=f"cannot start a worker: {exc}")
                self._spawn(self._save(job), f"backtest-save-{job.job_id}")
                continue
            job.state, job.started_at = JobState.RUNNING, _now()
            self._running[job.job_id] = future
            # The workers exist once submit returns; kept to tell how one of them died.
            workers = self._processes()
            self._spawn(self._watch(job, pool, workers, future), f"backtest-{job.job_id}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(
        self,
        job: BacktestJob,
        pool: ProcessPoolExecutor,
        workers: list[BaseProcess],
        future: Future[dict[str, Any]],
    ) -> None:
        await self._save(job)
        try:
            outcome = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            outcome = None
        except Exception as exc:  # the runner itself never raises; pickling might
            _log.exception("backtest %s: the worker call failed", job.job_id)
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            self._running.pop(job.job_id, None)
        if outcome is None:
            killed_on_purpose = pool in self._killed_pools
            note = await asyncio.to_thread(_exit_note, workers)
            self._discard_pool(pool)
            if job.cancel_requested:
                self._finish(job, JobState.CANCELLED, error="cancelled while running")
            elif killed_on_purpose:
                # Another job's cancel killed this one's worker: run it again from the start.
                job.state, job.started_at = JobState.QUEUED, None
                self._queue.appendleft(job)
            else:
                self._finish(
                    job,
                    JobState.FAILED,
                    error=f"the backtest worker process died{note} (killed, crashed or out of "
                    "memory); the worker pool was restarted",
                )
                _log.error("backtest %s: worker process died%s", job.job_id, note)
        elif job.cancel_requested:
            self._finish(job, JobState.CANCELLED, error="cancelled while running")
        elif outcome.get("ok"):
            job.metrics = outcome.get("metrics")
            job.symbols = list(outcome.get("symbols") or [])
            job.bars = outcome.get("bars")
            self._finish(job, JobState.DONE)
        else:
            self._finish(job, JobState.FAILED, error=str(outcome.get("error") or "failed"))
        await self._save(job)
        self._dispatch()

    def _kill_pool(self) -> None:
        pool = self._pool
        if pool is None:
            return
        self._killed_pools.add(pool)
        for process in self._processes():
            with contextlib.suppress(Exception):
                process.kill()

    def _discard_pool(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def _processes(self) -> list[BaseProcess]:
        # ProcessPoolExecutor has no public handle on its workers before Python 3.14
        # (terminate_workers); killing one is the only way to stop a running task.
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return list(processes.values())

    # -- bookkeeping ----------------------------------------------------------------------------

    def _finish(self, job: BacktestJob, state: JobState, *, error: str | None = None) -> None:
        job.state, job.error, job.finished_at = state, error, _now()

    async def _save(self, job: BacktestJob) -> None:
        """Write ``job.json`` in a thread; one write at a time (each writes the job's state of
        that moment, so the last one holds the latest), and a cancelled caller does not stop
        the write it started (shielded) nor let the next one overlap it."""
        async with self._write_lock:
            if job.job_id not in self._jobs:
                return  # removed meanwhile: its folder must not come back
            write = asyncio.ensure_future(asyncio.to_thread(self._write, job))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                await write  # finish it before the lock lets the next write start
                raise
            finally:
                if write.done() and not write.cancelled() and write.exception() is None:
                    self._tell(job.to_json())

    def _tell(self, change: dict[str, Any]) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(change)
        except Exception:  # a listener's failure must not fail the job's bookkeeping
            _log.exception("backtest job %s: publishing its change failed", change["job_id"])

    def _write(self, job: BacktestJob) -> None:
        folder = self.root / job.job_id
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / JOB_FILE, json.dumps(job.to_json(), indent=1) + "\n")

    async def _forget_oldest(self) -> None:
        """Keep at most ``max_kept`` jobs: the oldest finished ones go, with their files."""
        finished = sorted(j.job_id for j in self._jobs.values() if j.state not in ACTIVE)
        excess = len(self._jobs) - self.max_kept
        for job_id in finished[: max(0, excess)]:
            async with self._write_lock:
                self._jobs.pop(job_id, None)
                await asyncio.to_thread(shutil.rmtree, self.root / job_id, True)
            self._tell({"job_id": job_id, "deleted": True})


def _exit_note(workers: list[BaseProcess]) -> str:
    """`` (exit code -9, SIGKILL)`` for the first worker that exited on its own, or ""."""
    for process in workers:
        process.join(2.0)
        code = _settled_exit_code(process)
        if code is None or code in (0, -signal.SIGTERM):
            continue  # alive, clean, or terminated by the pool after the first one died
        if code < 0:
            with contextlib.suppress(ValueError):
                return f" (exit code {code}, {signal.Signals(-code).name})"
        return f" (exit code {code})"
    return ""


def _settled_exit_code(process: BaseProcess, wait_seconds: float = 1.0) -> int | None:
    """The exit code of an ended worker, None for one still running.

    The pool's manager thread reaps the same child: when it wins the race our ``waitpid``
    fails, ``exitcode`` and even ``is_alive()`` report a running process, and the manager
    records the status on the shared handle a moment later. Whether the process has ended
    is therefore read from its sentinel (readable once it exits), not from ``is_alive()``."""
    code = process.exitcode
    if code is not None or not _has_ended(process):
        return code
    deadline = time.monotonic() + wait_seconds
    while code is None and time.monotonic() < deadline:
        time.sleep(0.02)
        code = process.exitcode
    return code


def _has_ended(process: BaseProcess) -> bool:
    try:
        return bool(wait_for_ready([process.sentinel], timeout=0))
    except (ValueError, OSError):  # closed handle: nothing more can be learned from it
        return False


def _join(processes: list[BaseProcess], timeout: float = 5.0) -> None:
    for process in processes:
        process.join(timeout)
