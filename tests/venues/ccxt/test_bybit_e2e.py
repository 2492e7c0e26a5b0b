"""Acceptance, end to end: real daemon processes trading on the fake Bybit v5 server.

The daemon knows only the fake's URLs (``[venues.bybit]``) and the credentials in its
environment. Bars come from the fake's kline stream (``confirm: true``); a strategy from a file
in ``tmp_path`` runs one step per bar: market and limit orders, an amendment through
``ctx.amend_order``, a cancel and a re-placement.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.venues.ccxt.model import link_id_for
from testkit.daemon_process import DaemonProcess, wait_until
from testkit.fake_bybit import FakeBybit
from testkit.live_daemon_session import MINUTE_MS, LiveDaemonSession, live_bot_spec

pytestmark = pytest.mark.slow

KEY, SECRET = "e2e-bybit-key-0001", "e2e-bybit-secret-0001"
CREATE = "/v5/order/create"

STRATEGY = '''
from decimal import Decimal

from algotrade.core.events import Bar, OrderSide
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.core.strategy import Strategy, StrategyParams


class Params(StrategyParams):
    steps: list[str] = []


class Stepper(Strategy):
    """Step i runs on the i-th bar: "" | buy:Q | sell:Q | limit_buy:P:Q | limit_sell:P:Q |
    amend:P:Q (the last limit order) | cancel (the last limit order)."""

    name = "stepper"
    Params = Params

    def on_start(self):
        self.bars = 0
        self.last_limit = None

    def on_bar(self, bar: Bar) -> None:
        index, self.bars = self.bars, self.bars + 1
        if index >= len(self.params.steps) or not self.params.steps[index]:
            return
        kind, *args = self.params.steps[index].split(":")
        if kind == "amend":
            self.ctx.amend_order(self.last_limit, qty=Decimal(args[1]), price=Decimal(args[0]))
        elif kind == "cancel":
            self.ctx.cancel_order(self.last_limit)
        elif kind in ("buy", "sell"):
            side = OrderSide.BUY if kind == "buy" else OrderSide.SELL
            self.ctx.submit_order(OrderRequest(bar.symbol, side, Decimal(args[0])))
        else:
            side = OrderSide.BUY if kind == "limit_buy" else OrderSide.SELL
            request = OrderRequest(bar.symbol, side, Decimal(args[1]), OrderType.LIMIT,
                                   limit_price=Decimal(args[0]))
            self.last_limit = self.ctx.submit_order(request)
'''


@pytest.fixture
def venue() -> Iterator[FakeBybit]:
    with FakeBybit() as fake:
        yield fake


class Session(LiveDaemonSession):
    """One fake account, the daemon's config for it, the strategy file and a kline clock."""

    def __init__(self, venue: FakeBybit, tmp_path: Path) -> None:
        self.venue = venue
        self.uid = venue.add_account(KEY, SECRET, balance=100_000)
        super().__init__(
            tmp_path,
            "venues.bybit",
            f'rest_url = "{venue.base_url}"\n'
            f'public_ws_url = "{venue.public_ws_url}"\n'
            f'private_ws_url = "{venue.private_ws_url}"\n',
            {"ALGOTRADE_BYBIT_API_KEY": KEY, "ALGOTRADE_BYBIT_API_SECRET": SECRET},
        )
        self.strategy = tmp_path / "stepper.py"
        self.strategy.write_text(STRATEGY)
        self.kline_ms = (int(time.time() * 1000) // MINUTE_MS - 500) * MINUTE_MS

    def bar(self) -> None:
        """Publish the next closed one-minute kline (its close does not move the price)."""
        self.venue.push_kline(
            "BTCUSDT", "1", self.kline_ms, 65000, 65000, 65000, 65000, 1, move_price=False
        )
        self.kline_ms += MINUTE_MS

    def bot(self, bot_id: str, steps: list[str], **extra: Any) -> dict[str, Any]:
        return live_bot_spec(bot_id, "BTCUSDT", "bybit", self.strategy, steps, **extra)

    def venue_position(self) -> Decimal:
        return self.venue.position(self.uid, "BTCUSDT")[0]


def status(d: DaemonProcess, bot_id: str) -> dict[str, Any]:
    result: dict[str, Any] = d.ok("GET", f"/api/bots/{bot_id}")["status"]
    return result


def position(d: DaemonProcess, bot_id: str) -> Decimal:
    return Decimal(status(d, bot_id)["position"].get("BTCUSDT", "0"))


def orders(d: DaemonProcess, bot_id: str) -> list[dict[str, Any]]:
    return sorted(
        d.all_pages(f"/api/bots/{bot_id}/orders"),
        key=lambda o: int(o["client_order_id"].rsplit("-", 1)[1]),
    )


def step(s: Session, d: DaemonProcess, bot_id: str) -> None:
    """One bar, handled by the bot."""
    before = status(d, bot_id)["heartbeat"]
    s.bar()
    wait_until(lambda: status(d, bot_id)["heartbeat"] != before, 10, "the bar reaches the bot")


def no_link_sent_twice(s: Session, d: DaemonProcess, bot_id: str) -> None:
    for order in orders(d, bot_id):
        link = link_id_for(order["client_order_id"])
        assert len(s.venue.create_requests(link)) == 1, order


def test_live_bot_places_amends_cancels_fills_and_survives_faults(
    venue: FakeBybit, tmp_path: Path
) -> None:
    s = Session(venue, tmp_path)
    d = s.daemon().start()
    try:
        steps = [
            "buy:0.002",  # 0: market, fills
            "limit_buy:60000:0.001",  # 1: rests
            "amend:61000:0.002",  # 2: amended through ctx.amend_order
            "cancel",  # 3: cancelled
            "limit_buy:64000:0.001",  # 4: re-placed, rests; fills while the stream is down
            "buy:0.001",  # 5: the reply is delayed past the timeout
            "buy:0.001",  # 6: the venue places it and answers 502
        ]
        d.ok("POST", "/api/bots", json=s.bot("by", steps, leverage="3"))
        d.ok("PUT", "/api/bots/by/start")
        step(s, d, "by")
        wait_until(lambda: position(d, "by") == Decimal("0.002"), 15, "the market fill")
        step(s, d, "by")
        wait_until(lambda: orders(d, "by")[-1]["status"] == "accepted", 10, "a resting order")
        step(s, d, "by")
        wait_until(lambda: orders(d, "by")[-1]["qty"] == "0.002", 10, "the amendment")
        amended = orders(d, "by")[-1]
        assert (amended["limit_price"], amended["status"]) == ("61000", "accepted")
        (at_venue,) = venue.open_orders(s.uid)
        assert (at_venue["qty"], at_venue["price"]) == ("0.002", "61000")
        assert at_venue["orderLinkId"] == amended["client_order_id"] == "by-2"
        step(s, d, "by")
        wait_until(lambda: orders(d, "by")[-1]["status"] == "cancelled", 10, "the cancel")
        assert venue.open_orders(s.uid) == []
        step(s, d, "by")
        wait_until(lambda: orders(d, "by")[-1]["status"] == "accepted", 10, "the re-placement")

        # The private stream drops while the order rests, and stays down while it fills.
        venue.refuse_websockets(kind="private")
        assert venue.drop_websockets("private") == 1
        venue.set_price("BTCUSDT", 63_900)
        time.sleep(0.5)
        venue.refuse_websockets(False, kind="private")
        wait_until(lambda: position(d, "by") == Decimal("0.003"), 15, "the missed fill")
        venue.set_price("BTCUSDT", 65_000)
        wait_until(lambda: d.ok("GET", "/api/venues")[0]["connected"], 10, "the reconnect")

        # A placement whose reply is held past the timeout, then one the venue places but
        # answers with a 502: both found by orderLinkId, neither sent twice.
        venue.delay_next(2.5, CREATE)
        step(s, d, "by")
        wait_until(lambda: position(d, "by") == Decimal("0.004"), 15, "the timed-out fill")
        venue.fail_next(1, 502, CREATE, apply=True)
        step(s, d, "by")
        wait_until(lambda: position(d, "by") == Decimal("0.005"), 15, "the 502 fill")
        time.sleep(1.5)  # a blind resend would have happened by now

        book = orders(d, "by")
        assert [o["status"] for o in book] == [
            "filled",
            "cancelled",
            "filled",
            "filled",
            "filled",
        ]
        no_link_sent_twice(s, d, "by")
        assert len(venue.create_requests()) == 5
        fills = d.all_pages("/api/bots/by/fills")
        assert len(fills) == len({f["trade_id"] for f in fills}) == len(venue.executions(s.uid))
        assert s.venue_position() == position(d, "by") == Decimal("0.005")
        (state,) = d.ok("GET", "/api/venues")
        assert (state["venue"], state["exchange"], state["connected"]) == ("bybit", "bybit", True)
        assert state["blocked"] == {}
        assert state["alerts"] == []
        assert state["positions"] == {"BTCUSDT": "0.005"}
        assert state["counters"]["ws_private_reconnects"] >= 1
        assert state["account"] == "API key …0001"
        assert SECRET not in str(state)
        state = d.ok("POST", "/api/venues/bybit/reconcile")
        assert state["blocked"] == {}
        assert state["last_reconcile"]["mismatches"] == []
        assert venue.position(s.uid, "BTCUSDT")[0] == Decimal("0.005")
        metrics = d.call("GET", "/metrics").text
        assert 'algotrade_venue_connected{venue="bybit"} 1.0' in metrics
    finally:
        code, _, stderr = d.terminate()
    assert code == 0
    assert SECRET not in stderr


def test_kill_9_right_after_sending_then_restart(venue: FakeBybit, tmp_path: Path) -> None:
    """kill -9 as soon as the venue has the orders: whether or not the daemon recorded them,
    the restarted bot ends with the venue's orders and position, nothing sent twice."""
    s = Session(venue, tmp_path)
    first = s.daemon().start()
    try:
        steps = ["buy:0.002", "limit_buy:50000:0.001"]
        first.ok("POST", "/api/bots", json=s.bot("crash", steps, auto_resume=True))
        first.ok("PUT", "/api/bots/crash/start")
        s.bar()
        s.bar()
        wait_until(lambda: len(venue.create_requests()) == 2, 15, "both orders at the venue")
    finally:
        first.kill()  # SIGKILL: no flush, no goodbye

    second = s.daemon().start()
    try:
        wait_until(lambda: status(second, "crash")["state"] == "running", 15, "resume")
        wait_until(lambda: position(second, "crash") == Decimal("0.002"), 20, "the fill")
        wait_until(
            lambda: [o["status"] for o in orders(second, "crash")] == ["filled", "accepted"],
            20,
            "both orders, as the venue has them",
        )
        no_link_sent_twice(s, second, "crash")
        assert len(venue.create_requests()) == 2
        state = second.ok("POST", "/api/venues/bybit/reconcile")
        assert state["blocked"] == {}
        assert s.venue_position() == Decimal("0.002")
        assert len(second.all_pages("/api/bots/crash/fills")) == len(venue.executions(s.uid)) == 1
        (resting,) = venue.open_orders(s.uid)
        assert resting["orderLinkId"] == "crash-2"
    finally:
        second.terminate()


def test_missing_credentials_refuse_to_trade_with_a_one_line_reason(
    venue: FakeBybit, tmp_path: Path
) -> None:
    s = Session(venue, tmp_path)
    process = s.daemon()
    for name in ("ALGOTRADE_BYBIT_API_KEY", "ALGOTRADE_BYBIT_API_SECRET"):
        process.env.pop(name)
    d = process.start()
    try:
        d.ok("POST", "/api/bots", json=s.bot("nokey", ["buy:0.001"]))
        started = d.call("PUT", "/api/bots/nokey/start")
        text = started.text + str(d.ok("GET", "/api/bots/nokey"))
        assert "trading on Bybit needs credentials: set ALGOTRADE_BYBIT_API_KEY" in text
        assert venue.create_requests() == []
    finally:
        d.terminate()
