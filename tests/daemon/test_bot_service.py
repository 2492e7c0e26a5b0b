"""BotService in-process, with a real SQLite store: transitions, failures, restore, parity."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import Topic
from algotrade.daemon.service_api import (
    BotExists,
    BotLimitReached,
    BotNotFound,
    InvalidBotConfig,
    InvalidTransition,
    ShuttingDown,
)
from algotrade.daemon.status import BotState
from algotrade.data.loader import save_bars
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.registry import create_strategy
from testkit.service_harness import close_service, open_service
from testkit.strategies.broken import RAISING_LINE, broken_strategy_file


def sim_bot(bot_id: str, **extra: Any) -> BotConfig:
    raw: dict[str, Any] = {
        "bot_id": bot_id,
        "symbol": "SIM-X",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 4, "qty": 1},
        "feed_options": {"seed": 3, "tick_seconds": 0.005, "volatility": 0.01},
        "initial_capital": "100000",
    }
    raw.update(extra)
    return BotConfig.model_validate(raw)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_lifecycle_transitions_and_errors(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        assert (await service.create_bot(sim_bot("a"))).state is BotState.STOPPED
        with pytest.raises(BotExists):
            await service.create_bot(sim_bot("a"))
        with pytest.raises(InvalidTransition, match="cannot pause"):
            await service.pause_bot("a")
        assert (await service.start_bot("a")).state is BotState.RUNNING
        with pytest.raises(InvalidTransition, match="cannot start"):
            await service.start_bot("a")
        with pytest.raises(InvalidTransition, match="update the config"):
            await service.update_config("a", {"params": {"fast": 3, "slow": 6}})
        assert (await service.pause_bot("a")).state is BotState.PAUSED
        assert (await service.resume_bot("a")).state is BotState.RUNNING
        assert (await service.stop_bot("a")).state is BotState.STOPPED
        config = await service.update_config("a", {"params": {"fast": 3, "slow": 6, "qty": 2}})
        assert config.params["fast"] == 3
        with pytest.raises(BotNotFound):
            await service.start_bot("nope")
        await service.delete_bot("a")
        assert await service.list_bots() == []
    finally:
        await close_service(service)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"strategy": "moon"}, "moon"),
        ({"params": {"fast": "x"}}, "fast"),
        ({"feed_options": {"tick_seconds": -1}}, "tick_seconds"),
        ({"feed": "replay", "feed_options": {}}, "path"),
    ],
)
async def test_invalid_configs_are_refused_with_the_field_named(
    tmp_path: Path, changes: dict[str, Any], needle: str
) -> None:
    service = await open_service(tmp_path)
    try:
        with pytest.raises(InvalidBotConfig, match=needle):
            await service.create_bot(sim_bot("bad", **changes))
        assert await service.list_bots() == []
    finally:
        await close_service(service)


async def test_concurrent_config_changes_never_leave_a_config_nothing_checked(
    tmp_path: Path,
) -> None:
    # Each change is valid against the config it was sent for; applied one after the other,
    # the second (ma_crossover's parameters) no longer fits the strategy the first chose.
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        first, second = await asyncio.gather(
            service.update_config("a", {"strategy": "rsi", "params": {}}),
            service.update_config("a", {"params": {"fast": 3, "slow": 5}}),
            return_exceptions=True,
        )
        assert isinstance(first, BotConfig)
        assert first.strategy == "rsi"
        assert isinstance(second, InvalidBotConfig), second
        assert "unknown parameters 'fast', 'slow'" in str(second)
        config, _ = await service.get_bot("a")
        assert (config.strategy, config.params) == ("rsi", {})
        # A refused change next to an accepted one: only the accepted one lands.
        capital, warmup = await asyncio.gather(
            service.update_config("a", {"initial_capital": "5"}),
            service.update_config("a", {"warmup_periods": -1}),
            return_exceptions=True,
        )
        assert isinstance(capital, BotConfig)
        assert isinstance(warmup, InvalidBotConfig)
        assert str(warmup).startswith("warmup_periods: "), warmup
    finally:
        await close_service(service)
    service = await open_service(tmp_path)  # what was stored is what was answered
    try:
        config, _ = await service.get_bot("a")
        assert (config.strategy, config.params, config.initial_capital) == ("rsi", {}, 5)
        assert (await service.start_bot("a")).state is BotState.RUNNING
    finally:
        await close_service(service)


async def test_max_bots_limit(tmp_path: Path) -> None:
    service = await open_service(tmp_path, max_bots=2)
    try:
        await service.create_bot(sim_bot("a"))
        await service.create_bot(sim_bot("b"))
        with pytest.raises(BotLimitReached, match="limit of 2 bots"):
            await service.create_bot(sim_bot("c"))
    finally:
        await close_service(service)


async def test_a_failing_bot_goes_to_error_and_others_keep_trading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = broken_strategy_file(tmp_path)
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("good"))
        await service.create_bot(sim_bot("bad", strategy=str(broken), params={}))
        await service.start_bot("good")
        await service.start_bot("bad")
        await wait_for(lambda: service._bots["bad"].state is BotState.ERROR)
        _, status = await service.get_bot("bad")
        # Named like a backtest names it: the strategy's file, line and method.
        assert (
            status.last_error
            == f"strategy {broken}:{RAISING_LINE} in on_bar: RuntimeError: boom at SIM-X"
        )
        # The log says which bot and why, tagged with the bot (the "[bot=<id>]" suffix).
        [logged] = [r for r in caplog.records if r.getMessage().startswith("bot bad failed")]
        assert logged.getMessage() == f"bot bad failed: {status.last_error}"
        assert getattr(logged, "bot_id", None) == "bad"
        fills_before = service._bots["good"].fill_count
        await wait_for(lambda: service._bots["good"].fill_count > fills_before + 2)
        assert service._bots["good"].state is BotState.RUNNING
        # Restarting is allowed; the same bug sends it back to error on its next bar.
        await service.start_bot("bad")
        await wait_for(lambda: service._bots["bad"].state is BotState.ERROR)
        assert service._bots["good"].state is BotState.RUNNING
    finally:
        await close_service(service)


async def test_restore_keeps_portfolio_and_resumes_only_opted_in_bots(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("keen", auto_resume=True))
    await service.create_bot(sim_bot("idle"))
    await service.start_bot("keen")
    await service.start_bot("idle")
    await wait_for(lambda: service._bots["keen"].fill_count >= 3)
    await service.stop_bot("keen")
    await service.start_bot("keen")
    await service.writer.flush()
    before = {b.bot_id: b for b in await service.list_bots()}
    await close_service(service)

    service = await open_service(tmp_path)
    try:
        after = {b.bot_id: b for b in await service.list_bots()}
        assert after["idle"].state is BotState.STOPPED
        assert after["keen"].state is BotState.RUNNING
        for bot_id in ("keen", "idle"):
            assert after[bot_id].fill_count >= before[bot_id].fill_count
        # The resumed bot keeps trading: stop it and flush, so memory and store are compared
        # at the same moment.
        await service.stop_bot("keen")
        await service.writer.flush()
        fills = await service.fills("keen", 0, 1000)
        held = sum(
            (Decimal(f["qty"]) * (1 if f["side"] == "buy" else -1) for f in fills.items),
            Decimal(0),
        )
        assert service._bots["keen"].portfolio.position_qty("SIM-X") == held
    finally:
        await close_service(service)


async def test_committed_fills_are_published_after_commit(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        subscription = service.bus.subscribe([Topic.FILLS], "a")
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")
        message = await asyncio.wait_for(subscription.queue.get(), timeout=10)
        stored = await service.fills("a", 0, 1000)
        assert message.data["trade_id"] in {f["trade_id"] for f in stored.items}
    finally:
        await close_service(service)


async def test_close_all_flattens(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].portfolio.position_qty("SIM-X") != 0)
        await service.pause_bot("a")
        await service.close_all("a")
        await wait_for(lambda: service._bots["a"].portfolio.position_qty("SIM-X") == 0)
    finally:
        await close_service(service)


async def test_replay_bot_trades_exactly_like_a_backtest(tmp_path: Path) -> None:
    data = generate_bars(3_000, symbol="REP", seed=5)
    path = tmp_path / "REP-1m.parquet"
    save_bars(data, path)
    params = {"fast": 5, "slow": 20, "qty": 2}
    backtest = run_backtest(
        data,
        create_strategy("ma_crossover", params),
        BacktestConfig(initial_cash=Decimal(100_000), commission=Decimal("0.0005")),
    )
    service = await open_service(tmp_path)
    try:
        config = BotConfig.model_validate(
            {
                "bot_id": "rep",
                "symbol": "REP",
                "strategy": "ma_crossover",
                "params": params,
                "feed": "replay",
                "feed_options": {"path": str(path), "speed": 0},
                "initial_capital": "100000",
                "commission": "0.0005",
                "risk_per_trade_pct": 100,
            }
        )
        await service.create_bot(config)
        await service.start_bot("rep")
        await wait_for(lambda: service._bots["rep"].fill_count == len(backtest.fills), 30)
        await service.writer.flush()
        stored = (await service.fills("rep", 0, 10_000)).items
        assert [(f["side"], Decimal(f["qty"]), Decimal(f["price"]), f["ts"]) for f in stored] == [
            (f.side.value, f.qty, f.price, f.ts) for f in backtest.fills
        ]
        assert service._bots["rep"].portfolio.equity() == backtest.final_equity
        # The end of the file is told in the bot's events (it was only in daemon.log).
        finished = f"replay of {path} finished: all {len(data):,} bars delivered"

        async def told() -> bool:
            page = await service.logs("rep", 0, 100)
            return any(finished in str(item.get("message")) for item in page.items)

        deadline = asyncio.get_running_loop().time() + 10
        while not await told():
            assert asyncio.get_running_loop().time() < deadline, (
                await service.logs("rep", 0, 5)
            ).items
            await asyncio.sleep(0.05)
            await service.writer.flush()
    finally:
        await close_service(service)


async def test_commands_refused_while_shutting_down(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("a"))
    await close_service(service)
    with pytest.raises(ShuttingDown):
        await service.start_bot("a")


async def test_order_ids_continue_after_a_config_change_without_open_orders(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].fill_count >= 2)
        await service.stop_bot("a")
        engine = service._bots["a"].engine
        assert engine is not None
        for order in engine.open_orders():
            engine.venue.cancel(order.client_order_id)
        sent = engine.order_sequence
        await service.writer.flush()
        before = (await service.orders("a", 0, 1000)).items
        await service.update_config("a", {"params": {"fast": 3, "slow": 6, "qty": 1}})
        await service.start_bot("a")
        await wait_for(lambda: service._bots["a"].engine.order_sequence > sent)
        await service.stop_bot("a")
        await service.writer.flush()
        after = {o["client_order_id"]: o for o in (await service.orders("a", 0, 1000)).items}
        assert len(after) > len(before)
        for order in before:  # the new engine reused no id, so no stored order was overwritten
            assert after[order["client_order_id"]] == order
    finally:
        await close_service(service)


async def test_a_bot_that_cannot_start_says_why_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect: a start refused through the API (409, a replay file missing) left no line in
    daemon.log: an operator reading the log could not tell why the bot was in error."""
    missing = tmp_path / "gone.csv"
    service = await open_service(tmp_path)
    try:
        bot = sim_bot("r", feed="replay", feed_options={"path": str(missing)})
        await service.create_bot(bot)
        with pytest.raises(InvalidTransition, match="failed to start"):
            await service.start_bot("r")
        [logged] = [r for r in caplog.records if r.getMessage().startswith("bot r failed to start")]
        assert str(missing) in logged.getMessage()
        assert logged.levelname == "WARNING"
        assert getattr(logged, "bot_id", None) == "r"
    finally:
        await close_service(service)
