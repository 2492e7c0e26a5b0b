"""One supervisor for the daemon's background tasks, and the back-off of loops that fail.

``asyncio`` keeps only a weak reference to a task: a task nobody holds can be garbage-collected
mid-flight, and a task nobody awaits dies without a word ("Task exception was never retrieved"
at best, at interpreter exit). Every background task of the daemon is therefore spawned through
a ``TaskSupervisor``, which

- holds a reference until the task ends, and names it (``risk-enforce:acct-1``, ...);
- logs a failure once, with its traceback and the task's name, from a done-callback, and calls
  the spawner's ``on_failure`` (e.g. to release waiters that would otherwise wait forever);
- at shutdown cancels every task still running and waits for them up to a timeout, naming the
  ones that did not stop.

Components may still cancel and await their own tasks earlier (``FileChannel.stop``); the
supervisor is what makes sure nothing is left over and nothing fails unseen.

``Backoff`` is the delay of a loop that keeps failing (a missing folder, no file descriptors
left, a database down): doubling up to a ceiling, so a persistent fault costs a line every few
seconds instead of a CPU core and a traceback per millisecond.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from algotrade.core.errors import AlgoTradeError

_log = logging.getLogger("algotrade.daemon.supervisor")

T = TypeVar("T")
FailureCallback = Callable[["asyncio.Task[Any]", BaseException], None]


class Spawn(Protocol):
    """``TaskSupervisor.spawn`` as a value: what a component is given to run its tasks."""

    def __call__(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str,
        on_failure: FailureCallback | None = None,
        bot_id: str | None = None,
    ) -> asyncio.Task[T]: ...


class SupervisorClosed(AlgoTradeError):
    """A task was spawned after the supervisor shut down (a bug in the caller's shutdown order)."""


class TaskSupervisor:
    """Spawns, remembers, reports and finally cancels the daemon's background tasks.

    Constructing one does no I/O and needs no running loop; ``spawn`` needs one."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or _log
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.failures = 0  # tasks that ended with an exception (health, tests)

    @property
    def running(self) -> list[str]:
        """Names of the tasks not finished yet, sorted."""
        return sorted(task.get_name() for task in self._tasks if not task.done())

    @property
    def closed(self) -> bool:
        return self._closed

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str,
        on_failure: FailureCallback | None = None,
        bot_id: str | None = None,
    ) -> asyncio.Task[T]:
        """Run ``coro`` as a task named ``name``; its failure is logged (with ``bot_id`` when
        given) and passed to ``on_failure``. Raises ``SupervisorClosed`` after ``shutdown``."""
        if self._closed:
            coro.close()  # never started: no "coroutine was never awaited" warning
            raise SupervisorClosed(f"cannot start task {name}: the daemon is shutting down")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, on_failure, bot_id))
        return task

    async def shutdown(self, timeout: float) -> list[str]:
        """Cancel every task and wait up to ``timeout`` seconds for all of them to end; returns
        (and logs) the names of those still running. Tasks spawned while this runs (by a task's
        own clean-up) are cancelled too; spawning afterwards raises ``SupervisorClosed``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            pending = {task for task in self._tasks if not task.done()}
            if not pending:
                break
            for task in pending:
                task.cancel()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            _, still = await asyncio.wait(pending, timeout=remaining)
            if still:
                break
        self._closed = True
        stuck = self.running
        for name in stuck:
            self._log.warning(
                "task %s did not stop within %.1f s of being cancelled", name, timeout
            )
        return stuck

    def _finished(
        self, task: asyncio.Task[Any], on_failure: FailureCallback | None, bot_id: str | None
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # also marks it retrieved: asyncio will not complain again
        if error is None:
            return
        self.failures += 1
        extra = {"bot_id": bot_id} if bot_id is not None else None
        self._log.error(
            "task %s failed: %s: %s",
            task.get_name(),
            type(error).__name__,
            error,
            exc_info=error,
            extra=extra,
        )
        if on_failure is None:
            return
        try:
            on_failure(task, error)
        except Exception:  # the handler's own bug must not hide the task's failure
            self._log.exception("handling the failure of task %s failed", task.get_name())


@dataclass(slots=True)
class Backoff:
    """How long a failing loop waits before its next attempt: ``initial`` seconds after the
    first failure, doubling up to ``maximum``; ``succeeded()`` starts over."""

    initial: float
    maximum: float
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the delay before the next attempt."""
        self.failures += 1
        # The exponent is capped: 2 ** 10_000 overflows a float long before a loop gives up.
        return min(self.maximum, self.initial * 2.0 ** min(self.failures - 1, 60))

    def succeeded(self) -> int:
        """Count a success; returns how many failures in a row came before it."""
        failures, self.failures = self.failures, 0
        return failures
