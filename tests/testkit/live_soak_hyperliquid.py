"""The fake Hyperliquid as a live crash soak's venue (``testkit.live_soak_venue.SoakVenue``).

One account traded by an API wallet. Open orders are listed without ``cloid``, as the docs'
``frontendOpenOrders`` example shows them; fills carry their ``cloid`` or not (the venue may
leave it out), chosen by the seed. A kill "as the start reconciles" waits for the account's
``clearinghouseState`` (the reconciliation's snapshot).
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from eth_account import Account

from algotrade.venues.hyperliquid.exchange import cloid_for
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.live_daemon_session import LiveDaemonSession
from testkit.live_soak_venue import SoakCoin, VenueFill, VenueRecord

__all__ = ["HyperliquidSoakVenue"]

# Prices on the venue's 5 significant figures; sizes worth more than its $10 minimum.
HYPERLIQUID_COINS = (
    SoakCoin("BTC", Decimal(65000), Decimal(1), "0.001"),
    SoakCoin("ETH", Decimal(3000), Decimal("0.1"), "0.01"),
    SoakCoin("SOL", Decimal(150), Decimal("0.01"), "0.1"),
)


class HyperliquidSoakVenue:
    name = "hyperliquid"
    label = "fake Hyperliquid"
    coins = HYPERLIQUID_COINS

    def __init__(self, fake: FakeHyperliquid) -> None:
        self.fake = fake
        self._user, self._agent = Account.create(), Account.create()
        self.user = str(self._user.address).lower()
        fake.add_account(self._user.address, [self._agent.address], balance=1_000_000)
        self.fills_without_cloid = False

    def session(self, workdir: Path) -> LiveDaemonSession:
        return LiveDaemonSession(
            workdir,
            "hyperliquid",
            f'api_url = "{self.fake.base_url}"\nws_url = "{self.fake.ws_url}"\n'
            "ping_interval_s = 5\n"
            # A bar every tick is far faster than the venue's shortest interval: the request
            # budget grows with it (5×), so what is tested is not hidden behind throttling.
            "weight_per_minute = 6000\n",
            {
                "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS": self._user.address,
                "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY": self._agent.key.hex(),
            },
        )

    def draw(self, rng: random.Random) -> None:
        self.fake.omit_open_order_cloids()
        self.fills_without_cloid = rng.random() < 0.5
        self.fake.omit_fill_cloids(self.fills_without_cloid)

    def tick(self, coin: SoakCoin, price: Decimal, candle_ms: int) -> None:
        # Each candle closes the previous one: that one is the bar the bots act on.
        self.fake.set_mid(coin.name, price)
        self.fake.publish_candle(coin.name, "1m", candle_ms, price, price, price, price, 1)

    def record(self) -> VenueRecord:
        with self.fake.state.lock:
            sends = dict(self.fake.state.cloid_requests)
        fills = [
            VenueFill(
                trade_id=str(f["tid"]),
                side="buy" if f["side"] == "B" else "sell",
                price=Decimal(f["px"]),
                qty=Decimal(f["sz"]),
                fee=Decimal(f["fee"]),
                symbol=f["coin"],
                venue_order_id=str(f["oid"]),
                client_id=str(f["cloid"]).lower() if f.get("cloid") else None,
            )
            for f in self.fake.fills(self.user)
        ]
        return VenueRecord(
            fills=fills,
            sends=sends,
            positions={c.name: self.fake.position(self.user, c.name).szi for c in self.coins},
            open_client_ids={
                str(o["cloid"]).lower() for o in self.fake.open_orders(self.user) if o.get("cloid")
            },
        )

    def fill_count(self) -> int:
        return len(self.fake.fills(self.user))

    def client_id(self, client_order_id: str) -> str:
        return cloid_for(client_order_id).lower()

    def orders_sent(self) -> int:
        return self.fake.request_count("/exchange", "order")

    def hold_next_order_reply(self, seconds: float) -> None:
        self.fake.delay_next_exchange(seconds)

    def reconciles_asked(self) -> int:
        return self.fake.request_count("/info", "clearinghouseState")
