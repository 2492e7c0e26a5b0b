"""The ProjectX account guard (venues/projectx/guard.py) against the local fake gateway: what a
person does in the broker's web platform reaches the sink; a restart, a dropped hub or an
expired token loses nothing and counts nothing twice; enforcement acts on the venue's state."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from algotrade.core.errors import ConfigError
from algotrade.venues.projectx.config import ProjectXConfig
from algotrade.venues.projectx.guard import ProjectXAccountNotFound, watch_account
from algotrade.venues.registry import WatchedAccount
from testkit.fake_projectx import FakeProjectX
from testkit.fake_projectx.wire import parse_time
from testkit.projectx_trader import USER, add_trader, gateway_urls, until

ES = "CON.F.US.EP.Z25"
NQ = "CON.F.US.ENQ.Z25"
D = Decimal


@dataclass
class Sink:
    """Records every call of the ``WatchedAccountSink`` protocol."""

    start_ns: int = 0
    fills: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    synced: list[tuple[list[str], list[str]]] = field(default_factory=list)
    marks: list[tuple[str, Decimal]] = field(default_factory=list)
    statuses: list[tuple[bool, bool, str]] = field(default_factory=list)
    multipliers: dict[str, Decimal] = field(default_factory=dict)

    def history_start_ns(self) -> int:
        return self.start_ns

    def on_fill(self, **fill: Any) -> None:
        self.fills.append(fill)

    def on_order(self, **order: Any) -> None:
        self.orders.append(order)

    def on_position(self, **position: Any) -> None:
        self.positions.append(position)

    def on_synced(self, *, open_orders: Collection[str], positions: Collection[str]) -> None:
        self.synced.append((sorted(open_orders), sorted(positions)))

    def on_mark(self, symbol: str, price: Decimal) -> None:
        self.marks.append((symbol, price))

    def on_status(self, *, connected: bool, can_trade: bool, reason: str) -> None:
        self.statuses.append((connected, can_trade, reason))

    def set_multipliers(self, multipliers: Mapping[str, Decimal]) -> None:
        self.multipliers.update(multipliers)

    def trade_ids(self) -> list[str]:
        return [f["trade_id"] for f in self.fills]

    def position(self, symbol: str) -> Decimal | None:
        mine = [p["qty"] for p in self.positions if p["symbol"] == symbol]
        return mine[-1] if mine else None


@pytest.fixture
def account(venue: FakeProjectX, monkeypatch: pytest.MonkeyPatch) -> int:
    add_trader(venue, monkeypatch)
    venue.add_account(USER, "OTHER_ACCOUNT", balance=100_000)
    return venue.add_account(USER, "50KTC-V2-123456", balance=50_000)


def config(venue: FakeProjectX) -> ProjectXConfig:
    return ProjectXConfig(
        **gateway_urls(venue),
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )


def when(order: dict[str, Any], key: str) -> float:
    return parse_time(order[key], key)


async def test_start_reports_todays_trades_positions_and_open_orders(
    venue: FakeProjectX, account: int
) -> None:
    venue.web.place_order(account, ES, "market", "buy", 1)  # yesterday's trade
    sink = Sink(start_ns=time.time_ns())
    venue.web.place_order(account, ES, "market", "buy", 1)  # today: long 2 at 6000
    venue.set_price(ES, "5990")
    venue.web.place_order(account, ES, "market", "sell", 1)  # today: -10 points = -500
    stop = venue.web.place_order(account, ES, "stop", "sell", 1, stop_price="5950")
    entry = venue.web.place_order(account, NQ, "limit", "buy", 2, limit_price="20000")
    guard = await watch_account(config(venue), "50KTC-V2-123456", sink)
    try:
        trades = list(venue.trades(account))
        assert sink.trade_ids() == [str(t["id"]) for t in trades[1:]]
        assert [(f["side"], f["qty"], f["price"], f["realized_pnl"]) for f in sink.fills] == [
            ("buy", D(1), D(6000), None),
            ("sell", D(1), D(5990), D(-500)),
        ]
        assert sink.fills[1]["fee"] == D("1.4")
        assert {f["symbol"] for f in sink.fills} == {"EPZ25"}
        assert sink.multipliers == {"EPZ25": D(50), "ENQZ25": D(20)}  # tick value / tick size
        assert sink.position("EPZ25") == D(1)
        by_id = {o["order_id"]: o for o in sink.orders}
        assert by_id[str(stop)]["reduce_only"] is True  # the stop loss of the long
        assert by_id[str(entry)]["reduce_only"] is False
        assert by_id[str(entry)]["symbol"] == "ENQZ25"
        assert sink.synced == [(sorted([str(stop), str(entry)]), ["EPZ25"])]
        assert sink.statuses == [(True, True, "")]
        snapshot = guard.snapshot()
        assert snapshot["venue_account_id"] == account
        assert snapshot["connected"] is True
        assert snapshot["positions"] == {"EPZ25": "1"}
    finally:
        await guard.stop()


async def test_what_a_person_does_in_the_web_platform_reaches_the_sink_live(
    venue: FakeProjectX, account: int
) -> None:
    sink = Sink(start_ns=time.time_ns())
    guard = await watch_account(config(venue), str(account), sink)  # by id this time
    try:
        order_id = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5995")
        await until(lambda: any(o["order_id"] == str(order_id) for o in sink.orders), "order")
        assert sink.orders[-1]["status"] == "open"
        venue.set_price(ES, "5995")  # the limit fills
        await until(lambda: len(sink.fills) == 1, "the fill")
        await until(lambda: sink.position("EPZ25") == 1, "the position")
        assert sink.orders[-1]["status"] == "filled"
        # The guard subscribes to a contract's quotes once it holds it; a price set before
        # that subscription reaches no one (the hub pushes changes, not a snapshot).
        await until(lambda: ("quotes", ES) in venue.hub_subscriptions("market"), "quotes wanted")
        venue.set_price(ES, "5997.25")
        await until(lambda: ("EPZ25", D("5997.25")) in sink.marks, "a quote of the held contract")
        venue.web.flatten(account, ES)
        await until(lambda: sink.position("EPZ25") == 0, "flat")
        assert sink.fills[-1]["realized_pnl"] == D("112.5")  # 2.25 points × 50
        venue.set_can_trade(account, False)
        await until(lambda: sink.statuses[-1][1] is False, "the account's trading halt")
    finally:
        await guard.stop()


async def test_enforcement_cancels_and_closes_at_the_venue(
    venue: FakeProjectX, account: int
) -> None:
    sink = Sink(start_ns=time.time_ns())
    guard: WatchedAccount = await watch_account(config(venue), "50ktc-v2-123456", sink)
    try:
        venue.web.place_order(account, ES, "market", "buy", 3)
        stop = venue.web.place_order(account, ES, "stop", "sell", 3, stop_price="5950")
        entries = [
            venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5900"),
            venue.web.place_order(account, NQ, "limit", "buy", 1, limit_price="20000"),
        ]
        await until(lambda: guard.position("EPZ25") == 3, "the position")
        assert await guard.cancel_orders(None, str(entries[0])) == 1
        assert await guard.cancel_orders(None, str(entries[0])) == 0  # gone already: done
        assert await guard.cancel_orders("EPZ25", keep_protective=True) == 0  # the stop stays
        assert await guard.cancel_orders(None, keep_protective=True) == 1  # the NQ entry
        assert [o["id"] for o in venue.open_orders(account)] == [stop]
        assert await guard.close_position("EPZ25", D(1)) == D(1)  # partialCloseContract
        assert await guard.close_position("EPZ25", D(1)) == D(1)  # partial: the stop stays
        assert [o["id"] for o in venue.open_orders(account)] == [stop]
        assert await guard.close_position("EPZ25", D(5)) == D(1)  # never more than held
        assert venue.positions(account) == []
        # All of it: the stop went first (it would open a short once flat).
        [cancelled] = [o for o in venue.orders(account) if o["id"] == stop]
        [close] = [o for o in venue.orders(account) if o["origin"] == "api"][-1:]
        assert cancelled["status"] == 3
        assert when(cancelled, "updateTimestamp") <= when(close, "creationTimestamp")
        assert await guard.close_position("EPZ25") == 0
        assert await guard.cancel_orders("EPZ25") == 0
        await until(lambda: sink.position("EPZ25") == 0, "flat in the sink")
        assert venue.request_count("/api/Position/partialCloseContract") == 2
        assert venue.request_count("/api/Position/closeContract") == 1
    finally:
        await guard.stop()


async def test_a_dropped_hub_is_gap_filled_exactly_once(venue: FakeProjectX, account: int) -> None:
    sink = Sink(start_ns=time.time_ns())
    guard = await watch_account(config(venue), "50KTC-V2-123456", sink)
    try:
        venue.web.place_order(account, ES, "market", "buy", 1)
        await until(lambda: len(sink.fills) == 1, "the first fill")
        venue.refuse_websockets()
        venue.drop_connections("user")
        await until(lambda: sink.statuses[-1][0] is False, "the drop reported")
        venue.web.place_order(account, ES, "market", "sell", 1)  # while we are away
        missed = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5900")
        venue.refuse_websockets(False)
        await until(lambda: sink.statuses[-1][0] is True, "reconnected and gap filled")
        assert len(sink.fills) == 2
        assert len(set(sink.trade_ids())) == 2
        assert sink.position("EPZ25") == 0
        assert str(missed) in sink.synced[-1][0]
        assert guard.snapshot()["reconnects"] >= 1
    finally:
        await guard.stop()


async def test_token_expiry_mid_session_is_renewed_without_losing_a_fill(
    venue: FakeProjectX, account: int
) -> None:
    sink = Sink(start_ns=time.time_ns())
    guard = await watch_account(config(venue), "50KTC-V2-123456", sink)
    try:
        venue.expire_tokens()  # the session token dies: REST 401, hubs refuse it
        venue.drop_connections()
        venue.web.place_order(account, ES, "market", "buy", 2)  # while the hubs are down
        await until(lambda: len(sink.fills) == 1, "the fill made during the expiry", 10)
        await until(lambda: sink.statuses[-1][0] is True, "connected again")
        venue.web.place_order(account, ES, "market", "sell", 1)  # on the renewed hub
        await until(lambda: len(sink.fills) == 2, "a fill on the renewed hub")
        assert sink.position("EPZ25") == 1
        snapshot = guard.snapshot()
        assert snapshot["token_renewals"] >= 1
    finally:
        await guard.stop()
    assert venue.request_count("/api/Auth/loginKey") == 1  # renewed with validate


async def test_an_unknown_account_or_missing_credentials_is_one_clear_error(
    venue: FakeProjectX, account: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProjectXAccountNotFound) as info:
        await watch_account(config(venue), "NOPE-1", Sink())
    assert "account 'NOPE-1' is not an account of this login" in str(info.value)
    assert "OTHER_ACCOUNT, 50KTC-V2-123456" in str(info.value)
    monkeypatch.delenv("ALGOTRADE_PROJECTX_API_KEY")
    with pytest.raises(ConfigError, match="ALGOTRADE_PROJECTX_API_KEY"):
        await watch_account(config(venue), "50KTC-V2-123456", Sink())


async def test_cancelling_everything_includes_an_order_whose_status_is_not_documented(
    venue: FakeProjectX, account: int
) -> None:
    """An open order whose status the gateway does not document is left out of the order list
    (the others are read), yet a lockout's cancel-all still cancels it by its id: an order we
    cannot read cannot be shown to protect the position."""
    sink = Sink(start_ns=time.time_ns())
    readable = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5900")
    unread = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price="5890")
    venue.set_order_status(account, unread, 9)
    guard = await watch_account(config(venue), "50ktc-v2-123456", sink)
    try:
        assert sink.synced[-1][0] == [str(readable)]  # the snapshot read the rest
        assert await guard.cancel_orders("EPZ25", keep_protective=True) == 2
        assert venue.open_orders(account) == []
    finally:
        await guard.stop()
