"""Simulated feeds keep pace with the store: while the oldest activity not yet taken for a
commit is older than ``MAX_UNSTORED_SECONDS``, sim streams and replays wait before their next
bar; they never wait while the store is unavailable or the writer stops.

Before this, 1,000 bots ordering on every bar of a 50 ms sim tick booked faster than one
process commits: the unstored backlog grew without bound, statuses and WebSocket clients fell
further behind every second, and a SIGTERM after 25 s could not store it in 10 s (exit 1).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.events import Bar
from algotrade.daemon import writer as writer_module
from algotrade.daemon.feeds import feed_factory
from algotrade.daemon.sim_feed import SimFeedHub, SimOptions
from algotrade.daemon.writer import ActivityWriter
from algotrade.store.errors import StoreUnavailableError
from algotrade.store.records import Activity, FillConflict
from daemon.test_bot_service import sim_bot, wait_for
from daemon.test_supervisor import replay_config
from daemon.test_writer_slices import FakeBot, FakeStore
from testkit.service_harness import close_service, open_service


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class OutageStore(FakeStore):
    """``FakeStore`` (its ``gate`` holds commits after the first) that fails every commit as
    an outage while ``unavailable``."""

    def __init__(self) -> None:
        super().__init__([])
        self.unavailable = False

    def record_activity_batch(self, items: list[tuple[str, Activity]]) -> list[FillConflict]:
        if self.unavailable:
            raise StoreUnavailableError("database is locked")
        return super().record_activity_batch(items)


def _bot(bot_id: str) -> FakeBot:
    return FakeBot(bot_id, 1, [])


def _writer(store: FakeStore, clock: ManualClock) -> tuple[ActivityWriter, ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1)
    writer = ActivityWriter(store, executor, max_delay=0, clock=clock)  # type: ignore[arg-type]
    return writer, executor


async def test_unstored_seconds_is_the_age_of_the_oldest_mark_not_yet_taken() -> None:
    clock = ManualClock()
    writer, executor = _writer(OutageStore(), clock)
    a, b = _bot("a"), _bot("b")
    assert writer.unstored_seconds() == 0.0
    writer.mark_dirty(a)  # type: ignore[arg-type]
    clock.now += 0.4
    writer.mark_dirty(a)  # type: ignore[arg-type]  # marked again: still as old
    writer.mark_dirty(b)  # type: ignore[arg-type]
    clock.now += 0.3
    assert writer.unstored_seconds() == pytest.approx(0.7)
    writer.start()
    await asyncio.wait_for(writer.flush(), timeout=5)
    assert (len(a.told), len(b.told)) == (1, 1)
    assert writer.unstored_seconds() == 0.0
    await writer.stop(timeout=5)
    executor.shutdown()


async def test_keep_pace_waits_while_a_held_commit_leaves_old_activity_untaken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    store = OutageStore()
    writer, executor = _writer(store, clock)
    writer.start()
    a, b = _bot("a"), _bot("b")
    writer.mark_dirty(a)  # type: ignore[arg-type]
    store.gate = threading.Event()  # the commits after this one wait for it
    await wait_for(lambda: len(a.told) == 1)
    writer.mark_dirty(a)  # type: ignore[arg-type]  # its commit is held
    await wait_for(lambda: len(a.drained) == 2)
    writer.mark_dirty(b)  # type: ignore[arg-type]  # waits behind the held commit
    await asyncio.sleep(0.02)
    assert not b.drained

    clock.now += writer_module.MAX_UNSTORED_SECONDS  # exactly the limit: no wait
    await asyncio.wait_for(writer.keep_pace(), timeout=1)
    assert writer.paced == 0

    clock.now += 0.1  # now older than the limit
    pacing = asyncio.create_task(writer.keep_pace())
    await asyncio.sleep(0.05)
    assert not pacing.done()
    assert writer.paced == 1
    [record] = [r for r in caplog.records if r.name == "algotrade.daemon.writer"]
    assert record.getMessage().startswith("simulated feeds wait for the store")
    assert "1.1 s old" in record.getMessage()
    store.gate.set()  # the store catches up: b is taken, the feed goes on
    await asyncio.wait_for(pacing, timeout=5)
    assert len(b.drained) == 1
    await asyncio.wait_for(writer.flush(), timeout=5)
    await writer.stop(timeout=5)
    executor.shutdown()


async def test_keep_pace_never_waits_for_an_unavailable_store_or_a_stopped_writer() -> None:
    clock = ManualClock()
    store = OutageStore()
    writer, executor = _writer(store, clock)
    a = _bot("a")
    writer.mark_dirty(a)  # type: ignore[arg-type]
    clock.now += 60
    # Not started: nothing would ever take the activity.
    await asyncio.wait_for(writer.keep_pace(), timeout=1)

    store.unavailable = True
    writer.start()
    await wait_for(lambda: writer.failures >= 1)  # the outage: kept for the retry
    writer.mark_dirty(_bot("b"))  # type: ignore[arg-type]
    clock.now += 60
    await asyncio.wait_for(writer.keep_pace(), timeout=1)

    store.unavailable = False
    await asyncio.wait_for(writer.flush(), timeout=10)
    await writer.stop(timeout=5)
    writer.mark_dirty(_bot("c"))  # type: ignore[arg-type]
    clock.now += 60
    await asyncio.wait_for(writer.keep_pace(), timeout=1)
    assert writer.paced == 0
    executor.shutdown()


async def test_a_sim_stream_and_a_replay_wait_for_their_pace_before_each_bar(
    tmp_path: Path,
) -> None:
    go = asyncio.Event()
    waits = 0

    async def pace() -> None:
        nonlocal waits
        waits += 1
        await go.wait()

    hub = SimFeedHub(pace=pace)
    sim_bars: list[Bar] = []
    options = SimOptions(seed=1, tick_seconds=0.001)
    hub.subscribe("s", "SIM-P", options, sim_bars.append)
    replayed: list[Bar] = []
    replay = feed_factory(hub)(replay_config(tmp_path), replayed.append)
    await replay.start(warmup=0)
    await asyncio.sleep(0.1)
    assert waits >= 2  # the stream and the replay each asked before their first bar
    assert (sim_bars, replayed) == ([], [])
    go.set()
    await wait_for(lambda: len(sim_bars) >= 5 and len(replayed) == 2)
    replay.stop()
    await hub.stop()


async def test_sim_bots_stop_booking_while_the_store_is_held_and_go_on_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real bots on a real SQLite store whose commits are held (a stalled disk): the sim
    stream stops once the untaken activity is older than the limit, instead of booking on
    into an ever larger backlog, and resumes when the store takes it."""
    monkeypatch.setattr(writer_module, "MAX_UNSTORED_SECONDS", 0.1)
    service = await open_service(tmp_path)
    held = threading.Event()
    held.set()
    stalled = threading.Event()  # a commit is waiting for the store
    record = service._store.record_activity_batch

    def gated_record(items: Any) -> Any:
        if not held.is_set():
            stalled.set()
        if not held.wait(timeout=20):
            raise AssertionError("the test never released the store")
        return record(items)

    service._store.record_activity_batch = gated_record  # type: ignore[method-assign]
    try:
        params = {"fast": 2, "slow": 3, "qty": 1}
        for i in range(3):
            await service.create_bot(sim_bot(f"p{i}", params=params))
            await service.start_bot(f"p{i}")
        actors = list(service._bots.values())
        await wait_for(lambda: service.writer.commits >= 2)
        stream = service.hub.stream_of("p0")
        assert stream is not None

        held.clear()
        await wait_for(stalled.is_set)
        await asyncio.sleep(0.4)  # > the limit: what was marked meanwhile is too old
        bars, fills = stream.bars_generated, sum(actor.fill_count for actor in actors)
        await asyncio.sleep(0.3)  # 60 ticks of 5 ms
        assert stream.bars_generated == bars
        assert sum(actor.fill_count for actor in actors) == fills
        assert service.health()["writer_paced"] == service.writer.paced >= 1

        held.set()
        await wait_for(lambda: stream.bars_generated > bars + 10)
        await service.shutdown(timeout=10)
        for actor in actors:  # everything booked, before and after the stall, is stored
            page = await asyncio.to_thread(service._store.fills, actor.config.bot_id)
            assert page.total == actor.fill_count
    finally:
        held.set()
        await close_service(service)
