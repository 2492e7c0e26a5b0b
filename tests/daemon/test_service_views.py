"""What the UIs read from the service: recent bars, logs newest first, pages newest first,
the summary across bots, PnL today and the last fill, with a real store and sim bots."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon.bot_market import DAY_NS, DayOpenEquity, RecentBars
from algotrade.daemon.bus import Topic
from algotrade.daemon.status import BotState
from algotrade.store.records import Activity, EquityRecord
from algotrade.store.store import Store
from daemon.test_bot_service import close_service, open_service, sim_bot, wait_for


async def test_bars_are_the_ones_the_strategy_saw_and_stream_while_watched(
    tmp_path: Path,
) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a", warmup_periods=5))
        assert await service.bars("a", 10) == []  # never ran
        watcher = service.bus.subscribe([Topic.BARS], "a")
        await service.start_bot("a")
        await wait_for(lambda: watcher.queue.qsize() >= 3)
        bars = await service.bars("a", 1000)
        assert len(bars) >= 5 + 3  # the warm-up bars, then live ones
        times = [bar["ts"] for bar in bars]
        assert times == sorted(times)
        assert len(set(times)) == len(times)
        streamed = watcher.queue.get_nowait()
        assert streamed.bot_id == "a"
        assert streamed.data in bars  # a streamed bar is one the REST call returns
        assert set(streamed.data) == {
            "symbol",
            "ts",
            "time",
            "open",
            "high",
            "low",
            "close",
            "volume",
        }
        assert streamed.data["low"] <= streamed.data["close"] <= streamed.data["high"]
        assert len(await service.bars("a", 2)) == 2
    finally:
        await close_service(service)


async def test_no_bar_messages_are_built_while_nobody_watches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await open_service(tmp_path)
    try:
        published: list[Topic] = []
        publish = service.bus.publish

        def spy(topic: Topic, bot_id: str | None, data: dict[str, Any]) -> None:
            published.append(topic)
            publish(topic, bot_id, data)

        monkeypatch.setattr(service.bus, "publish", spy)
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")
        bars = service._bots["a"].recent_bars
        await wait_for(lambda: len(bars.latest(1000)) >= 20)
        assert Topic.BARS not in published
        watcher = service.bus.subscribe([Topic.STATUS, Topic.BARS], "a")
        await wait_for(lambda: Topic.BARS in published)
        await service.stop_bot("a")
        assert not watcher.dropped
    finally:
        await close_service(service)


async def test_pages_newest_first_and_logs(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].fill_count >= 4)
        await service.stop_bot("a")
        await service.writer.flush()
        oldest = await service.fills("a", 0, 1000)
        newest = await service.fills("a", 0, 2, True)
        assert [f["trade_id"] for f in newest.items] == [
            f["trade_id"] for f in oldest.items[::-1][:2]
        ]
        assert newest.total == oldest.total >= 4
        skipped = await service.orders("a", 1, 1, True)
        every = await service.orders("a", 0, 1000)
        assert skipped.items[0]["client_order_id"] == every.items[-2]["client_order_id"]
        logs = await service.logs("a", 0, 100)
        ids = [line["id"] for line in logs.items]
        assert ids == sorted(ids, reverse=True)  # newest first
        assert logs.items[0]["message"] == "bot stopped"
        assert {"bot running", "bot stopped"} <= {line["message"] for line in logs.items}
    finally:
        await close_service(service)


async def test_summary_adds_up_the_bots(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        await service.create_bot(sim_bot("b", initial_capital="50000"))
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].fill_count >= 2)
        await service.writer.flush()
        summary = await service.summary()
        statuses = await service.list_bots()
        assert summary["bots"] == 2
        assert summary["states"] == {"stopped": 1, "running": 1, "paused": 0, "error": 0}
        assert (summary["simulated"], summary["live"]) == (2, 0)
        assert summary["initial_capital"] == "150000"
        # Status and summary are taken at slightly different moments of a running bot:
        # compare with the statuses listed right after.
        equity = sum(Decimal(s.equity) for s in statuses)
        assert abs(Decimal(summary["equity"]) - equity) < Decimal(1000)
        assert Decimal(summary["pnl_total"]) == Decimal(summary["equity"]) - Decimal(150000)
        open_positions = sum(1 for s in statuses for q in s.position.values() if Decimal(q))
        assert summary["open_positions"] in (open_positions, open_positions - 1, open_positions + 1)
        assert summary["alerts"] == []
        assert summary["lockouts"] == []
        await service.stop_bot("a")
        await service.writer.flush()
        settled = await service.summary()
        statuses = await service.list_bots()
        assert Decimal(settled["equity"]) == sum(Decimal(s.equity) for s in statuses)
        assert Decimal(settled["fees"]) == sum(Decimal(s.fees) for s in statuses) > 0
    finally:
        await close_service(service)


async def test_summary_topic_publishes_changes_only_while_watched(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        watcher = service.bus.subscribe([Topic.SUMMARY])
        message = await asyncio.wait_for(watcher.queue.get(), timeout=5)
        assert message.data["bots"] == 1
        await service.delete_bot("a")
        message = await asyncio.wait_for(watcher.queue.get(), timeout=5)
        assert message.data["bots"] == 0
        await asyncio.sleep(2.5)  # nothing changed: nothing more is published
        assert watcher.queue.empty()
    finally:
        await close_service(service)


async def test_status_names_the_bot_and_its_last_fill_survives_a_restart(
    tmp_path: Path,
) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        status = (await service.get_bot("a"))[1]
        assert (status.symbol, status.strategy, status.venue, status.interval) == (
            "SIM-X",
            "ma_crossover",
            "paper",
            "1m",
        )
        assert status.last_fill_at is None
        assert status.pnl_today == "0"
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].fill_count >= 2)
        await service.stop_bot("a")
        await service.writer.flush()
        before = (await service.get_bot("a"))[1]
        assert before.last_fill_at is not None
        # Bot created today: PnL today is all its PnL.
        assert Decimal(before.pnl_today) == Decimal(before.equity) - Decimal(100000)
    finally:
        await close_service(service)
    again = await open_service(tmp_path)
    try:
        after = (await again.get_bot("a"))[1]
        assert after.state is BotState.STOPPED
        assert after.last_fill_at == before.last_fill_at
        assert after.fill_count == before.fill_count
    finally:
        await close_service(again)


async def test_pnl_today_starts_from_the_last_equity_before_midnight(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("a"))
    await close_service(service)
    store = Store(f"sqlite:///{tmp_path / 'bots.db'}")
    store.open()
    midnight = time.time_ns() // DAY_NS * DAY_NS
    money = Decimal(90000), Decimal(90000), Decimal(0), Decimal(0), Decimal(0)
    earlier = EquityRecord("a", midnight - 120 * 10**9, Decimal(80000), *money[1:])
    last = EquityRecord("a", midnight - 60 * 10**9, *money)
    today = EquityRecord("a", midnight + 1, Decimal(70000), *money[1:])
    store.record_activity_batch([("a", Activity(equity=[earlier, last, today]))])
    assert store.equity_before(midnight) == {"a": Decimal(90000)}
    store.close()
    again = await open_service(tmp_path)
    try:
        status = (await again.get_bot("a"))[1]
        # No fills: the bot is worth its capital, 10,000 more than at midnight.
        assert Decimal(status.equity) == Decimal(100000)
        assert Decimal(status.pnl_today) == Decimal(10000)
    finally:
        await close_service(again)


def test_day_open_rolls_over_at_midnight_utc() -> None:
    day = 20_000 * DAY_NS
    opening = DayOpenEquity(Decimal(100), day + 5)
    assert opening.pnl_today(Decimal(110), day + 10) == Decimal(10)
    assert opening.pnl_today(Decimal(120), day + DAY_NS - 1) == Decimal(20)
    # The next day opens at the last equity shown (120).
    assert opening.pnl_today(Decimal(125), day + DAY_NS) == Decimal(5)


def test_recent_bars_keep_the_latest() -> None:
    from algotrade.core.events import Bar

    bars = RecentBars(size=3)
    for i in range(5):
        bars.append(Bar("X", i, 1.0, 2.0, 0.5, 1.5, 10.0))
    assert [bar["ts"] for bar in bars.latest(10)] == [2, 3, 4]
    assert [bar["ts"] for bar in bars.latest(1)] == [4]
    assert bars.latest(0) == []
