"""Bots in worker processes (``daemon.bot_workers``), through the service, with real worker
processes and a real SQLite store: the same books as in the daemon's own process, commands,
restore, failures, moves between processes, a worker that dies."""

from __future__ import annotations

import asyncio
import os
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon.actor import BotActor
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.service import BotService
from algotrade.daemon.service_api import InvalidTransition, ShuttingDown
from algotrade.daemon.sim_feed import SimStream
from algotrade.daemon.status import BotState
from algotrade.daemon.status_board import StatusChanges
from algotrade.daemon.workers.pool import BotWorkers
from algotrade.daemon.workers.shadow import BotShadow
from algotrade.data.loader import save_bars
from algotrade.data.synthetic import generate_bars
from testkit.service_harness import close_service, open_service
from testkit.strategies.broken import RAISING_LINE, broken_strategy_file

T0 = 1_800_000_000 * 10**9
MINUTE = 60 * 10**9


def bot(bot_id: str, fast: int = 2, **extra: Any) -> BotConfig:
    raw: dict[str, Any] = {
        "bot_id": bot_id,
        "symbol": "SIM-W",
        "strategy": "ma_crossover",
        "params": {"fast": fast, "slow": 2 * fast, "qty": 1},
        # The stream's own timer is parked: the tests make every bar themselves.
        "feed_options": {"seed": 11, "tick_seconds": 86400, "volatility": 0.01},
        "initial_capital": "100000",
        "commission": "0.001",
        "warmup_periods": 0,
    }
    raw.update(extra)
    return BotConfig.model_validate(raw)


def stream_of(service: BotService) -> SimStream:
    [stream] = service.hub._streams.values()
    return stream


async def drive(service: BotService, bars: int, start: int = 0) -> None:
    """``bars`` bars, one at a time, each handled by every bot before the next."""
    stream = stream_of(service)
    for i in range(start, start + bars):
        stream.dispatch(stream.next_bar(T0 + i * MINUTE))
        await service.workers.handled()
        await asyncio.sleep(0)


async def stored(service: BotService, bot_id: str) -> tuple[list[Any], list[Any]]:
    store = service._store
    orders = await asyncio.to_thread(store.orders, bot_id, limit=10_000)
    fills = await asyncio.to_thread(store.fills, bot_id, limit=10_000)
    return list(orders.items), list(fills.items)


async def trade(tmp_path: Path, workers: int, bots: list[BotConfig]) -> dict[str, Any]:
    service = await open_service(tmp_path, bot_workers=workers)
    try:
        for config in bots:
            await service.create_bot(config)
            await service.start_bot(config.bot_id)
        await drive(service, 120)
        for config in bots:  # a command's reply follows what its bot booked before it
            await service.stop_bot(config.bot_id)
        await service.writer.flush()
        books = {}
        for config in bots:
            _, status = await service.get_bot(config.bot_id)
            books[config.bot_id] = (
                await stored(service, config.bot_id),
                status.model_dump(exclude={"heartbeat", "started_at"}),
            )
        kinds = {type(b).__name__ for b in service._bots.values()}
        return {"books": books, "kinds": kinds}
    finally:
        await close_service(service)


async def test_bots_in_workers_book_exactly_what_they_book_in_the_daemon(tmp_path: Path) -> None:
    bots = [bot(f"b{i}", fast=2 + i % 3) for i in range(6)]
    here = await trade(tmp_path / "here", 0, bots)
    there = await trade(tmp_path / "there", 2, bots)
    assert here["kinds"] == {"BotActor"}
    assert there["kinds"] == {"BotShadow"}
    for config in bots:
        (_, fills), status = there["books"][config.bot_id]
        assert len(fills) > 10, "the bots traded"
        # Same orders, fills (ids, prices, fees, times) and status: books, equity, counts.
        assert there["books"][config.bot_id] == here["books"][config.bot_id]
        assert status["fill_count"] == len(fills)


async def test_commands_status_and_restore_through_a_worker(tmp_path: Path) -> None:
    service = await open_service(tmp_path, bot_workers=2)
    try:
        seen = service.bus.subscribe([Topic.STATUS, Topic.FILLS, Topic.BARS], "a")
        await service.create_bot(bot("a", auto_resume=True))
        await service.create_bot(bot("b"))
        assert service.health()["bot_workers"][0]["alive"]
        assert (await service.start_bot("a")).state is BotState.RUNNING
        assert (await service.start_bot("b")).state is BotState.RUNNING
        with pytest.raises(InvalidTransition, match="cannot start bot 'a'"):
            await service.start_bot("a")
        await drive(service, 40)
        assert (await service.pause_bot("b")).state is BotState.PAUSED
        assert (await service.resume_bot("b")).state is BotState.RUNNING
        assert (await service.stop_bot("b")).state is BotState.STOPPED
        config = await service.update_config("b", {"params": {"fast": 3, "slow": 6, "qty": 2}})
        assert config.params["qty"] == 2
        assert (await service.get_bot("b"))[0].params["qty"] == 2
        bars = await service.bars("a", 5)
        assert [b["ts"] for b in bars] == [T0 + i * MINUTE for i in range(35, 40)]
        await service.writer.flush()
        _, status = await service.get_bot("a")
        _, fills = await stored(service, "a")
        assert status.fill_count == len(fills) > 0
        assert status.heartbeat is not None
        assert status.last_price is not None
        held = sum((f.qty if f.side == "buy" else -f.qty for f in fills), Decimal(0))
        assert Decimal(status.position.get("SIM-W", "0")) == held
        # Published after commit, as for a bot in the daemon's process.
        messages = []
        while not seen.queue.empty():
            messages.append(seen.queue.get_nowait())
        published = {m.data["trade_id"] for m in messages if m.topic is Topic.FILLS}
        assert published
        assert published <= {f.trade_id for f in fills}
        assert any(m.topic is Topic.STATUS and m.data["state"] == "running" for m in messages)
        # Each bar the bot decided on, as for a bot in the daemon's process.
        bar_times = [m.data["ts"] for m in messages if m.topic is Topic.BARS]
        assert bar_times[:40] == [T0 + i * MINUTE for i in range(40)]
        await service.delete_bot("b")
        assert [b.bot_id for b in await service.list_bots()] == ["a"]
        before = status
    finally:
        await close_service(service)

    service = await open_service(tmp_path, bot_workers=2)
    try:
        _, after = await service.get_bot("a")
        assert isinstance(service._bots["a"], BotShadow)
        assert after.state is BotState.RUNNING  # auto_resume, in its worker
        for field in ("fill_count", "position", "realized_pnl", "fees", "order_count"):
            assert getattr(after, field) == getattr(before, field), field
    finally:
        await close_service(service)


async def test_a_failing_strategy_in_a_worker_goes_to_error_like_in_the_daemon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = broken_strategy_file(tmp_path)
    service = await open_service(tmp_path, bot_workers=1)
    try:
        await service.create_bot(bot("good"))
        await service.create_bot(bot("bad", strategy=str(broken), params={}))
        await service.start_bot("good")
        await service.start_bot("bad")
        await drive(service, 30)
        await service.stop_bot("good")  # its reply follows what the worker told before it
        await service.writer.flush()
        _, status = await service.get_bot("bad")
        assert status.state is BotState.ERROR
        assert (
            status.last_error
            == f"strategy {broken}:{RAISING_LINE} in on_bar: RuntimeError: boom at SIM-W"
        )
        # The worker's log line reached the daemon's logging, tagged with the bot.
        [logged] = [r for r in caplog.records if r.getMessage().startswith("bot bad failed")]
        assert getattr(logged, "bot_id", None) == "bad"
        stored_state = await asyncio.to_thread(service._store.load_bots_checked)
        assert {r.bot_id: r.state for r in stored_state[0]}["bad"] == "error"
        assert (await service.get_bot("good"))[1].fill_count > 0
    finally:
        await close_service(service)


async def test_a_config_change_moves_a_stopped_bot_between_processes_with_its_books(
    tmp_path: Path,
) -> None:
    data = tmp_path / "bars.csv"
    save_bars(generate_bars(300, symbol="SIM-W", seed=5), data)
    service = await open_service(tmp_path, bot_workers=1)
    try:
        await service.create_bot(bot("m"))
        await service.start_bot("m")
        await drive(service, 60)
        await service.stop_bot("m")
        await service.writer.flush()
        _, before = await service.get_bot("m")
        assert before.fill_count > 0
        # A replay feed runs in the daemon's process: the bot moves there, books and all.
        replay = {"feed": "replay", "feed_options": {"path": str(data), "speed": 0}}
        await service.update_config("m", replay)
        assert isinstance(service._bots["m"], BotActor)
        _, moved = await service.get_bot("m")
        for field in ("fill_count", "position", "realized_pnl", "fees", "order_count"):
            assert getattr(moved, field) == getattr(before, field), field
        await service.start_bot("m")
        actor = service._bots["m"]
        assert isinstance(actor, BotActor)
        for _ in range(500):
            if actor.fill_count > before.fill_count:
                break
            await asyncio.sleep(0.01)
        await service.stop_bot("m")
        await service.writer.flush()
        _, replayed = await service.get_bot("m")
        assert replayed.fill_count > before.fill_count
        assert replayed.order_count > before.order_count  # ids continue, never reused
        # And back to sim prices: to the worker again.
        sim = {"feed": "sim", "feed_options": bot("m").feed_options}
        await service.update_config("m", sim)
        assert isinstance(service._bots["m"], BotShadow)
        _, back = await service.get_bot("m")
        assert back.fill_count == replayed.fill_count
        assert back.position == replayed.position
        await service.start_bot("m")
        await drive(service, 30, start=60)
        await service.stop_bot("m")
        await service.writer.flush()
        orders, fills = await stored(service, "m")
        ids = [o.client_order_id for o in orders]
        assert len(ids) == len(set(ids))
        _, last = await service.get_bot("m")
        assert last.fill_count == len(fills)
    finally:
        await close_service(service)


async def test_a_worker_that_dies_stops_the_daemon_with_the_reason(tmp_path: Path) -> None:
    service = await open_service(tmp_path, bot_workers=1)
    try:
        await service.create_bot(bot("a"))
        await service.start_bot("a")
        [link] = service.workers.links
        os.kill(link.process.pid, signal.SIGKILL)
        await asyncio.wait_for(service.shutdown_requested.wait(), timeout=10)
        assert service.failed is not None
        assert f"bot worker 0 (pid {link.process.pid}) ended unexpectedly" in service.failed
        assert "exit code -9" in service.failed
        with pytest.raises(ShuttingDown, match="its worker process ended"):
            await service.stop_bot("a")
    finally:
        await close_service(service)


class GuardedAccounts:
    def __init__(self, *accounts: str) -> None:
        self._accounts = set(accounts)

    def knows(self, account_id: str) -> bool:
        return account_id in self._accounts


def test_only_paper_bots_on_sim_prices_of_unguarded_accounts_go_to_workers() -> None:
    def workers(count: int, risk: Any = None) -> BotWorkers:
        return BotWorkers(
            count,
            store=None,  # type: ignore[arg-type]
            bus=EventBus(),
            changes=StatusChanges(),
            bots={},
            risk=risk,
            persist_state=None,  # type: ignore[arg-type]
            on_bot_error=lambda bot: None,
            on_lost=lambda reason: None,
        )

    guarded = workers(2, GuardedAccounts("funded"))
    assert guarded.hosts(bot("a"))
    # The risk engine's pre-trade check is a synchronous call: guarded accounts stay here.
    assert not guarded.hosts(bot("a", account_id="funded"))
    assert workers(2).hosts(bot("a", account_id="funded"))
    assert not workers(0).hosts(bot("a"))  # off by default
    replay = {"feed": "replay", "feed_options": {"path": "bars.csv"}}
    assert not workers(2).hosts(bot("a", **replay))
    live_prices = {"feed": "hyperliquid"}
    assert not workers(2).hosts(bot("a", **live_prices, symbol="BTC"))


async def test_a_stop_signal_to_every_process_leaves_the_stop_to_the_daemon(
    tmp_path: Path,
) -> None:
    """systemd's default KillMode and a kill of a process group signal the workers too, also
    while one is still starting: the daemon alone acts on it, after its bots' books came."""
    service = await open_service(tmp_path, bot_workers=1)
    try:
        [link] = service.workers.links
        os.kill(link.process.pid, signal.SIGTERM)  # at once: the worker is still importing
        await service.create_bot(bot("a"))
        await service.start_bot("a")  # answered by the worker: it is up
        os.kill(link.process.pid, signal.SIGTERM)
        os.kill(link.process.pid, signal.SIGINT)
        await drive(service, 20)
        assert (await service.stop_bot("a")).state is BotState.STOPPED
        assert service.failed is None
        assert link.process.returncode is None
    finally:
        await close_service(service)


async def test_commands_at_once_send_a_stored_bot_to_its_worker_once(tmp_path: Path) -> None:
    service = await open_service(tmp_path, bot_workers=1)
    await service.create_bot(bot("a"))
    await close_service(service)
    service = await open_service(tmp_path, bot_workers=1)  # restored: not in its worker yet
    try:
        [link] = service.workers.links
        asks: list[str] = []
        ask = link.peer.ask

        async def counted(kind: str, *args: Any) -> Any:
            asks.append(kind)
            return await ask(kind, *args)

        link.peer.ask = counted  # type: ignore[method-assign]
        started, stopped = await asyncio.gather(service.start_bot("a"), service.stop_bot("a"))
        assert asks.count("adopt") == 1
        # One actor took both, in the order they came.
        assert (started.state, stopped.state) == (BotState.RUNNING, BotState.STOPPED)
    finally:
        await close_service(service)
