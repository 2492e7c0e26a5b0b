"""The daemon's books stay true across config changes, restarts and store failures.

Each test here reproduces a defect of issue 9 in-process (a real SQLite store, the real
service, the sim feed) and checks the invariants an operator relies on: every fill a bot
booked is stored once, the position equals the sum of the stored fills, cash equals a replay
of the stored fills, and no bot ends in ``error`` for an ordinary restart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.portfolio import Portfolio
from algotrade.daemon.actor import BotActor
from algotrade.daemon.bus import Topic
from algotrade.daemon.service import BotService
from algotrade.daemon.status import BotState
from algotrade.store.errors import StoreUnavailableError
from algotrade.store.records import Activity, EquityRecord
from algotrade.store.store import Store
from daemon.test_bot_service import close_service, open_service, sim_bot, wait_for


async def _stored_fills(service: BotService, bot_id: str) -> list[dict[str, Any]]:
    await service.writer.flush()
    page = await service.fills(bot_id, 0, 100_000)
    assert page.total == len(page.items)
    return page.items


async def _trading(service: BotService, bot_id: str, fills: int) -> BotActor:
    """A new sim bot, started, once it has booked ``fills`` fills."""
    await service.create_bot(sim_bot(bot_id))
    await service.start_bot(bot_id)
    actor = service._bots[bot_id]
    await wait_for(lambda: actor.fill_count >= fills)
    return actor


def _replay(fills: list[dict[str, Any]], initial: str) -> Portfolio:
    portfolio = Portfolio(Decimal(initial))
    for data in fills:
        portfolio.apply_fill(_record(data))
    return portfolio


def _record(data: dict[str, Any]) -> OrderFilled:
    return OrderFilled(
        client_order_id=data["client_order_id"],
        venue_order_id=data["venue_order_id"],
        trade_id=data["trade_id"],
        symbol=data["symbol"],
        side=OrderSide(data["side"]),
        qty=Decimal(data["qty"]),
        price=Decimal(data["price"]),
        fee=Decimal(data["fee"]),
        liquidity=Liquidity(data["liquidity"]),
        ts=data["ts"],
    )


async def _assert_books_match_store(service: BotService, bot_id: str, initial: str) -> None:
    actor = service._bots[bot_id]
    fills = await _stored_fills(service, bot_id)
    assert len(fills) == actor.fill_count, "a booked fill is missing from the store"
    assert len({f["trade_id"] for f in fills}) == len(fills)
    replay = _replay(fills, initial)
    assert actor.portfolio.position_qty("SIM-X") == replay.position_qty("SIM-X")
    assert actor.portfolio.cash == replay.cash
    assert actor.portfolio.realized_pnl == replay.realized_pnl
    assert actor.portfolio.fees_paid == replay.fees_paid
    account = await service._read(service._store.account, bot_id)
    assert account is not None
    assert account.cash == replay.cash


async def test_fills_after_a_config_change_are_all_stored(tmp_path: Path) -> None:
    """Defect: the paper venue numbered trade ids from 1 for every new engine, so after a
    config change every fill collided with a stored one and was silently dropped."""
    service = await open_service(tmp_path)
    try:
        await _trading(service, "a", 4)
        await service.stop_bot("a")
        await service.update_config("a", {"params": {"fast": 2, "slow": 5, "qty": 1}})
        first = service._bots["a"].fill_count
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].fill_count >= first + 4)
        await service.stop_bot("a")
        await _assert_books_match_store(service, "a", "100000")
        assert service._bots["a"].state is BotState.STOPPED
    finally:
        await close_service(service)


async def test_a_restored_position_flattens_and_trades_on_after_restarts(tmp_path: Path) -> None:
    """Defect: a bot restored holding a position went to ``error`` with DivisionUndefined when
    the position flattened (the trade ledger started empty), and its new fills collided with
    stored trade ids."""
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("keen", auto_resume=True))
    await service.start_bot("keen")
    for _ in range(3):  # restart while holding a position, three times
        service = await _restart_holding_a_position(service, tmp_path)
    try:
        await service.stop_bot("keen")
        await _assert_books_match_store(service, "keen", "100000")
    finally:
        await close_service(service)


async def _restart_holding_a_position(service: BotService, path: Path) -> BotService:
    await wait_for(lambda: bool(service._bots["keen"].portfolio.position_qty("SIM-X")))
    await service.writer.flush()
    await close_service(service)
    service = await open_service(path)
    actor = service._bots["keen"]
    assert actor.state is BotState.RUNNING
    held = actor.portfolio.position_qty("SIM-X")
    assert held, "the position was not restored"
    # It flattens exactly (the round trip that began before the restart closes) and trades on.
    await service.pause_bot("keen")  # the strategy's own orders wait; close_all's go out
    await service.close_all("keen")
    await wait_for(lambda: not actor.portfolio.position_qty("SIM-X") or actor.last_error)
    await service.resume_bot("keen")
    count = actor.fill_count
    await wait_for(lambda: actor.fill_count >= count + 3 or actor.last_error is not None)
    assert actor.last_error is None
    assert actor.state is BotState.RUNNING
    return service


async def test_initial_capital_change_moves_cash_like_a_replay(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    await _trading(service, "a", 3)
    await service.stop_bot("a")
    cash = service._bots["a"].portfolio.cash
    await service.update_config("a", {"initial_capital": "150000"})
    assert service._bots["a"].portfolio.cash == cash + 50_000
    await _assert_books_match_store(service, "a", "150000")
    await close_service(service)
    service = await open_service(tmp_path)
    try:
        assert service._bots["a"].portfolio.cash == cash + 50_000
    finally:
        await close_service(service)


async def test_a_bot_whose_facts_the_store_refuses_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    """Defect: one bot's unwritable activity made every batch fail and retry forever (memory
    grew to 18 GB); every other bot stopped persisting."""
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("good"))
        await service.create_bot(sim_bot("bad"))
        bad = service._bots["bad"]
        drain = bad.drain_activity

        def poisoned() -> Activity:
            activity = drain()
            point = EquityRecord("bad", 1, Decimal("1e-999999999"), *[Decimal(0)] * 4)
            return Activity(
                activity.orders,
                activity.fills,
                activity.positions,
                activity.account,
                [*activity.equity, point],
                activity.events,
            )

        bad.drain_activity = poisoned  # type: ignore[method-assign]
        await service.start_bot("good")
        await service.start_bot("bad")
        await wait_for(lambda: bad.state is BotState.ERROR)
        assert bad.last_error is not None
        assert "store refused" in bad.last_error
        assert "money out of range" in bad.last_error
        good = service._bots["good"]
        count = good.fill_count
        await wait_for(lambda: good.fill_count >= count + 3)
        await service.stop_bot("good")
        await _assert_books_match_store(service, "good", "100000")
        # What could be stored of the bad bot is stored: its fills are all there.
        bad.drain_activity = drain  # type: ignore[method-assign]
        stored = await _stored_fills(service, "bad")
        assert len(stored) == bad.fill_count
        assert service.writer.failures >= 1
    finally:
        await close_service(service)


async def test_a_conflicting_fill_stops_its_bot_and_keeps_the_stored_fact(
    tmp_path: Path,
) -> None:
    service = await open_service(tmp_path)
    try:
        actor = await _trading(service, "a", 1)
        await service.writer.flush()
        (stored,) = (await service.fills("a", 0, 1)).items
        # The same trade id reported again with another price: not written, bot stopped.
        forged = _record({**stored, "price": str(Decimal(stored["price"]) + 1)})
        actor._unsaved.fills.append(forged)
        service.writer.mark_dirty(actor)
        await wait_for(lambda: actor.state is BotState.ERROR)
        assert actor.last_error is not None
        assert f"fill {stored['trade_id']} conflicts" in actor.last_error
        (again,) = (await service.fills("a", 0, 1)).items
        assert again == stored
        assert service.writer.conflicts == 1
    finally:
        await close_service(service)


async def test_unreadable_stored_bots_are_skipped_and_left_as_they_are(tmp_path: Path) -> None:
    """Defect: a stored bot with a non-JSON config, an unknown state or cash 'abc' stopped the
    whole daemon from starting (a traceback), though the docs say it is skipped."""
    service = await open_service(tmp_path)
    for bot_id in ("fine", "notjson", "zombie", "badfill"):
        await service.create_bot(sim_bot(bot_id))
    await service.start_bot("badfill")
    await wait_for(lambda: service._bots["badfill"].fill_count >= 1)
    await service.stop_bot("badfill")
    await service.writer.flush()
    await close_service(service)
    db = sqlite3.connect(tmp_path / "bots.db")
    with db:
        db.execute("UPDATE bots SET config = 'not json {' WHERE bot_id = 'notjson'")
        db.execute("UPDATE bots SET state = 'zombie' WHERE bot_id = 'zombie'")
        db.execute("UPDATE fills SET qty = 'abc' WHERE bot_id = 'badfill'")
        db.execute("UPDATE accounts SET cash = 'abc'")
    before = db.execute("SELECT * FROM bots ORDER BY bot_id").fetchall()
    db.close()

    service = await open_service(tmp_path)
    try:
        assert sorted(service._bots) == ["fine"]
        skipped = service.health()["skipped_bots"]
        assert sorted(skipped) == ["badfill", "notjson", "zombie"]
        assert "config is not valid JSON" in skipped["notjson"]
        assert "'zombie' is not a valid BotState" in skipped["zombie"]
        assert "qty is 'abc', not a number" in skipped["badfill"]
    finally:
        await close_service(service)
    db = sqlite3.connect(tmp_path / "bots.db")
    assert db.execute("SELECT * FROM bots ORDER BY bot_id").fetchall() == before
    db.close()


async def test_flush_reports_a_dead_writer_instead_of_waiting_forever(tmp_path: Path) -> None:
    """Defect: if the activity writer task died, ``flush()`` (and so shutdown) waited forever."""
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        task = service.writer._task
        assert task is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        service.writer.mark_dirty(service._bots["a"])
        with pytest.raises(RuntimeError, match="activity writer has stopped"):
            await asyncio.wait_for(service.writer.flush(), timeout=5)
    finally:
        service.writer._task = None  # nothing left to stop
        service.writer._dirty.clear()
        service.writer._idle.set()
        await close_service(service)


async def test_shutdown_ends_in_time_while_the_store_is_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect: with every write failing, SIGTERM hung for more than 90 s. Now the activity is
    kept and retried while running, and shutdown gives up after its timeout, saying how much
    was not stored (none of it was ever published)."""
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("a"))
    published: list[object] = []
    subscription = service.bus.subscribe([Topic.FILLS], "a")

    def unavailable(items: object) -> list[object]:
        raise StoreUnavailableError("record activity: database is locked")

    service._store.record_activity_batch = unavailable  # type: ignore[method-assign,assignment]
    await service.start_bot("a")
    await wait_for(lambda: service._bots["a"].fill_count >= 2)
    await wait_for(lambda: service.writer.failures >= 2)
    while not subscription.queue.empty():
        published.append(subscription.queue.get_nowait())
    assert published == []  # nothing unstored is told
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(service.shutdown(timeout=4), timeout=15)
    assert asyncio.get_running_loop().time() - started < 8
    assert "record(s) of 1 bot(s) not stored (never published)" in caplog.text
    service._store.close()


async def test_a_crash_during_restore_does_not_stop_bots_that_were_to_resume(
    tmp_path: Path,
) -> None:
    """Defect (found by the crash soak): the restore stored every running bot as stopped
    before resuming it, so a kill -9 in between left auto-resume bots stopped for good."""
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("keen", auto_resume=True))
    await service.create_bot(sim_bot("plain"))
    await service.start_bot("keen")
    await service.start_bot("plain")
    await service.writer.flush()
    await close_service(service)

    store = Store(f"sqlite:///{tmp_path / 'bots.db'}")
    await asyncio.to_thread(store.open)
    restoring = BotService(store)
    restoring.writer.start()
    resume = await restoring.restore()  # ... and the process dies here
    assert resume == {"keen": True, "plain": False}
    states = {b.bot_id: b.state for b in await asyncio.to_thread(store.load_bots)}
    assert states == {"keen": "running", "plain": "stopped"}
    await restoring.shutdown(timeout=5)
    store.close()

    service = await open_service(tmp_path)
    try:
        assert service._bots["keen"].state is BotState.RUNNING
        assert service._bots["plain"].state is BotState.STOPPED
    finally:
        await close_service(service)


async def test_a_replay_feed_that_fails_sends_its_bot_to_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: the replay feed task had no done-callback: a replay that failed left its bot
    'running' and waiting for bars forever, with nothing logged."""
    from algotrade.data import replay

    data = tmp_path / "X-1m.csv"
    rows = [f"2024-01-02T00:{m:02d}:00Z,10,11,9,10.5,100" for m in range(30)]
    data.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")

    class BrokenReplay(replay.ReplayFeed):
        async def stream(self):  # type: ignore[no-untyped-def]
            count = 0
            async for event in super().stream():
                count += 1
                if count == 5:
                    raise OSError("replay file vanished")
                yield event

    monkeypatch.setattr(replay, "ReplayFeed", BrokenReplay)
    service = await open_service(tmp_path)
    try:
        config = sim_bot("replayer", feed="replay", feed_options={"path": str(data), "speed": 0})
        await service.create_bot(config)
        await service.start_bot("replayer")
        actor = service._bots["replayer"]
        await wait_for(lambda: actor.state is BotState.ERROR)
        assert actor.last_error == "OSError: replay file vanished"
    finally:
        await close_service(service)


async def test_a_restored_stopped_bot_values_its_position_at_the_last_fill(
    tmp_path: Path,
) -> None:
    """Defect: after a restart a stopped bot's open position was valued at its FIRST fill's
    price (a replayed short of 1 at 45.10 showed +42.68 unrealized, valued at 2.42): the
    rebuild of the books kept the first mark of each symbol."""
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("held"))
    await service.start_bot("held")
    actor = service._bots["held"]
    await wait_for(lambda: actor.fill_count >= 4 and bool(actor.portfolio.position_qty("SIM-X")))
    await service.stop_bot("held")
    fills = await _stored_fills(service, "held")
    await close_service(service)
    assert len({f["price"] for f in fills}) > 1, "the fills must not all have one price"
    service = await open_service(tmp_path)
    try:
        restored = service._bots["held"]
        assert restored.state is BotState.STOPPED
        position = restored.portfolio.position("SIM-X")
        assert position.qty, "the position was not restored"
        last_price = Decimal(fills[-1]["price"])
        status = restored.status()
        assert Decimal(status.unrealized_pnl) == position.unrealized_pnl(last_price)
        assert Decimal(status.equity) == _replay(fills, "100000").cash + position.market_value(
            last_price
        )
    finally:
        await close_service(service)


async def test_a_config_change_keeps_the_count_of_orders_sent(tmp_path: Path) -> None:
    """Defect: a stopped bot showed ``order_count`` 0 after a config change (130 before it)
    until the daemon restarted: the count came from the engine the change discards."""
    service = await open_service(tmp_path)
    try:
        actor = await _trading(service, "a", 4)
        await service.stop_bot("a")
        await service.writer.flush()
        sent = actor.status().order_count
        stored = (await service.orders("a", 0, 100_000)).total
        assert sent == stored > 0
        await service.update_config("a", {"commission": "0.001"})
        assert actor.status().order_count == sent
        await service.start_bot("a")
        await wait_for(lambda: actor.status().order_count > sent)
        await service.stop_bot("a")
        await service.writer.flush()
        assert actor.status().order_count == (await service.orders("a", 0, 100_000)).total
    finally:
        await close_service(service)
