"""RiskService enforcing at a watched account's venue (a stub WatchedAccount): a close never
reverses the position, a refusal is retried, a watch that stays down ends in the manual
``enforcement_failed`` lock, and a bot's own reports on a watched account are not counted twice
(the venue reports them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.errors import RetryableError
from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.daemon import risk_service as module
from algotrade.daemon.bus import EventBus
from algotrade.daemon.risk_service import RiskService
from algotrade.risk.config_loader import load_risk_config
from algotrade.risk.events import AccountFill, PositionUpdate
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store
from algotrade.venues.registry import WatchedAccount

D = Decimal
ACCOUNT = "hand"


class StubAccount:
    """A venue account: records what it was asked; refuses the first ``refuse`` calls."""

    def __init__(self, held: Decimal, refuse: int = 0) -> None:
        self.held = held
        self.refuse = refuse
        self.calls: list[tuple[Any, ...]] = []

    async def stop(self, timeout: float = 5.0) -> None:
        del timeout

    def snapshot(self) -> dict[str, Any]:
        return {"venue": "stub", "account": "X", "connected": True}

    def position(self, symbol: str) -> Decimal:
        return self.held

    async def cancel_orders(
        self, symbol: str | None, order_id: str | None = None, *, keep_protective: bool = False
    ) -> int:
        self.calls.append(("cancel", symbol, order_id, keep_protective))
        if self.refuse:
            self.refuse -= 1
            raise RetryableError("the venue is busy")
        return 1

    async def close_position(self, symbol: str, qty: Decimal | None = None) -> Decimal:
        self.calls.append(("close", symbol, qty))
        return D(0) if qty is None else qty


class View:
    def __init__(self, account: WatchedAccount | None) -> None:
        self.account = account

    def status(self) -> dict[str, Any]:
        return {"state": "connected" if self.account else "error"}


@pytest.fixture
def risk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RiskService]:
    monkeypatch.setattr(module, "ENFORCEMENT_CHECK_S", 0.01)
    (tmp_path / "accounts.yaml").write_text(
        f"accounts:\n  - {{id: {ACCOUNT}, venue: projectx, watch: {{account: X}}}}\n"
    )
    (tmp_path / "risk.yaml").write_text(
        "defaults:\n  daily_realized_loss: {enabled: true, limit: 100}\n"
    )
    config = load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    store = Store(f"sqlite:///{tmp_path / 'risk.db'}")
    store.open()
    service = RiskService(config, RiskStore(store), EventBus(), ThreadPoolExecutor(1))
    yield service
    store.close()


async def enforcements(risk: RiskService) -> list[dict[str, Any]]:
    await risk.flush()
    page = await risk.reads.log(ACCOUNT, kinds=["enforcement"], offset=0, limit=50)
    return list(page["items"])


async def settled(risk: RiskService) -> list[dict[str, Any]]:
    for _ in range(500):
        lines = await enforcements(risk)
        if lines and all(line["status"] != "requested" for line in lines):
            return lines
        await asyncio.sleep(0.01)
    raise AssertionError("enforcements did not settle")


def position(qty: str) -> PositionUpdate:
    return PositionUpdate(ACCOUNT, 1, "EPZ25", D(qty), D(6000) if D(qty) else D(0))


def losing_fill() -> AccountFill:
    return AccountFill(ACCOUNT, 2, "EPZ25", "sell", D(1), D(5990), D(0), D(-500))


async def test_a_flatten_closes_what_the_venue_holds_and_never_reverses(risk: RiskService) -> None:
    await risk.start(lambda _account: [])
    stub = StubAccount(held=D(2))
    risk.attach_watch(ACCOUNT, View(stub))  # type: ignore[arg-type]
    try:
        risk.venue_event(position("2"))
        risk.venue_event(losing_fill(), "9001")  # the daily loss: flatten (close −2)
        risk.venue_event(position("1"))  # the venue: the person sold one meanwhile
        lines = await settled(risk)
        assert [(line["action"], line["status"]) for line in lines] == [
            ("cancel_orders", "done"),
            ("close_position", "failed"),  # the stub never reports the position flat
        ]
        assert ("cancel", None, None, False) in stub.calls
        closes = [call for call in stub.calls if call[0] == "close"]
        assert closes == [("close", "EPZ25", D(1))] * module.ENFORCEMENT_RETRIES  # never 2
        locks = [lock.rule for lock in risk.engine.states[ACCOUNT].lockouts]
        assert locks == ["daily_realized_loss", "enforcement_failed"]
    finally:
        await risk.stop()


async def test_a_refused_cancel_is_tried_again(risk: RiskService) -> None:
    await risk.start(lambda _account: [])
    stub = StubAccount(held=D(0), refuse=1)
    risk.attach_watch(ACCOUNT, View(stub))  # type: ignore[arg-type]
    try:
        risk.venue_event(losing_fill(), "9001")
        [line] = await settled(risk)
        assert (line["action"], line["status"], line["attempts"]) == ("cancel_orders", "done", 2)
    finally:
        await risk.stop()


async def test_a_watch_that_stays_down_ends_in_the_manual_lock(risk: RiskService) -> None:
    await risk.start(lambda _account: [])
    risk.attach_watch(ACCOUNT, View(None))
    try:
        risk.venue_event(losing_fill(), "9001")
        [line] = await settled(risk)
        assert line["status"] == "failed"
        assert "NotConnected: the account's venue watch is not connected" in line["message"]
        locks = [lock.rule for lock in risk.engine.states[ACCOUNT].lockouts]
        assert "enforcement_failed" in locks
        assert risk.account(ACCOUNT)["watch"] == {"state": "error"}
    finally:
        await risk.stop()


async def test_a_bots_reports_on_a_watched_account_are_left_to_the_venue(
    risk: RiskService,
) -> None:
    await risk.start(lambda _account: [])
    risk.attach_watch(ACCOUNT, View(StubAccount(held=D(0))))  # type: ignore[arg-type]
    try:
        fill = OrderFilled(
            "o1", "v", "t1", "EPZ25", OrderSide.SELL, D(1), D(5990), D(0), Liquidity.TAKER, 0
        )
        risk.on_fill(ACCOUNT, "bot", fill)
        assert risk.engine.states[ACCOUNT].trades_today == 0
        risk.venue_event(losing_fill(), "9001")  # the same trade, as the venue reports it
        risk.venue_event(losing_fill(), "9001")
        assert risk.engine.states[ACCOUNT].trades_today == 1
    finally:
        await risk.stop()
