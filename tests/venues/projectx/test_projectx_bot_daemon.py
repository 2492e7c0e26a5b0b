"""Acceptance, end to end: a live ProjectX bot in a real daemon process trades on the fake
gateway like any other bot, and ``fetch-data --venue projectx`` downloads from it.

The daemon only knows the fake's URLs (``[venues.projectx]``) and the credentials in its
environment. Bars: a clock thread stores each second's bar at the fake once the second is
over; the daemon polls ``History/retrieveBars`` for them. A scripted strategy places one order
per bar as told.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from algotrade.cli.main import app
from algotrade.venues.projectx.config import ENV_API_KEY, ENV_USERNAME
from algotrade.venues.projectx.order_rules import tag_for
from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess, wait_until
from testkit.fake_projectx import BarUnit, FakeProjectX, OrderSide, OrderType

pytestmark = pytest.mark.slow

SCRIPTED = Path(__file__).parents[2] / "testkit" / "strategies" / "scripted.py"
ES, ES_ID = "EPZ25", "CON.F.US.EP.Z25"
USER, KEY = "trader", "key-123"


@pytest.fixture
def venue() -> Iterator[FakeProjectX]:
    with FakeProjectX(keepalive_s=1.0) as fake:
        fake.add_user(USER, KEY)
        yield fake


class BarClock:
    """Stores a one-second ES bar at the fake as soon as its second is over."""

    def __init__(self, venue: FakeProjectX) -> None:
        self.venue = venue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bar-clock", daemon=True)

    def __enter__(self) -> BarClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        done = int(time.time()) - 1
        while not self._stop.wait(0.02):
            for second in range(done + 1, int(time.time())):
                px = Decimal(6000)
                bar = {"t": float(second), "o": px, "h": px, "l": px, "c": px, "v": 1}
                self.venue.add_bars(ES_ID, BarUnit.SECOND, 1, [bar])
                done = second


def daemon(venue: FakeProjectX, tmp_path: Path, port: int | None = None) -> DaemonProcess:
    config = tmp_path / "daemon.toml"
    config.write_text(
        "[venues.projectx]\n"
        f'api_url = "{venue.base_url}"\n'
        f'user_hub_url = "{venue.rtc_url}/hubs/user"\n'
        f'market_hub_url = "{venue.rtc_url}/hubs/market"\n'
        'account = "TEST_ACCOUNT_1"\n'
        "request_timeout_s = 2.0\n"
        "reconcile_interval_s = 1.0\n"
        "reconnect_min_s = 0.1\n"
        "reconnect_max_s = 0.5\n"
        "bar_delay_s = 0.2\n"
        "pending_claim_s = 3.0\n"
    )
    return DaemonProcess(
        tmp_path / "data",
        port,
        "--config",
        str(config),
        env={
            "ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}",
            ENV_USERNAME: USER,
            ENV_API_KEY: KEY,
        },
        api_key=ADMIN_KEY,
    )


def live_bot(bot_id: str, steps: list[str]) -> dict[str, Any]:
    return {
        "bot_id": bot_id,
        "symbol": ES,
        "strategy": str(SCRIPTED),
        "params": {"steps": steps},
        "interval": "1s",
        "feed": "projectx",
        "venue": "projectx",
        "mode": "live",
        "initial_capital": "1000000",
        "risk_per_trade_pct": "100",
    }


def position(d: DaemonProcess, bot_id: str) -> Decimal:
    status = d.ok("GET", f"/api/bots/{bot_id}")["status"]
    return Decimal(status["position"].get(ES, "0"))


def orders(d: DaemonProcess, bot_id: str) -> list[dict[str, Any]]:
    return d.all_pages(f"/api/bots/{bot_id}/orders")


def venue_position(venue: FakeProjectX, account: int) -> int:
    for p in venue.positions(account):
        if p["contractId"] == ES_ID:
            return int(p["size"]) if p["type"] == 1 else -int(p["size"])
    return 0


def test_live_projectx_bot_trades_reconnects_and_survives_a_kill(
    venue: FakeProjectX, tmp_path: Path
) -> None:
    account = venue.add_account(USER, "TEST_ACCOUNT_1", balance=50_000)
    venue.add_account(USER, "TEST_ACCOUNT_2", balance=50_000)  # the config names the first
    venue.contracts_by_search()  # the bot's contract is found by name, as the docs promise
    steps = ["buy:1", "limit_buy:5990:1", "limit_sell:6100:1"]
    with BarClock(venue):
        first = daemon(venue, tmp_path).start()
        try:
            first.ok("POST", "/api/bots", json=live_bot("px", steps))
            first.ok("PUT", "/api/bots/px/start")
            wait_until(lambda: position(first, "px") == 1, 20, "the market fill")
            wait_until(
                lambda: sum(o["status"] == "accepted" for o in orders(first, "px")) == 2,
                15,
                "two resting orders",
            )
            assert venue_position(venue, account) == 1
            (state,) = first.ok("GET", "/api/venues")
            assert (state["venue"], state["account"], state["connected"]) == (
                "projectx",
                "TEST_ACCOUNT_1",
                True,
            )

            # The user hub drops and stays down while the resting bid fills: the fill comes
            # back through Trade/search after the reconnect, booked once.
            venue.refuse_websockets()
            assert venue.drop_connections("user") >= 1
            venue.set_price(ES_ID, "5990")  # fills now, at the fake, while nobody listens
            assert venue_position(venue, account) == 2
            venue.refuse_websockets(False)
            venue.set_price(ES_ID, "6000")
            wait_until(lambda: position(first, "px") == 2, 20, "the missed fill")
            assert venue_position(venue, account) == 2
        finally:
            first.kill()  # kill -9: no shutdown of any kind

        # While the daemon is down, an order it sent just before the crash sits at the venue
        # under the bot's next client order id (sent, never recorded).
        with venue.state.lock:
            lost = venue.state.place(
                venue.state.accounts[account], ES_ID, OrderType.LIMIT, OrderSide.BID, 1,
                Decimal(5900), None, tag_for("px-4", time.time_ns()), "api",
            )  # fmt: skip
        placed_before = venue.request_count("/api/Order/place")

        second = daemon(venue, tmp_path, first.port).start()
        try:
            second.ok("PATCH", "/api/bots/px/config", json={"params": {"steps": []}})
            second.ok("PUT", "/api/bots/px/start")
            wait_until(lambda: len(orders(second, "px")) == 4, 20, "the recovered order")
            wait_until(
                lambda: (
                    orders(second, "px")
                    and all(o["status"] in ("accepted", "filled") for o in orders(second, "px"))
                ),
                15,
                "the adopted orders acknowledged",
            )
            book = {o["client_order_id"]: o for o in orders(second, "px")}
            assert book["px-3"]["status"] == "accepted"  # adopted, not sent again
            assert (book["px-4"]["status"], book["px-4"]["venue_order_id"]) == (
                "accepted",
                str(lost.id),
            )
            assert book["px-4"]["tag"] == "recovered"
            assert position(second, "px") == 2

            # The adopted offer fills after the restart.
            venue.set_price(ES_ID, "6100")
            wait_until(lambda: position(second, "px") == 1, 20, "the adopted order's fill")
            venue.set_price(ES_ID, "6000")

            # Nothing was placed twice; every tag is unique; the books match the venue.
            assert venue.request_count("/api/Order/place") == placed_before
            tags = [o["customTag"] for o in venue.orders(account)]
            assert len(tags) == len(set(tags)) == 4
            fills = second.all_pages("/api/bots/px/fills")
            assert len(fills) == len({f["trade_id"] for f in fills}) == len(venue.trades(account))
            assert venue_position(venue, account) == position(second, "px") == 1
            state = second.ok("POST", "/api/venues/projectx/reconcile")
            assert state["blocked"] == {}
            assert state["last_reconcile"]["mismatches"] == []
            assert second.ok("GET", "/api/bots/px")["status"]["blocked"] is None

            # A person trades the bot's contract on the account: the bot is blocked.
            venue.web.place_order(account, ES_ID, "market", "buy", 2)
            wait_until(
                lambda: ES in second.ok("GET", "/api/venues")[0]["blocked"],
                20,
                "the mismatch to block the bot",
            )
            assert "position mismatch on EPZ25" in (
                second.ok("GET", "/api/bots/px")["status"]["blocked"] or ""
            )
            venue.web.place_order(account, ES_ID, "market", "sell", 2)
            wait_until(lambda: second.ok("GET", "/api/venues")[0]["blocked"] == {}, 20, "unblocked")
        finally:
            code, _, err = second.terminate()
        assert code == 0, err


def test_fetch_data_downloads_bars_from_the_gateway(
    venue: FakeProjectX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_s = 1_735_689_600  # 2025-01-01T00:00:00Z
    stored = venue.generate_bars(ES_ID, BarUnit.MINUTE, 1, start_s, 300, seed=7)
    monkeypatch.setenv(ENV_USERNAME, USER)
    monkeypatch.setenv(ENV_API_KEY, KEY)
    out = tmp_path / "es.parquet"
    args = [
        "fetch-data", "--venue", "projectx", "--symbol", ES, "--interval", "1m",
        "--start", "2025-01-01T01:00:00Z", "--end", "2025-01-01T04:00:00Z",
        "--out", str(out), "--api-url", venue.base_url,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.height == 180  # 01:00 .. 03:59
    first = next(b for b in stored if b["t"] == start_s + 3600)
    assert frame["close"][0] == float(first["c"])
    assert frame["symbol"].unique().to_list() == [ES]
    assert venue.request_count("/api/History/retrieveBars") == 1

    bad = CliRunner().invoke(app, [*args[:4], "NOPE", *args[5:]])
    assert bad.exit_code != 0
    assert "--symbol: 'NOPE' is not a coin on projectx" in str(bad.exception)
    monkeypatch.delenv(ENV_API_KEY)
    missing = CliRunner().invoke(app, args)
    assert missing.exit_code != 0
    assert f"{ENV_API_KEY} (or {ENV_API_KEY}_FILE) is not set" in str(missing.exception)
