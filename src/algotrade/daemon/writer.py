"""The activity writer: commits what bots did, in batches, before anyone is told.

Bots mark themselves dirty after an event changed orders, fills or positions. The writer
drains every dirty bot, writes all of it in ONE transaction on the store's single writer
thread, and only after the commit lets each bot publish (WebSocket, status). Batching across
bots keeps a thousand busy bots at a handful of transactions per second.

The event loop is never held long: draining bots and publishing what committed are done in
slices of at most ``slice_seconds`` (then the writer yields to the loop), a commit carries at
most about ``max_batch_records`` records (the rest goes into the next one, at once), and the
publishing of one commit runs while the next commit is on the store thread. The order stays:
a bot's activity is committed in the order it was drained, and published in commit order.

Failures are isolated, never allowed to stop persistence for everyone:

- a batch that fails is written again bot by bot; a bot whose activity still fails is written
  record by record: what can be stored is stored and published, the bot goes to ``error``
  with the reason, and every other bot keeps persisting;
- while the store is unavailable (a transient failure: locked, connection lost), activity is
  kept and retried with backoff, never dropped;
- a fill whose trade id is stored with other content is not written (the stored fact stands)
  and its bot goes to ``error``: its books no longer match the store.

Simulated feeds keep pace with the store (``keep_pace``): bots on sim or replay prices can
trade faster than one process commits (1,000 bots ordering on every bar of a 50 ms tick), and
without a brake the activity not yet stored grew without bound: statuses and WebSocket clients
fell seconds behind, and a stop could not store it all in time. Those feeds wait before their
next bar while the oldest activity not yet taken for a commit is older than
``MAX_UNSTORED_SECONDS``. Live feeds never wait (the market does not), nor does anything while
the store is unavailable (activity is then kept for the retry, as before).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import TYPE_CHECKING, Any

from algotrade.core.errors import HaltError
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.store.errors import StoreUnavailableError
from algotrade.store.records import Activity, FillConflict
from algotrade.store.store import Store

if TYPE_CHECKING:
    from algotrade.daemon.bot_handle import HostedBot

_log = logging.getLogger("algotrade.daemon.writer")

Item = tuple["HostedBot", Activity]
# The longest stretch the writer holds the event loop before it yields (a bot's drain or
# publication is not split, so a stretch can end up to one bot longer).
SLICE_SECONDS = 0.004
# Records (orders, fills, positions, ...) a commit aims at: enough for SQLite and PostgreSQL
# to write at full speed, few enough that a commit (and so every acknowledgement) never waits
# behind seconds of backlog.
MAX_BATCH_RECORDS = 20_000
# The age of the oldest activity not yet taken for a commit beyond which simulated feeds wait
# for the store (``keep_pace``): what a stop must still store stays about a second's worth.
MAX_UNSTORED_SECONDS = 1.0
# How often a waiting feed looks again (the writer takes a batch within a commit or so).
PACE_POLL_SECONDS = 0.005
# The log says that simulated feeds wait at most this often (a busy daemon waits many times).
PACE_LOG_SECONDS = 60.0


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
        slice_seconds: float = SLICE_SECONDS,
        max_batch_records: int = MAX_BATCH_RECORDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._store = store
        self._supervisor = supervisor or TaskSupervisor()
        self._executor = executor
        self._dirty: dict[str, HostedBot] = {}
        # When each dirty bot was first marked, in the same (oldest first) order as _dirty.
        self._dirty_since: dict[str, float] = {}
        self._pending: list[Item] = []
        # Taken for a commit that has not ended yet (by id of the activity): counted as not
        # stored if the writer is cancelled meanwhile.
        self._in_flight: dict[int, Item] = {}
        # What committed and is still to be told (each entry: one bot's publication), in
        # commit order.
        self._to_publish: deque[Callable[[], None]] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._max_delay = max_delay  # gathering window: more bots per transaction
        self._slice_seconds = slice_seconds
        self._max_batch_records = max_batch_records
        self._clock = clock
        self._slice_started = 0.0  # when the writer last got the loop back
        self._stopping = False
        self._backoff = 0
        self.commits = 0
        self.failures = 0
        self.conflicts = 0
        self.yields = 0  # times the writer gave the loop back mid-work (tests, benchmarks)
        self.paced = 0  # times a simulated feed waited for the store (tests, benchmarks)
        self._paced_logged: float | None = None

    def mark_dirty(self, actor: HostedBot) -> None:
        bot_id = actor.config.bot_id
        if bot_id not in self._dirty_since:
            self._dirty_since[bot_id] = self._clock()
        self._dirty[bot_id] = actor
        self._idle.clear()
        self._wakeup.set()

    def unstored_seconds(self) -> float:
        """How long the oldest activity not yet taken for a commit has waited (0 if none)."""
        for since in self._dirty_since.values():  # the first is the oldest
            return max(0.0, self._clock() - since)
        return 0.0

    def _behind(self) -> bool:
        running = self._task is not None and not self._task.done()
        return (
            running
            and not self._stopping
            and not self._backoff  # the store is unavailable: nothing to wait for
            and self.unstored_seconds() > MAX_UNSTORED_SECONDS
        )

    async def keep_pace(self) -> None:
        """Return once the store keeps up (at once, nearly always): a simulated feed awaits
        this before each bar, so its bots cannot book faster than their books are stored."""
        if not self._behind():
            return
        self.paced += 1
        now = self._clock()
        if self._paced_logged is None or now - self._paced_logged >= PACE_LOG_SECONDS:
            self._paced_logged = now
            _log.warning(
                "simulated feeds wait for the store: bots book faster than it commits (the "
                "oldest activity not taken for a commit is %.1f s old); sim time runs slower",
                self.unstored_seconds(),
            )
        while self._behind():
            await asyncio.sleep(PACE_POLL_SECONDS)

    def start(self) -> None:
        self._task = self._supervisor.spawn(self._run(), name="activity-writer")

    def _has_work(self) -> bool:
        return bool(self._dirty or self._pending or self._to_publish)

    async def _run(self) -> None:
        backlog = False
        while not self._stopping or self._has_work():
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._max_delay and not self._stopping and not backlog:
                await asyncio.sleep(self._max_delay)
            self._slice_started = self._clock()
            backlog = False
            try:
                await self._write_once()
                if self._dirty or self._pending:  # a full batch left some: next one at once
                    backlog = True
                    self._wakeup.set()
                else:
                    await self._publish()
            except Exception:  # a bug here must not end persistence for every bot
                _log.exception("the activity writer failed; it carries on")
                await asyncio.sleep(0.1)
                self._wakeup.set()
            if not self._has_work():
                self._idle.set()

    def _slice_spent(self) -> bool:
        """Whether the writer has held the loop for ``slice_seconds`` since it last got it
        back (one budget for draining, telling and the commit's bookkeeping together)."""
        return self._clock() - self._slice_started >= self._slice_seconds

    async def _yield(self) -> None:
        self.yields += 1
        await asyncio.sleep(0)
        self._slice_started = self._clock()

    async def _take_batch(self, until: asyncio.Future[Any] | None = None) -> list[Item]:
        """Up to about ``max_batch_records`` records: activity kept from a failed attempt
        first (it is older), then drained from dirty bots, oldest mark first; yields the loop
        every ``slice_seconds`` (and stops at a yield once ``until`` is done)."""
        limit = self._max_batch_records
        records = 0
        taken = 0
        for _, activity in self._pending:
            if records >= limit:
                break
            records += _count(activity)
            taken += 1
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        if self._pending:
            return batch
        try:
            while self._dirty and records < limit:
                if self._slice_spent():
                    await self._yield()
                    if until is not None and until.done():
                        break
                bot_id = next(iter(self._dirty))
                actor = self._dirty.pop(bot_id)
                self._dirty_since.pop(bot_id, None)
                activity = actor.drain_activity()
                if not activity.is_empty:
                    batch.append((actor, activity))
                    records += _count(activity)
        except BaseException:
            # A failing drain (a bug) or a cancel mid-way: what was drained is not lost.
            self._pending = batch + self._pending
            raise
        return batch

    async def _drain_ahead(self, commit: asyncio.Future[Any]) -> None:
        if self._pending or self._stopping or commit.done():
            return  # a retry is under way, or stopping, or no time: nothing to gain
        self._pending = await self._take_batch(until=commit)

    async def _publish(self) -> None:
        """Publish what committed, in commit order, yielding every ``slice_seconds``."""
        queue = self._to_publish
        while queue:
            if self._slice_spent():
                await self._yield()
            queue.popleft()()

    async def _write_once(self) -> None:
        batch = await self._take_batch()
        if not batch:
            return
        self._in_flight = {id(activity): (actor, activity) for actor, activity in batch}
        await self._write(batch)
        # Cancelled meanwhile: left as it is, so ``stop`` counts what is not known stored.
        self._in_flight = {}

    async def _write(self, batch: list[Item]) -> None:
        commit = asyncio.ensure_future(self._commit(batch))
        # While this commit is on the store thread: tell what the previous one stored, then
        # drain the next batch (kept in ``_pending``, behind anything this one gives back),
        # so the store thread finds it ready.
        try:
            await self._publish()
            await self._drain_ahead(commit)
        except BaseException:
            commit.add_done_callback(_retrieve)  # cancelled meanwhile: nobody awaits it
            raise
        try:
            conflicts = await commit
            self._slice_started = self._clock()
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
        self._in_flight.pop(id(activity), None)
        self.failures += 1
        reason = f"store refused {failed} record(s) of this bot: {_one_line(error)}"
        _log.error("bot %s: %s", actor.config.bot_id, reason)
        # After what of it was stored is told (queued before this).
        self._to_publish.append(partial(actor.persistence_failed, PersistenceFailed(reason)))

    async def _retry_later(self, items: list[Item], exc: Exception) -> None:
        """The store is unavailable: keep everything, retry with backoff."""
        self.failures += 1
        self._backoff = min(self._backoff + 1, 6)
        delay = min(0.05 * 2**self._backoff, 2.0)
        _log.warning("the store is unavailable (%s); retrying in %.2f s", exc, delay)
        self._pending = items + self._pending
        for _, activity in items:
            self._in_flight.pop(id(activity), None)
        await asyncio.sleep(delay)
        self._wakeup.set()

    async def _commit(self, items: Sequence[Item]) -> list[FillConflict]:
        pairs = [(actor.config.bot_id, activity) for actor, activity in items]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._store.record_activity_batch, pairs)

    def _committed(self, items: Sequence[Item], conflicts: list[FillConflict]) -> None:
        """Queue the publication of each bot's committed activity (``_publish`` tells it)."""
        self.commits += 1
        by_bot: dict[str, list[FillConflict]] = {}
        for conflict in conflicts:
            by_bot.setdefault(conflict.bot_id, []).append(conflict)
        for actor, activity in items:
            self._in_flight.pop(id(activity), None)
            mine = by_bot.get(actor.config.bot_id, [])
            self._to_publish.append(partial(self._tell, actor, activity, mine))

    def _tell(self, actor: HostedBot, activity: Activity, conflicts: list[FillConflict]) -> None:
        try:
            actor.on_committed(activity)
            if conflicts:
                self.conflicts += len(conflicts)
                message = conflicts[0].describe()
                if len(conflicts) > 1:
                    message += f" (and {len(conflicts) - 1} more)"
                _log.error("bot %s: %s", actor.config.bot_id, message)
                actor.persistence_failed(PersistenceFailed(message))
        except Exception:  # publishing must never undo or block the commit
            _log.exception("publishing committed activity of %s failed", actor.config.bot_id)

    async def flush(self) -> None:
        """Return once everything marked so far is committed (raises if the writer task has
        ended, instead of waiting forever)."""
        if self._has_work():
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
        unstored = self._pending + list(self._in_flight.values())
        left = sum(_count(activity) for _, activity in unstored) + len(self._dirty)
        _log.error(
            "the store did not take the last activity within %.1f s: %d record(s) of %d bot(s) "
            "not stored (never published)",
            timeout or 0.0,
            left,
            len({actor.config.bot_id for actor, _ in unstored} | set(self._dirty)),
        )


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # logged by nobody: the writer is being cancelled


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
