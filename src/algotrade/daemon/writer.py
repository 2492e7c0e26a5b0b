"""The activity writer: commits what bots did, in batches, before anyone is told.

Bots mark themselves dirty after an event changed orders, fills or positions. The writer
drains every dirty bot, writes all of it in ONE transaction on the store's single writer
thread, and only after the commit lets each bot publish (WebSocket, status). Batching across
bots keeps a thousand busy bots at a handful of transactions per second.

A failed write is retried with backoff and the activity is kept, never dropped; after the
retries the failure is logged as an error and the activity waits for the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from algotrade.store.records import Activity
from algotrade.store.store import Store

if TYPE_CHECKING:
    from algotrade.daemon.actor import BotActor

_log = logging.getLogger("algotrade.daemon.writer")


class ActivityWriter:
    def __init__(self, store: Store, executor: Executor, *, max_delay: float = 0.02) -> None:
        self._store = store
        self._executor = executor
        self._dirty: dict[str, BotActor] = {}
        self._pending: list[tuple[BotActor, Activity]] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._max_delay = max_delay  # gathering window: more bots per transaction
        self._stopping = False
        self.commits = 0
        self.failures = 0

    def mark_dirty(self, actor: BotActor) -> None:
        self._dirty[actor.config.bot_id] = actor
        self._idle.clear()
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="activity-writer")

    async def _run(self) -> None:
        while not self._stopping or self._dirty or self._pending:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._max_delay and not self._stopping:
                await asyncio.sleep(self._max_delay)
            await self._write_once()
            if not self._dirty and not self._pending:
                self._idle.set()

    async def _write_once(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for actor in dirty.values():
            activity = actor.drain_activity()
            if not activity.is_empty:
                self._pending.append((actor, activity))
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        items = [(actor.config.bot_id, activity) for actor, activity in batch]
        loop = asyncio.get_running_loop()
        for attempt in range(5):
            try:
                await loop.run_in_executor(self._executor, self._store.record_activity_batch, items)
                break
            except Exception as exc:
                self.failures += 1
                _log.warning("writing bot activity failed (attempt %d): %s", attempt + 1, exc)
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            _log.error("bot activity not written after retries; keeping it for the next attempt")
            self._pending = batch + self._pending
            self._wakeup.set()
            return
        self.commits += 1
        for actor, activity in batch:
            try:
                actor.on_committed(activity)
            except Exception:  # publishing must never undo or block the commit
                _log.exception("publishing committed activity of %s failed", actor.config.bot_id)

    async def flush(self) -> None:
        """Return once everything marked so far is committed."""
        if self._dirty or self._pending:
            self._wakeup.set()
        await self._idle.wait()

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
