"""A bot amends its resting order in a real daemon process: the order record (REST and the
``orders`` WebSocket) shows the new size and price, the bot's log has an ``order_amended``
line, and after a restart the adopted order keeps the amended values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from testkit.daemon_process import DaemonProcess, wait_until

pytestmark = pytest.mark.slow

STRATEGY = '''
from decimal import Decimal

from algotrade.core.events import OrderAmended, OrderSide
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.core.strategy import Strategy


class PlaceThenAmend(Strategy):
    """Bar 1: a buy limit at half the price (it never fills). Bar 3: amend it to qty 2 at
    60% of the price. Nothing when an order is already open (an adopted one after a restart)."""

    name = "place_then_amend"

    def on_start(self):
        self.bars = 0
        self.coid = None

    def on_bar(self, bar):
        self.bars += 1
        instrument = self.ctx.instrument(bar.symbol)
        if self.bars == 1 and not self.ctx.open_orders(bar.symbol):
            price = instrument.round_price(Decimal(str(bar.close)) / 2)
            request = OrderRequest(bar.symbol, OrderSide.BUY, Decimal(1), OrderType.LIMIT,
                                   limit_price=price)
            self.coid = self.ctx.submit_order(request)
            self.ctx.log(f"placed @ {price}")
        elif self.bars == 3 and self.coid is not None:
            self.ctx.amend_order(self.coid, qty=2, price=round(bar.close * 0.6, 2))

    def on_order(self, event):
        if isinstance(event, OrderAmended):
            self.ctx.log(f"amended to {event.qty} @ {event.limit_price}")
'''


def bot_config(strategy_path: Path) -> dict[str, Any]:
    return {
        "bot_id": "amender",
        "symbol": "SIM-AMEND",
        "strategy": str(strategy_path),
        "feed": "sim",
        "feed_options": {"seed": 7, "tick_seconds": 0.02, "volatility": 0.001},
        "initial_capital": "100000",
    }


def the_order(daemon: DaemonProcess) -> dict[str, Any]:
    orders = daemon.all_pages("/api/bots/amender/orders")
    assert len(orders) == 1, orders
    return orders[0]


def amended(daemon: DaemonProcess) -> bool:
    orders = daemon.all_pages("/api/bots/amender/orders")
    return len(orders) == 1 and orders[0]["qty"] == "2"


def test_amended_order_is_persisted_published_logged_and_survives_restart(tmp_path: Path) -> None:
    strategy_file = tmp_path / "place_then_amend.py"
    strategy_file.write_text(STRATEGY)
    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        daemon.ok("POST", "/api/bots", json=bot_config(strategy_file))
        ws_url = daemon.url.replace("http://", "ws://") + "/ws"
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"op": "subscribe", "topics": ["orders"], "bot_id": "amender"}))
            assert daemon.ok("PUT", "/api/bots/amender/start")["state"] == "running"
            wait_until(lambda: amended(daemon), timeout=30, what="the amended order record")
            published: list[dict[str, Any]] = []
            while not any(o.get("qty") == "2" for o in published):
                frame = json.loads(ws.recv(timeout=10))
                if frame.get("topic") == "orders":
                    published.extend(_records(frame))
        order = the_order(daemon)
        assert order["status"] == "accepted"
        pushed = next(o for o in published if o["qty"] == "2")
        assert pushed["limit_price"] == order["limit_price"]
        logs = daemon.all_pages("/api/bots/amender/logs")
        [placed] = [line["message"] for line in logs if line["message"].startswith("placed @")]
        placed_price = Decimal(placed.removeprefix("placed @ "))
        assert Decimal(order["limit_price"]) > placed_price  # 60% of the price > 50%
        [line] = [line for line in logs if line["kind"] == "order_amended"]
        assert line["data"] == {
            "client_order_id": order["client_order_id"],
            "qty": "2",
            "limit_price": order["limit_price"],
            "stop_price": None,
        }
        assert any(f"@ {order['limit_price']}" in line["message"] for line in logs)
        daemon.ok("PUT", "/api/bots/amender/stop")
    finally:
        code, _, _ = daemon.terminate()
    assert code == 0

    daemon = DaemonProcess(tmp_path / "data", daemon.port).start()
    try:
        assert the_order(daemon) == order  # as stored, amended
        # Started again: the stored order is adopted (acknowledged anew) with the amended
        # size and price, and the strategy leaves it alone.
        assert daemon.ok("PUT", "/api/bots/amender/start")["state"] == "running"
        # The adopted order is re-recorded when the venue acknowledges it, before the bot's
        # "running" line; both are committed in order, so once the line is there so is it.
        wait_until(
            lambda: len(running_lines(daemon)) == 2, timeout=30, what="the bot running again"
        )
        again = the_order(daemon)
        assert (again["qty"], again["limit_price"], again["status"]) == (
            "2",
            order["limit_price"],
            "accepted",
        )
        logs = daemon.all_pages("/api/bots/amender/logs")
        assert len([line for line in logs if line["message"].startswith("placed @")]) == 1
    finally:
        code, _, _ = daemon.terminate()
    assert code == 0


def running_lines(daemon: DaemonProcess) -> list[dict[str, Any]]:
    logs = daemon.all_pages("/api/bots/amender/logs")
    return [line for line in logs if line["kind"] == "state" and line["message"] == "bot running"]


def _records(frame: dict[str, Any]) -> list[dict[str, Any]]:
    data = frame.get("data")
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    return [data] if isinstance(data, dict) else []
