"""The fake Bybit v5 as a live crash soak's venue (``testkit.live_soak_venue.SoakVenue``).

One UNIFIED account (linear USDT perpetuals, one-way mode). A tick sets the last price (resting
limits it reaches fill, maker) and pushes a closed one-minute kline (``confirm: true``) at it.
A kill "as the start reconciles" waits for ``/v5/position/list`` (the reconciliation's
snapshot). The request budget of the order endpoints is 5× the docs' default on both sides
(the daemon's limiter and the venue's), as a bar every tick is far faster than one a minute:
what is tested is not hidden behind throttling.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from algotrade.venues.ccxt.model import link_id_for
from testkit.fake_bybit import FakeBybit
from testkit.fake_bybit.auth import DEFAULT_LIMITS
from testkit.live_daemon_session import LiveDaemonSession
from testkit.live_soak_venue import SoakCoin, VenueFill, VenueRecord

__all__ = ["BYBIT_SOAK_RATE_LIMITS", "BybitSoakVenue"]

KEY, SECRET = "soak-bybit-key-0001", "soak-bybit-secret-0001"
CREATE = "/v5/order/create"
# Prices on the contracts' tick sizes (instruments-info of the fake's defaults); sizes twice
# the minimum qty (so a fill can be partial), worth more than the 5 USDT minimum notional.
BYBIT_COINS = (
    SoakCoin("BTCUSDT", Decimal(65000), Decimal("0.1"), "0.002"),
    SoakCoin("ETHUSDT", Decimal(3000), Decimal("0.01"), "0.02"),
    SoakCoin("SOLUSDT", Decimal(150), Decimal("0.01"), "0.2"),
)
#: Requests per second per endpoint path, for the fake and the daemon alike.
BYBIT_SOAK_RATE_LIMITS = {path: 5 * limit for path, limit in DEFAULT_LIMITS.items()}


class BybitSoakVenue:
    name = "bybit"
    label = "fake Bybit"
    coins = BYBIT_COINS

    def __init__(self, fake: FakeBybit) -> None:
        self.fake = fake
        self.uid = fake.add_account(KEY, SECRET, balance=1_000_000)
        self.partial_fills = False
        self.acks_without_req_id = False
        for path, limit in BYBIT_SOAK_RATE_LIMITS.items():
            fake.set_rate_limit(path, limit)

    def session(self, workdir: Path) -> LiveDaemonSession:
        limits = ", ".join(f'"{path}" = {n}' for path, n in BYBIT_SOAK_RATE_LIMITS.items())
        return LiveDaemonSession(
            workdir,
            "venues.bybit",
            f'rest_url = "{self.fake.base_url}"\n'
            f'public_ws_url = "{self.fake.public_ws_url}"\n'
            f'private_ws_url = "{self.fake.private_ws_url}"\n'
            "ping_interval_s = 5\n"
            f"rate_limits = {{ {limits} }}\n",
            {"ALGOTRADE_BYBIT_API_KEY": KEY, "ALGOTRADE_BYBIT_API_SECRET": SECRET},
        )

    def draw(self, rng: random.Random) -> None:
        """Partial fills (each fill capped at the contract's minimum qty, so an order fills
        over several price events, and a market order's rest is cancelled as IOC) or not;
        WebSocket acks with or without the request's ``req_id`` (the docs' samples have none)."""
        self.partial_fills = rng.random() < 0.5
        for coin in self.coins:
            cap = Decimal(coin.qty) / 2 if self.partial_fills else None
            self.fake.set_max_fill_qty(coin.name, cap)
        self.acks_without_req_id = rng.random() < 0.5
        self.fake.echo_req_ids(not self.acks_without_req_id)

    def tick(self, coin: SoakCoin, price: Decimal, candle_ms: int) -> None:
        self.fake.set_price(coin.name, price)
        self.fake.push_kline(
            coin.name, "1", candle_ms, price, price, price, price, 1, move_price=False
        )

    def record(self) -> VenueRecord:
        sends: dict[str, int] = {}
        for body in self.fake.create_requests():
            link = body.get("orderLinkId")
            if link:
                sends[link] = sends.get(link, 0) + 1
        fills = [
            VenueFill(
                trade_id=e["execId"],
                side=e["side"].lower(),
                price=Decimal(e["execPrice"]),
                qty=Decimal(e["execQty"]),
                fee=Decimal(e["execFee"]),
                symbol=e["symbol"],
                venue_order_id=e["orderId"],
                client_id=e["orderLinkId"] or None,
            )
            for e in self.fake.executions(self.uid)
        ]
        return VenueRecord(
            fills=fills,
            sends=sends,
            positions={c.name: self.fake.position(self.uid, c.name)[0] for c in self.coins},
            open_client_ids={
                o["orderLinkId"] for o in self.fake.open_orders(self.uid) if o["orderLinkId"]
            },
        )

    def fill_count(self) -> int:
        return len(self.fake.executions(self.uid))

    def client_id(self, client_order_id: str) -> str:
        return link_id_for(client_order_id)

    def orders_sent(self) -> int:
        return self.fake.request_count(CREATE)

    def hold_next_order_reply(self, seconds: float) -> None:
        self.fake.delay_next(seconds, CREATE)

    def reconciles_asked(self) -> int:
        return self.fake.request_count("/v5/position/list")
