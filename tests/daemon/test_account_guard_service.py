"""The daemon's account guard in process (RiskService + AccountWatches + the ProjectX guard
against the fake gateway), with the risk clock shifted so that the daily reset (17:00 Chicago)
comes during the test: a lock from manually traded fills lasts until the reset and lifts there,
as for bot accounts; afterwards the person's orders are left alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from algotrade.core.timeutil import datetime_to_ns
from algotrade.daemon.account_watch import AccountWatches
from algotrade.daemon.bus import EventBus
from algotrade.daemon.risk_service import RiskService
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.risk.config_loader import load_risk_config
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store
from testkit.fake_projectx import FakeProjectX
from testkit.projectx_trader import USER, add_trader, gateway_urls, until

ES = "CON.F.US.EP.Z25"
ACCOUNT = "topstep-50k"


@pytest.fixture(scope="module")
def venue() -> Iterator[FakeProjectX]:
    with FakeProjectX(keepalive_s=1.0) as fake:
        yield fake


@pytest.fixture
def account(venue: FakeProjectX, monkeypatch: pytest.MonkeyPatch) -> int:
    add_trader(venue, monkeypatch)
    return venue.add_account(USER, "50KTC-V2-123456")


class ShiftedClock:
    """Real time moved so that ``before_reset_s`` from now it is 17:00 in Chicago."""

    def __init__(self, before_reset_s: float) -> None:
        chicago = ZoneInfo("America/Chicago")
        now = datetime.now(chicago)
        reset = now.replace(hour=17, minute=0, second=0, microsecond=0)
        if reset <= now:
            reset += timedelta(days=1)
        self.offset = datetime_to_ns(reset) - int(before_reset_s * 1e9) - time.time_ns()

    def __call__(self) -> int:
        return time.time_ns() + self.offset


def supervisor_enforcing(supervisor: TaskSupervisor) -> list[str]:
    return [name for name in supervisor.running if name.startswith("risk-enforce:")]


async def test_a_lock_from_manual_fills_lifts_at_the_daily_reset(
    tmp_path: Path, venue: FakeProjectX, account: int
) -> None:
    (tmp_path / "accounts.yaml").write_text(
        f"accounts:\n  - id: {ACCOUNT}\n    venue: projectx\n"
        "    watch: {account: 50KTC-V2-123456}\n"
        "    multipliers: {EPZ25: 5}\n"  # hand-typed and wrong: the venue's 50 wins
    )
    (tmp_path / "risk.yaml").write_text(
        "defaults:\n  daily_realized_loss: {limit: 400, enabled: true}\n"
    )
    config = load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    store = Store(f"sqlite:///{tmp_path / 'risk.db'}")
    await asyncio.to_thread(store.open)
    clock = ShiftedClock(before_reset_s=60)
    bus = EventBus()
    supervisor = TaskSupervisor()
    risk = RiskService(
        config,
        RiskStore(store),
        bus,
        ThreadPoolExecutor(1),
        clock=clock,
        tick_interval=0.02,
        supervisor=supervisor,
    )
    await risk.start(lambda _account: [])
    venues = {"projectx": gateway_urls(venue)}
    watches = AccountWatches(risk, venues, bus, supervisor)
    await watches.start()
    state = risk.engine.states[ACCOUNT]
    try:
        venue.web.place_order(account, ES, "market", "buy", 1)
        venue.set_price(ES, "5990")
        venue.web.place_order(account, ES, "market", "sell", 1)  # −500 − fees: locked
        await until(lambda: bool(state.lockouts), "the daily-loss lock")
        [lock] = state.lockouts
        assert lock.until_ts == state.next_reset_ts
        assert state.multipliers["EPZ25"] == Decimal(50)
        [warning] = watches.watches[ACCOUNT].multiplier_warnings
        assert warning.startswith("EPZ25: accounts.yaml says 5, the venue 50")
        await risk.flush()
        await until(lambda: not supervisor_enforcing(supervisor), "the flatten done")
        locked_order = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5900")
        await until(lambda: venue.open_orders(account) == [], "cancelled while locked")

        clock.offset += 61_000_000_000  # 17:00:01 in Chicago: the daily reset
        await until(lambda: not state.lockouts, "the lock lifted at the reset")
        assert state.daily_realized == 0
        assert state.trades_today == 0
        allowed = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5900")
        await until(lambda: str(allowed) in state.open_orders, "the new order seen")
        await risk.flush()
        await until(lambda: not supervisor_enforcing(supervisor), "no enforcement running")
        assert [o["id"] for o in venue.open_orders(account)] == [allowed]
        log = await risk.reads.log(ACCOUNT, kinds=None, offset=0, limit=100)
        kinds = [line["kind"] for line in log["items"]]
        assert kinds.count("reset") == 1
        assert "expiry" in kinds
        breaches = [line["message"] for line in log["items"] if line["kind"] == "breach"]
        assert f"order {locked_order} placed while locked by daily_realized_loss" in breaches
        assert all(str(allowed) not in message for message in breaches)
    finally:
        await watches.stop()
        await risk.stop()
        store.close()
