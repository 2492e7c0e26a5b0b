"""RiskService with a real store and an injected clock: restart and daily-reset semantics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.orders import OrderRequest
from algotrade.core.timeutil import datetime_to_ns
from algotrade.daemon.bus import EventBus
from algotrade.daemon.risk_service import RiskCommitsStopped, RiskService
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.risk.config_loader import load_risk_config
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store

CHI = ZoneInfo("America/Chicago")


def chicago(day: int, hour: int) -> int:
    return datetime_to_ns(datetime(2026, 11, day, hour, tzinfo=CHI))


def config(tmp_path: Path):
    (tmp_path / "accounts.yaml").write_text(
        "accounts:\n  - id: acct\n    starting_balance: 10000\n"
    )
    (tmp_path / "risk.yaml").write_text(
        "defaults:\n  daily_realized_loss: {enabled: true, limit: 50}\n"
    )
    return load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")


def fill(side: str, price: str, n: int) -> OrderFilled:
    return OrderFilled(
        f"o{n}",
        "v",
        f"t{n}",
        "ES",
        OrderSide(side),
        Decimal(1),
        Decimal(price),
        Decimal(0),
        Liquidity.TAKER,
        0,
    )


async def service_at(tmp_path: Path, now: int) -> tuple[RiskService, Store]:
    from concurrent.futures import ThreadPoolExecutor

    store = Store(f"sqlite:///{tmp_path / 'risk.db'}")
    await asyncio.to_thread(store.open)
    risk = RiskService(
        config(tmp_path), RiskStore(store), EventBus(), ThreadPoolExecutor(1), clock=lambda: now
    )
    await risk.start(lambda _account: [])
    return risk, store


async def stop(risk: RiskService, store: Store) -> None:
    await risk.stop()
    store.close()


async def lock_account(tmp_path: Path) -> None:
    risk, store = await service_at(tmp_path, chicago(16, 10))
    risk.on_fill("acct", "bot", fill("buy", "5000", 1))
    risk.on_fill("acct", "bot", fill("sell", "4900", 2))
    await risk.flush()
    assert [lock.rule for lock in risk.engine.states["acct"].lockouts] == ["daily_realized_loss"]
    await stop(risk, store)


async def test_lockout_survives_a_restart_before_the_reset(tmp_path: Path) -> None:
    await lock_account(tmp_path)
    risk, store = await service_at(tmp_path, chicago(16, 16))
    try:
        verdict = risk.check_order("acct", "bot", OrderRequest("ES", OrderSide.BUY, Decimal(1)))
        assert not verdict.allowed
        assert verdict.rule == "daily_realized_loss"
        assert risk.engine.states["acct"].daily_realized == Decimal(-100)
    finally:
        await stop(risk, store)


async def test_reset_missed_during_downtime_is_applied_at_start(tmp_path: Path) -> None:
    await lock_account(tmp_path)
    risk, store = await service_at(tmp_path, chicago(18, 9))  # two resets went by while down
    try:
        state = risk.engine.states["acct"]
        assert state.lockouts == []
        assert state.daily_realized == 0
        assert state.last_reset_ts == chicago(17, 17)
        verdict = risk.check_order("acct", "bot", OrderRequest("ES", OrderSide.BUY, Decimal(1)))
        assert verdict.allowed
        reads = risk.reads
        log = await reads.log("acct", kinds=["reset", "expiry"], offset=0, limit=10)
        assert [line["kind"] for line in log["items"]] == ["reset", "expiry"]
        lockouts = await reads.lockouts("acct", active_only=False, offset=0, limit=10)
        (lockout,) = lockouts["items"]
        assert lockout["cleared_by"] == "expired"
    finally:
        await stop(risk, store)
    # Idempotent: starting again the same morning applies nothing more.
    risk, store = await service_at(tmp_path, chicago(18, 10))
    try:
        log = await risk.reads.log("acct", kinds=["reset"], offset=0, limit=10)
        assert log["total"] == 1
    finally:
        await stop(risk, store)


async def test_breaches_and_expiries_are_published_on_the_risk_topic(tmp_path: Path) -> None:
    from algotrade.daemon.bus import Topic

    risk, store = await service_at(tmp_path, chicago(16, 10))
    try:
        subscription = risk._bus.subscribe([Topic.RISK])
        risk.on_fill("acct", "bot", fill("buy", "5000", 1))
        risk.on_fill("acct", "bot", fill("sell", "4900", 2))
        await risk.flush()
        message = await asyncio.wait_for(subscription.queue.get(), timeout=5)
        assert message.data["kind"] == "breach"
        assert message.data["rule"] == "daily_realized_loss"
        assert message.data["lockout"]["until"] == "reset"
        stored = await risk.reads.log("acct", kinds=["breach"], offset=0, limit=10)
        assert stored["total"] == 1  # published only once committed
    finally:
        await stop(risk, store)


async def test_enforcement_that_keeps_failing_locks_the_account_and_alerts(
    tmp_path: Path, monkeypatch
) -> None:
    from algotrade.daemon import risk_service as module
    from algotrade.daemon.bus import Topic

    monkeypatch.setattr(module, "ENFORCEMENT_CHECK_S", 0.01)
    (tmp_path / "accounts.yaml").write_text("accounts:\n  - id: acct\n")
    (tmp_path / "risk.yaml").write_text(
        "defaults:\n  symbol_blocklist: {enabled: true, symbols: [ES]}\n"
    )
    from concurrent.futures import ThreadPoolExecutor

    store = Store(f"sqlite:///{tmp_path / 'risk.db'}")
    await asyncio.to_thread(store.open)
    calls: list[tuple[str, str, Decimal]] = []

    class StuckBot:  # a bot whose closing orders never fill (e.g. its feed is down)
        def enforce(self, kind: str, symbol: str, qty: Decimal, **_: object) -> Decimal:
            calls.append((kind, symbol, qty))
            return abs(qty)

        def status_changed(self) -> None:  # its account was locked: nothing to redraw here
            pass

    cfg = load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    bus = EventBus()
    alerts = bus.subscribe([Topic.RISK])
    risk = RiskService(
        cfg, RiskStore(store), bus, ThreadPoolExecutor(1), clock=lambda: chicago(16, 10)
    )
    await risk.start(lambda _account: [StuckBot()])
    try:
        risk.on_fill("acct", "bot", fill("buy", "5000", 1))  # a position in a blocked symbol
        await risk.flush()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any(
                lock.rule == "enforcement_failed" for lock in risk.engine.states["acct"].lockouts
            ):
                break
        locks = [lock.rule for lock in risk.engine.states["acct"].lockouts]
        assert locks == ["enforcement_failed"]
        assert calls == [("close_position", "ES", Decimal(-1))] * module.ENFORCEMENT_RETRIES
        await risk.flush()
        log = await risk.reads.log("acct", kinds=["enforcement"], offset=0, limit=10)
        assert [line["status"] for line in log["items"]] == ["failed"]
        kinds = []
        while not alerts.queue.empty():
            kinds.append(alerts.queue.get_nowait().data["kind"])
        assert "alert" in kinds
        verdict = risk.check_order("acct", "bot", OrderRequest("NQ", OrderSide.BUY, Decimal(1)))
        assert verdict.rule == "enforcement_failed"
    finally:
        await stop(risk, store)


# -- defect 12: every risk task is supervised -------------------------------------------------


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


async def blocked_symbol_service(
    tmp_path: Path, bot: object, supervisor: TaskSupervisor
) -> tuple[RiskService, Store, EventBus]:
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "accounts.yaml").write_text("accounts:\n  - id: acct\n")
    (tmp_path / "risk.yaml").write_text(
        "defaults:\n  symbol_blocklist: {enabled: true, symbols: [ES]}\n"
    )
    store = Store(f"sqlite:///{tmp_path / 'risk.db'}")
    await asyncio.to_thread(store.open)
    cfg = load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    bus = EventBus()
    risk = RiskService(
        cfg,
        RiskStore(store),
        bus,
        ThreadPoolExecutor(1),
        clock=lambda: chicago(16, 10),
        supervisor=supervisor,
    )
    await risk.start(lambda _account: [bot])
    return risk, store, bus


async def test_an_enforcement_that_crashes_is_logged_once_and_locks_the_account(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = TaskSupervisor()
    crashed = asyncio.Event()

    class BrokenBot:
        def enforce(self, kind: str, symbol: str, qty: Decimal, **_: object) -> Decimal:
            crashed.set()
            raise RuntimeError("venue adapter bug")

        def status_changed(self) -> None:  # its account was locked: nothing to redraw here
            pass

    risk, store, _ = await blocked_symbol_service(tmp_path, BrokenBot(), supervisor)
    try:
        risk.on_fill("acct", "bot", fill("buy", "5000", 1))  # a position in a blocked symbol
        await risk.flush()
        await asyncio.wait_for(crashed.wait(), timeout=5)
        # The enforcement task finishes its clean-up (lock, alert, log status), then ends.
        await asyncio.wait_for(until(lambda: supervisor.running == ["risk-commit", "risk-tick"]), 5)
        await risk.flush()
        locks = [lock.rule for lock in risk.engine.states["acct"].lockouts]
        assert locks == ["enforcement_failed"]
        log = await risk.reads.log("acct", kinds=["enforcement"], offset=0, limit=10)
        [line] = log["items"]
        assert line["status"] == "failed"
        assert "crashed: RuntimeError: venue adapter bug" in line["message"]
    finally:
        await stop(risk, store)
    failures = [
        r
        for r in caplog.records
        if r.name == "algotrade.daemon.supervisor" and r.levelname == "ERROR"
    ]
    assert len(failures) == 1
    assert (
        failures[0]
        .getMessage()
        .startswith(
            "task risk-enforce:acct:close_position:ES failed: RuntimeError: venue adapter bug"
        )
    )
    assert supervisor.failures == 1


async def test_stop_cancels_enforcements_still_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from algotrade.daemon import risk_service as module

    monkeypatch.setattr(module, "ENFORCEMENT_CHECK_S", 3600.0)  # waits for a fill for an hour
    supervisor = TaskSupervisor()
    asked = asyncio.Event()

    class SlowBot:
        def enforce(self, kind: str, symbol: str, qty: Decimal, **_: object) -> Decimal:
            asked.set()
            return abs(qty)

    risk, store, _ = await blocked_symbol_service(tmp_path, SlowBot(), supervisor)
    risk.on_fill("acct", "bot", fill("buy", "5000", 1))
    await risk.flush()
    await asyncio.wait_for(asked.wait(), timeout=5)
    assert "risk-enforce:acct:close_position:ES" in supervisor.running
    await asyncio.wait_for(stop(risk, store), timeout=5)
    assert supervisor.running == []


async def test_a_dead_commit_task_makes_flush_fail_instead_of_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from algotrade.daemon import risk_service as module

    risk, store = await service_at(tmp_path, chicago(16, 10))

    def broken_state_record(_state: object) -> object:
        raise RuntimeError("journal bug")

    monkeypatch.setattr(module, "state_record", broken_state_record)
    try:
        risk.on_fill("acct", "bot", fill("buy", "5000", 1))
        risk.on_fill("acct", "bot", fill("sell", "4900", 2))  # a breach: a decision to commit
        await asyncio.sleep(0)  # the commit task takes the batch before anyone flushes
        with pytest.raises(RiskCommitsStopped, match="RuntimeError: journal bug"):
            await asyncio.wait_for(risk.flush(), timeout=5)
        with pytest.raises(RiskCommitsStopped):
            await risk.flush()  # and every later flush, at once
    finally:
        await asyncio.wait_for(stop(risk, store), timeout=5)


async def test_a_bots_status_shows_its_accounts_lockout_until_the_unlock(tmp_path: Path) -> None:
    """Defect: with its account locked, a bot's status said ``blocked: null`` (only a venue's
    own block was shown), though every order of it was refused."""
    from algotrade.daemon.bot_config import BotConfig
    from testkit.service_harness import close_service, open_service

    service = await open_service(tmp_path, risk_config=config(tmp_path))
    try:
        bot = BotConfig.model_validate(
            {"bot_id": "b", "symbol": "ES", "strategy": "rsi", "account_id": "acct"}
        )
        await service.create_bot(bot)
        actor = service._bots["b"]
        assert actor.status().blocked is None
        risk = service.risk
        assert risk is not None
        risk.on_fill("acct", "b", fill("buy", "5000", 1))
        risk.on_fill("acct", "b", fill("sell", "4900", 2))
        await risk.flush()
        blocked = actor.status().blocked  # the cached status was dropped when the lock came
        assert blocked is not None
        assert blocked.startswith("account acct locked by daily_realized_loss until 20")
        await risk.unlock("acct", "test", "checked")
        assert actor.status().blocked is None
    finally:
        await close_service(service)
