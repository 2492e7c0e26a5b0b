"""The background tasks of a live venue account, and its reconciliation loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["TaskSet", "reconcile_loop"]


class TaskSet:
    """Tasks an account started: a failure is logged as ``<label> task <name> failed`` on
    ``log``; ``cancel`` stops the ones still running."""

    def __init__(self, label: str, log: logging.Logger) -> None:
        self._label = label
        self._log = log
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def add(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def cancel(self, timeout: float) -> None:
        """Cancel every task and wait up to ``timeout`` seconds for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error(
                "%s task %s failed", self._label, task.get_name(), exc_info=task.exception()
            )


async def reconcile_loop(
    wanted: asyncio.Event,
    reconcile: Callable[[str], Awaitable[object]],
    interval: float | None,
    *,
    label: str,
    log: logging.Logger,
) -> None:
    """Reconcile ("periodic") every ``interval`` seconds (never when ``None``) and soon after
    ``wanted`` is set; a burst of requests settles into one run. A failed run is logged as
    ``<label> reconciliation failed`` and the next one tries again."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wanted.wait(), timeout=interval)
        wanted.clear()
        await asyncio.sleep(0.2)  # let a burst of requests settle into one run
        try:
            await reconcile("periodic")
        except Exception:  # logged; the next run tries again
            log.exception("%s reconciliation failed", label)
