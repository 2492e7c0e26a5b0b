"""Acceptance, end to end: a real daemon process trading on a local fake Hyperliquid server.

The fake speaks the wire protocol (REST /info and /exchange with signature checks, /ws with
pushes); the daemon only knows its URLs and the credentials in its environment. Bars come
from the fake's candle channel; a scripted strategy places one order per bar as told.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from typer.testing import CliRunner

from algotrade.cli.main import app
from algotrade.venues.hyperliquid.exchange import cloid_for
from testkit.api_harness import TRADER_KEY
from testkit.daemon_process import DaemonProcess, wait_until
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.live_daemon_session import MINUTE_MS, LiveDaemonSession, live_bot_spec

pytestmark = pytest.mark.slow

SCRIPTED = Path(__file__).parents[1] / "testkit" / "strategies" / "scripted.py"


@pytest.fixture
def venue() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as fake:
        yield fake


class Session(LiveDaemonSession):
    """One fake account, the daemon's config for it, and a candle clock."""

    def __init__(self, venue: FakeHyperliquid, tmp_path: Path) -> None:
        self.venue = venue
        self.user = Account.create()
        self.agent = Account.create()  # an API wallet signing for the user
        venue.add_account(self.user.address, [self.agent.address], balance=100_000)
        super().__init__(
            tmp_path,
            "hyperliquid",
            f'api_url = "{venue.base_url}"\nws_url = "{venue.ws_url}"\nping_interval_s = 5\n',
            {
                "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS": self.user.address,
                "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY": self.agent.key.hex(),
            },
        )
        self.candle_ms = (int(time.time() * 1000) // MINUTE_MS - 500) * MINUTE_MS

    @property
    def address(self) -> str:
        return str(self.user.address).lower()

    def candle(self, close: str = "65000") -> None:
        """Publish the next one-minute candle; the previous one is closed by it."""
        px = Decimal(close)
        self.venue.publish_candle("BTC", "1m", self.candle_ms, px, px, px, px, 1)
        self.candle_ms += MINUTE_MS

    def venue_position(self) -> Decimal:
        return Decimal(self.venue.position(self.address, "BTC").szi)


def live_bot(bot_id: str, steps: list[str], **extra: Any) -> dict[str, Any]:
    return live_bot_spec(bot_id, "BTC", "hyperliquid", SCRIPTED, steps, **extra)


def bot_position(d: DaemonProcess, bot_id: str) -> Decimal:
    status = d.ok("GET", f"/api/bots/{bot_id}")["status"]
    return Decimal(status["position"].get("BTC", "0"))


def bot_status(d: DaemonProcess, bot_id: str) -> dict[str, Any]:
    status: dict[str, Any] = d.ok("GET", f"/api/bots/{bot_id}")["status"]
    return status


def orders(d: DaemonProcess, bot_id: str) -> list[dict[str, Any]]:
    return d.all_pages(f"/api/bots/{bot_id}/orders")


def advance(session: Session, d: DaemonProcess, bot_id: str, bars: int) -> None:
    """Publish candles until the bot has handled ``bars`` more bars (one order step each)."""
    start = bot_status(d, bot_id)["heartbeat"]
    for _ in range(bars):
        session.candle()
        time.sleep(0.05)
    session.candle()  # closes the last of them
    wait_until(lambda: bot_status(d, bot_id)["heartbeat"] != start, 10, "bars reach the bot")


def test_live_bot_orders_fills_reconnect_and_timeout(
    venue: FakeHyperliquid, tmp_path: Path
) -> None:
    s = Session(venue, tmp_path)
    d = s.daemon().start()
    try:
        steps = ["buy:0.002", "limit_buy:64000:0.001", "", "", "buy:0.001", "", ""]
        d.ok("POST", "/api/bots", json=live_bot("hl", steps, leverage="3"))
        d.ok("PUT", "/api/bots/hl/start")
        (update,) = [a["action"] for a in venue.actions if a["action"]["type"] == "updateLeverage"]
        assert (update["asset"], update["leverage"], update["isCross"]) == (0, 3, True)

        # Bar 0: a market order (IOC at mid ± slippage) fills at the venue.
        s.candle()
        s.candle()
        wait_until(lambda: bot_position(d, "hl") == Decimal("0.002"), 15, "the market fill")
        assert s.venue_position() == Decimal("0.002")

        # Bar 1: a resting limit order.
        s.candle()
        wait_until(
            lambda: any(o["status"] == "accepted" for o in orders(d, "hl")), 15, "a resting order"
        )
        resting = next(o for o in orders(d, "hl") if o["status"] == "accepted")

        # The WebSocket drops and stays down while the resting order fills: the fill can only
        # come back through userFills over REST.
        fills_queries = venue.request_count("/info", "userFillsByTime")
        venue.refuse_websockets()
        assert venue.drop_websockets() >= 1
        venue.set_mid("BTC", Decimal(63_900))
        time.sleep(0.5)
        venue.refuse_websockets(False)
        wait_until(lambda: bot_position(d, "hl") == Decimal("0.003"), 15, "the missed fill")
        assert venue.request_count("/info", "userFillsByTime") > fills_queries
        wait_until(lambda: venue.ws_connections() >= 1, 10, "the WebSocket reconnects")
        subscribed = {sub["type"] for sub in venue.ws_subscriptions()}
        assert {"candle", "orderUpdates", "userFills", "userEvents"} <= subscribed
        venue.set_mid("BTC", Decimal(65_000))

        # Bar 4: the order request times out although the venue placed it; the daemon finds
        # it by cloid instead of sending it again.
        status_queries = venue.request_count("/info", "orderStatus")
        venue.delay_next_exchange(2.5)
        advance(s, d, "hl", 3)
        wait_until(lambda: bot_position(d, "hl") == Decimal("0.004"), 20, "the timed-out fill")
        wait_until(
            lambda: venue.request_count("/info", "orderStatus") > status_queries,
            10,
            "the lookup by cloid after the timeout",
        )
        time.sleep(1.5)  # a blind resend would have happened by now

        # No order was ever sent twice, and the books agree with clearinghouseState.
        all_orders = orders(d, "hl")
        assert len(all_orders) == 3
        for order in all_orders:
            assert venue.orders_by_cloid(cloid_for(order["client_order_id"])) == 1
        assert resting["client_order_id"] in {o["client_order_id"] for o in all_orders}
        fills = d.all_pages("/api/bots/hl/fills")
        assert len(fills) == len({f["trade_id"] for f in fills}) == len(venue.fills(s.address))
        assert s.venue_position() == bot_position(d, "hl") == Decimal("0.004")
        (state,) = d.ok("GET", "/api/venues")
        assert state["connected"] is True
        assert state["blocked"] == {}
        assert state["counters"]["ws_reconnects"] >= 1
        metrics = d.call("GET", "/metrics").text
        assert 'algotrade_venue_connected{venue="hyperliquid"} 1.0' in metrics

        # Garbage on the WebSocket is logged and skipped; the next bars still arrive.
        for frame in (
            "not json",
            "[1, 2]",
            '{"channel": "mystery", "data": 1}',
            '{"channel": "candle", "data": {"t": "soon"}}',
            '{"channel": "userFills", "data": {"fills": [{"coin": "BTC"}]}}',
            '{"channel": "orderUpdates", "data": [{"order": 5}]}',
        ):
            venue.inject_ws_message(frame)
        advance(s, d, "hl", 1)
        assert bot_status(d, "hl")["state"] == "running"
        assert d.ok("GET", "/api/health")["status"] == "ok"
    finally:
        d.terminate()


def test_restart_adopts_resting_order_and_position_then_mismatch_blocks(
    venue: FakeHyperliquid, tmp_path: Path
) -> None:
    s = Session(venue, tmp_path)
    first = s.daemon().start()
    steps = ["buy:0.002", "limit_buy:50000:0.001", "limit_buy:60000:0.001", "", "", "buy:0.001"]
    try:
        first.ok("POST", "/api/bots", json=live_bot("keeper", steps, auto_resume=True))
        first.ok("PUT", "/api/bots/keeper/start")
        for _ in range(4):
            s.candle()
        wait_until(
            lambda: sum(o["status"] == "accepted" for o in orders(first, "keeper")) == 2,
            15,
            "two resting orders",
        )
        wait_until(lambda: bot_position(first, "keeper") == Decimal("0.002"), 10, "the fill")
    finally:
        code, _, _ = first.terminate()
    assert code == 0

    # While the daemon is down, the 60,000 bid fills; the 50,000 bid keeps resting.
    venue.set_mid("BTC", Decimal(59_000))
    assert s.venue_position() == Decimal("0.003")
    venue.set_mid("BTC", Decimal(65_000))
    # And an order the bot sent just before a crash, never recorded locally: the venue has it
    # under the bot's next client order id.
    lost = venue.place_resting_order(
        s.address, "BTC", "buy", "55000", "0.001", cloid=cloid_for("keeper-4")
    )

    second = s.daemon().start()
    try:
        wait_until(lambda: bot_status(second, "keeper")["state"] == "running", 15, "resume")
        wait_until(lambda: bot_position(second, "keeper") == Decimal("0.003"), 15, "adoption")
        wait_until(lambda: len(orders(second, "keeper")) == 4, 10, "the recovered order")
        book = {o["limit_price"]: o["status"] for o in orders(second, "keeper")}
        assert book["50000"] == "accepted"
        recovered = next(o for o in orders(second, "keeper") if o["client_order_id"] == "keeper-4")
        assert (recovered["status"], recovered["venue_order_id"]) == ("accepted", str(lost))
        assert recovered["tag"] == "recovered"
        wait_until(
            lambda: (
                {o["limit_price"]: o["status"] for o in orders(second, "keeper")}["60000"]
                == "filled"
            ),
            10,
            "the fill while down",
        )
        for order in orders(second, "keeper"):  # adopted, never re-sent
            if order["client_order_id"] != "keeper-4":  # placed outside the request path
                assert venue.orders_by_cloid(cloid_for(order["client_order_id"])) == 1
        assert len(venue.open_orders(s.address)) == 2
        (state,) = second.ok("GET", "/api/venues")
        assert state["blocked"] == {}
        assert state["alerts"] == []  # the adopted orders were never taken for foreign ones
        assert bot_status(second, "keeper")["blocked"] is None

        # Someone trades the account behind the daemon's back: the position disagrees.
        venue.set_position(s.address, "BTC", Decimal("0.013"))
        state = second.ok("POST", "/api/venues/hyperliquid/reconcile")
        assert "BTC" in state["blocked"]
        assert any("position mismatch on BTC" in a["message"] for a in state["alerts"])
        status = bot_status(second, "keeper")
        assert "position mismatch" in (status["blocked"] or "")
        trader = httpx.get(
            f"{second.url}/api/venues", headers={"X-API-Key": TRADER_KEY}, timeout=10
        ).json()
        assert "BTC" in trader[0]["blocked"]

        shown = CliRunner().invoke(
            app, ["venues", "status", "--daemon-url", second.url, "--api-key", TRADER_KEY]
        )
        assert shown.exit_code == 0, shown.output
        assert "Blocked symbols" in shown.stdout
        assert "position mismatch on BTC" in shown.stdout
        refused = CliRunner().invoke(
            app,
            ["venues", "reconcile", "hyperliquid", "--daemon-url", second.url,
             "--api-key", TRADER_KEY],
        )  # fmt: skip
        assert refused.exit_code == 1
        assert "403" in refused.stderr

        # Blocked bots do not trade (fail closed): the next order is rejected locally.
        sent = len(venue.actions)
        advance(s, second, "keeper", 3)
        wait_until(
            lambda: any("blocked" in (o.get("reason") or "") for o in orders(second, "keeper")),
            10,
            "the blocked order",
        )
        # New ids continue after the recovered one: no cloid is ever reused.
        blocked = next(o for o in orders(second, "keeper") if "blocked" in (o["reason"] or ""))
        assert blocked["client_order_id"] == "keeper-5"
        assert len(venue.actions) == sent

        # Put right at the venue → the next reconciliation unblocks the bot.
        venue.set_position(s.address, "BTC", Decimal("0.003"))
        state = second.ok("POST", "/api/venues/hyperliquid/reconcile")
        assert state["blocked"] == {}
        assert bot_status(second, "keeper")["blocked"] is None
    finally:
        second.terminate()


def test_paper_trading_on_live_candles(venue: FakeHyperliquid, tmp_path: Path) -> None:
    s = Session(venue, tmp_path)
    d = s.daemon().start()
    try:
        bot = live_bot("papery", ["buy:0.001"], venue="paper", mode="paper")
        d.ok("POST", "/api/bots", json=bot)
        status = d.ok("PUT", "/api/bots/papery/start")
        assert status["simulated"] is True
        for close in ("65000", "65100", "65200"):
            s.candle(close)
        wait_until(lambda: bot_position(d, "papery") == Decimal("0.001"), 15, "a paper fill")
        (fill,) = d.all_pages("/api/bots/papery/fills")
        assert Decimal(fill["price"]) in (Decimal(65100), Decimal(65200))
        assert venue.actions == []  # nothing reached the venue
        assert json.loads(json.dumps(d.ok("GET", "/api/venues")))[0]["account"] == s.address
    finally:
        d.terminate()


def test_kill_9_right_after_sending_loses_nothing(venue: FakeHyperliquid, tmp_path: Path) -> None:
    """kill -9 as soon as the venue has the orders: whether or not the daemon recorded them,
    the restarted bot ends with the venue's orders and position, nothing sent twice."""
    s = Session(venue, tmp_path)
    first = s.daemon().start()
    steps = ["buy:0.002", "limit_buy:50000:0.001"]
    try:
        first.ok("POST", "/api/bots", json=live_bot("crash", steps, auto_resume=True))
        first.ok("PUT", "/api/bots/crash/start")
        for _ in range(3):
            s.candle()
        wait_until(
            lambda: sum(a["action"]["type"] == "order" for a in venue.actions) == 2,
            15,
            "both orders at the venue",
        )
    finally:
        first.kill()  # SIGKILL: no flush, no goodbye

    second = s.daemon().start()
    try:
        wait_until(lambda: bot_position(second, "crash") == Decimal("0.002"), 20, "the fill")
        wait_until(
            lambda: sorted(o["status"] for o in orders(second, "crash")) == ["accepted", "filled"],
            20,
            "both orders, as the venue has them",
        )
        for order in orders(second, "crash"):
            assert venue.orders_by_cloid(cloid_for(order["client_order_id"])) == 1
        state = second.ok("POST", "/api/venues/hyperliquid/reconcile")
        assert state["blocked"] == {}
        assert s.venue_position() == Decimal("0.002")
        assert len(second.all_pages("/api/bots/crash/fills")) == 1
    finally:
        second.terminate()
