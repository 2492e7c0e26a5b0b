"""The activity writer: commits what bots did, in batches, before anyone is told.

Bots mark themselves dirty after an event changed orders, fills or positions. The writer
drains every dirty bot, writes all of it in ONE transaction on the store's single writer
thread, and only after the commit lets each bot publish (WebSocket, status). Batching across
bots keeps a thousand busy bots at a handful of transactions per second.

Failures are isolated, never allowed to stop persistence for everyone:

- a batch that fails is written again bot by bot; a bot whose activity still fails is written
  record by record: what can be stored is stored and published, the bot goes to ``error``
  with the reason, and every other bot keeps persisting;
- while the store is unavailable (a transient failure: locked, connection lost), activity is
  kept and retried with backoff, never dropped;
- a fill whose trade id is stored with other content is not written (the stored fact stands)
  and its bot goes to ``error``: its books no longer match the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from algotrade.core.errors import HaltError
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.store.errors import StoreUnavailableError
from algotrade.store.records import Activity, FillConflict
from algotrade.store.store import Store

if TYPE_CHECKING:
    from algotrade.daemon.actor import BotActor

_log = logging.getLogger("algotrade.daemon.writer")

Item = tuple["BotActor", Activity]


class PersistenceFailed(HaltError):
    """A bot's activity could not be stored (bad data, not a passing outage)."""


class ActivityWriter:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        max_delay: float = 0.02,
        supervisor: TaskSupervisor | None = None,
    ) -> None:
        self._store = store
        self._supervisor = supervisor or TaskSupervisor()
        self._executor = executor
        self._dirty: dict[str, BotActor] = {}
        self._pending: list[Item] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._max_delay = max_delay  # gathering window: more bots per transaction
        self._stopping = False
        self._backoff = 0
        self.commits = 0
        self.failures = 0
        self.conflicts = 0

    def mark_dirty(self, actor: BotActor) -> None:
        self._dirty[actor.config.bot_id] = actor
        self._idle.clear()
        self._wakeup.set()

    def start(self) -> None:
        self._task = self._supervisor.spawn(self._run(), name="activity-writer")

    async def _run(self) -> None:
        while not self._stopping or self._dirty or self._pending:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._max_delay and not self._stopping:
                await asyncio.sleep(self._max_delay)
            try:
                await self._write_once()
            except Exception:  # a bug here must not end persistence for every bot
                _log.exception("the activity writer failed; it carries on")
                await asyncio.sleep(0.1)
                self._wakeup.set()
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
        try:
            conflicts = await self._commit(batch)
        except StoreUnavailableError as exc:
            await self._retry_later(batch, exc)
            return
        except Exception as exc:
            self.failures += 1
            _log.warning("writing the activity of %d bots failed (%s); bot by bot", len(batch), exc)
            await self._write_bot_by_bot(batch)
            return
        self._backoff = 0
        self._committed(batch, conflicts)

    async def _write_bot_by_bot(self, batch: list[Item]) -> None:
        unavailable: list[Item] = []
        last_error: Exception | None = None
        for item in batch:
            try:
                conflicts = await self._commit([item])
            except StoreUnavailableError as exc:
                unavailable.append(item)
                last_error = exc
                continue
            except Exception as exc:
                await self._write_record_by_record(item, exc)
                continue
            self._committed([item], conflicts)
        if unavailable:
            assert last_error is not None
            await self._retry_later(unavailable, last_error)
        else:
            self._backoff = 0

    async def _write_record_by_record(self, item: Item, error: Exception) -> None:
        """Store what can be stored of one bot's activity; the bot goes to ``error``."""
        actor, activity = item
        failed = 0
        for part in _single_records(activity):
            try:
                conflicts = await self._commit([(actor, part)])
            except Exception as exc:
                failed += 1
                error = exc
                continue
            self._committed([(actor, part)], conflicts)
        self.failures += 1
        reason = f"store refused {failed} record(s) of this bot: {_one_line(error)}"
        _log.error("bot %s: %s", actor.config.bot_id, reason)
        actor.persistence_failed(PersistenceFailed(reason))

    async def _retry_later(self, items: list[Item], exc: Exception) -> None:
        """The store is unavailable: keep everything, retry with backoff."""
        self.failures += 1
        self._backoff = min(self._backoff + 1, 6)
        delay = min(0.05 * 2**self._backoff, 2.0)
        _log.warning("the store is unavailable (%s); retrying in %.2f s", exc, delay)
        self._pending = items + self._pending
        await asyncio.sleep(delay)
        self._wakeup.set()

    async def _commit(self, items: Sequence[Item]) -> list[FillConflict]:
        pairs = [(actor.config.bot_id, activity) for actor, activity in items]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._store.record_activity_batch, pairs)

    def _committed(self, items: Sequence[Item], conflicts: list[FillConflict]) -> None:
        self.commits += 1
        by_bot: dict[str, list[FillConflict]] = {}
        for conflict in conflicts:
            by_bot.setdefault(conflict.bot_id, []).append(conflict)
        for actor, activity in items:
            mine = by_bot.get(actor.config.bot_id, [])
            try:
                actor.on_committed(activity)
                if mine:
                    self.conflicts += len(mine)
                    message = mine[0].describe()
                    if len(mine) > 1:
                        message += f" (and {len(mine) - 1} more)"
                    _log.error("bot %s: %s", actor.config.bot_id, message)
                    actor.persistence_failed(PersistenceFailed(message))
            except Exception:  # publishing must never undo or block the commit
                _log.exception("publishing committed activity of %s failed", actor.config.bot_id)

    async def flush(self) -> None:
        """Return once everything marked so far is committed (raises if the writer task has
        ended, instead of waiting forever)."""
        if self._dirty or self._pending:
            self._wakeup.set()
        task = self._task
        if task is None:
            await self._idle.wait()
            return
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({idle, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
        if not self._idle.is_set() and task.done():
            raise RuntimeError("the activity writer has stopped; activity is not being stored")

    async def stop(self, timeout: float | None = None) -> None:
        """Write what is left and end the task; after ``timeout`` (a store that stays
        unavailable) give up, saying how much was not stored. Nothing unstored was ever
        published, so nothing acknowledged is lost."""
        self._stopping = True
        self._wakeup.set()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if done:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        left = sum(_count(activity) for _, activity in self._pending)
        left += len(self._dirty)
        _log.error(
            "the store did not take the last activity within %.1f s: %d record(s) of %d bot(s) "
            "not stored (never published)",
            timeout or 0.0,
            left,
            len({actor.config.bot_id for actor, _ in self._pending} | set(self._dirty)),
        )


def _count(activity: Activity) -> int:
    return (
        len(activity.orders)
        + len(activity.fills)
        + len(activity.positions)
        + (activity.account is not None)
        + len(activity.equity)
        + len(activity.events)
    )


def _single_records(activity: Activity) -> list[Activity]:
    """One activity per record, fills first (the facts that matter most)."""
    parts = [Activity(fills=[fill]) for fill in activity.fills]
    parts += [Activity(orders=[order]) for order in activity.orders]
    parts += [Activity(positions=[position]) for position in activity.positions]
    if activity.account is not None:
        parts.append(Activity(account=activity.account))
    parts += [Activity(equity=[point]) for point in activity.equity]
    parts += [Activity(events=[event]) for event in activity.events]
    return parts


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]
