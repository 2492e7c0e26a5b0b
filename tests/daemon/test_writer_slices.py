"""The activity writer keeps the event loop free: bounded slices, bounded commits, publishing
overlapped with the next commit, nothing told before it is stored, everything stored at stop.

Fake bots and a fake store here (the writer's own contract); the last test runs real bots on
a real SQLite store through ``BotService.shutdown``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from algotrade.daemon.bus import Topic
from algotrade.daemon.writer import ActivityWriter
from algotrade.store.records import Activity, EventRecord, FillConflict
from daemon.test_bot_service import open_service, sim_bot, wait_for


@dataclass
class _Config:
    bot_id: str


@dataclass
class FakeBot:
    """What the writer uses of a ``BotActor``: drain, on_committed, persistence_failed."""

    bot_id: str
    records_per_drain: int
    log: list[tuple[str, str]]
    config: _Config = field(init=False)
    drained: list[Activity] = field(default_factory=list)
    told: list[Activity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = _Config(self.bot_id)

    def drain_activity(self) -> Activity:
        now = datetime.now(UTC)
        events = [
            EventRecord(self.bot_id, now, "info", "test", f"{len(self.drained)}.{i}", {})
            for i in range(self.records_per_drain)
        ]
        activity = Activity(events=events)
        self.drained.append(activity)
        self.log.append(("drain", self.bot_id))
        return activity

    def on_committed(self, activity: Activity) -> None:
        self.told.append(activity)
        self.log.append(("tell", self.bot_id))

    def persistence_failed(self, exc: BaseException) -> None:  # pragma: no cover - not here
        raise AssertionError(f"unexpected persistence failure: {exc}")


class FakeStore:
    """Records each commit; ``gate`` (when set) holds commits after the first until the test
    opens it."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log
        self.commits: list[list[tuple[str, Activity]]] = []
        self.stored: set[int] = set()
        self.gate: threading.Event | None = None

    def record_activity_batch(self, items: list[tuple[str, Activity]]) -> list[FillConflict]:
        if self.gate is not None and self.commits and not self.gate.wait(timeout=5):
            raise AssertionError("the gate was never opened")
        self.commits.append(list(items))
        self.stored.update(id(activity) for _, activity in items)
        self.log.append(("commit", str(len(self.commits))))
        return []


class FakeClock:
    """Advances 1 ms each time it is read: 'work' measured by how often the writer looks."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def _records(items: list[tuple[str, Activity]]) -> int:
    return sum(len(activity.events) for _, activity in items)


async def _run_writer(
    bots: list[FakeBot], store: FakeStore, **options: Any
) -> tuple[ActivityWriter, list[int]]:
    """Mark every bot dirty, flush, stop; returns the writer and, for each turn of a ticker
    task running beside it, how many bots had been drained or told by then."""
    executor = ThreadPoolExecutor(max_workers=1)
    writer = ActivityWriter(store, executor, max_delay=0, clock=FakeClock(), **options)  # type: ignore[arg-type]
    writer.start()
    progress: list[int] = []
    log = bots[0].log

    async def ticker() -> None:
        while True:
            progress.append(len(log))
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    for bot in bots:
        writer.mark_dirty(bot)  # type: ignore[arg-type]
    await asyncio.wait_for(writer.flush(), timeout=10)
    await writer.stop(timeout=5)
    ticking.cancel()
    executor.shutdown()
    return writer, progress


async def test_draining_and_telling_yield_the_loop_every_slice() -> None:
    log: list[tuple[str, str]] = []
    bots = [FakeBot(f"b{i}", 1, log) for i in range(200)]
    store = FakeStore(log)
    writer, progress = await _run_writer(bots, store, slice_seconds=0.004)
    assert all(len(bot.told) == 1 for bot in bots)
    assert writer.yields >= 2 * 200 // 5  # drain and tell each came back to the loop often
    # Between two turns of another task, the writer did at most one slice: 4 clock reads of
    # 1 ms, so at most 4 bots drained or told (plus the commit's own log line).
    steps = [b - a for a, b in itertools.pairwise(progress)]
    assert max(steps) <= 5, max(steps)


async def test_a_big_backlog_is_committed_in_bounded_batches_in_order() -> None:
    log: list[tuple[str, str]] = []
    bots = [FakeBot(f"b{i}", 30, log) for i in range(100)]  # 3,000 records
    store = FakeStore(log)
    await _run_writer(bots, store, max_batch_records=500)
    sizes = [_records(items) for items in store.commits]
    assert sum(sizes) == 3000
    assert len(sizes) >= 6
    assert max(sizes) <= 500 + 30  # the limit, overshot by at most one bot's activity
    committed = [bot_id for items in store.commits for bot_id, _ in items]
    assert committed == [f"b{i}" for i in range(100)]  # oldest mark first


async def test_nothing_is_told_before_its_commit_and_telling_overlaps_the_next_commit() -> None:
    log: list[tuple[str, str]] = []
    bots = [FakeBot(f"b{i}", 10, log) for i in range(20)]
    store = FakeStore(log)
    store.gate = threading.Event()
    told_before_second_commit: list[int] = []
    original = FakeBot.on_committed

    def tell(self: FakeBot, activity: Activity) -> None:
        assert id(activity) in store.stored, "told before it was stored"
        original(self, activity)
        told_before_second_commit.append(len(store.commits))
        if len(store.commits) == 1:
            store.gate.set()  # type: ignore[union-attr]

    for bot in bots:
        bot.on_committed = tell.__get__(bot)  # type: ignore[method-assign]
    # Two commits: the second waits (on the store thread) until the first one's bots were
    # told, which only happens if telling runs while a commit is under way.
    await _run_writer(bots, store, max_batch_records=100)
    assert len(store.commits) == 2
    assert told_before_second_commit[0] == 1
    assert all(len(bot.told) == 1 for bot in bots)


async def test_shutdown_under_load_stores_every_fill_booked_and_told(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    bot_ids = [f"b{i}" for i in range(20)]
    subscription = service.bus.subscribe([Topic.FILLS])
    told: list[tuple[str, str]] = []

    async def listen() -> None:
        while True:
            message = await subscription.queue.get()
            told.append((str(message.bot_id), str(message.data["trade_id"])))

    listening = asyncio.create_task(listen())
    for bot_id in bot_ids:
        await service.create_bot(sim_bot(bot_id, params={"fast": 2, "slow": 3, "qty": 1}))
        await service.start_bot(bot_id)
    await wait_for(lambda: len(told) >= 200)
    booked = {bot_id: actor.fill_count for bot_id, actor in service._bots.items()}
    started = asyncio.get_running_loop().time()
    await service.shutdown(timeout=10)
    assert asyncio.get_running_loop().time() - started < 10
    listening.cancel()
    store = service._store
    stored: set[tuple[str, str]] = set()
    for bot_id in bot_ids:
        page = await asyncio.to_thread(store.fills, bot_id, limit=100_000)
        stored.update((bot_id, fill.trade_id) for fill in page.items)
        # Everything booked by the time SIGTERM came (and after) is stored.
        assert page.total >= booked[bot_id]
        assert page.total == service._bots[bot_id].fill_count
    assert set(told) <= stored
    assert not subscription.dropped
    store.close()


async def test_activity_drained_before_a_failing_drain_is_still_committed() -> None:
    log: list[tuple[str, str]] = []
    bots = [FakeBot(f"b{i}", 2, log) for i in range(10)]
    store = FakeStore(log)
    broken = bots[5]

    def fail() -> Activity:
        raise RuntimeError("a bug in one bot's drain")

    broken.drain_activity = fail  # type: ignore[method-assign]
    await _run_writer(bots, store)
    committed = [bot_id for items in store.commits for bot_id, _ in items]
    assert sorted(committed) == sorted(b.bot_id for b in bots if b is not broken)
    assert all(len(b.told) == 1 for b in bots if b is not broken)
