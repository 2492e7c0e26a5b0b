"""What a live crash soak (``testkit.live_soak``) needs of a venue: the adapter interface.

An adapter wraps one fake venue (already serving) and one account on it. It tells the soak
how to run a daemon on it (the ``daemon.toml`` table and the credentials' environment), how
to move its market (one tick: a new price, which fills the resting limits it reaches, and
the next closed one-minute candle), how to read the venue's own record of the account
(fills, client ids received, positions, open orders) in the store's terms, and the hooks of
the lives' endings: count the orders that reached the venue, hold the reply to the next one,
count the requests the start's reconciliation makes.

Adapters: ``testkit.live_soak_hyperliquid``, ``testkit.live_soak_bybit``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from testkit.live_daemon_session import LiveDaemonSession

__all__ = ["SoakCoin", "SoakVenue", "VenueFill", "VenueRecord"]


@dataclass(frozen=True, slots=True)
class SoakCoin:
    """A coin the soak trades: its name at the venue (the bots' symbol), its start price,
    a price step on the venue's grid and an order size worth more than its minimum."""

    name: str
    start: Decimal
    tick: Decimal
    qty: str

    def price(self, fraction: float) -> Decimal:
        """``start × (1 + fraction)`` on the coin's price grid."""
        raw = self.start * (1 + Decimal(str(round(fraction, 6))))
        return (raw / self.tick).to_integral_value() * self.tick


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One fill as the venue records it, in the store's terms (``FillRecord`` fields)."""

    trade_id: str
    side: str  # "buy" | "sell"
    price: Decimal
    qty: Decimal
    fee: Decimal
    symbol: str
    venue_order_id: str
    client_id: str | None  # the venue's client order id of the order, when the fill names it

    def describe(self) -> str:
        return f"{self.side} {self.qty} {self.symbol} @ {self.price} (order {self.venue_order_id})"


@dataclass(frozen=True, slots=True)
class VenueRecord:
    """The venue's own record of the account: the truth the store is compared with."""

    fills: list[VenueFill]
    sends: Mapping[str, int]  # client id → order requests that carried it
    positions: Mapping[str, Decimal]  # coin → signed size
    open_client_ids: set[str]  # client ids of the orders open at the venue


class SoakVenue(Protocol):
    """A fake venue and one account on it, as a live crash soak drives and reads them."""

    name: str  # the daemon's venue name ("hyperliquid", "bybit"): the bots' feed and venue
    label: str  # for the report: "fake Hyperliquid"
    coins: tuple[SoakCoin, ...]

    def session(self, workdir: Path) -> LiveDaemonSession:
        """The daemon's ``daemon.toml`` table for the fake and the account's credentials."""
        ...

    def draw(self, rng: random.Random) -> None:
        """Venue behaviours the seed picks among those its docs allow (may draw nothing)."""
        ...

    def tick(self, coin: SoakCoin, price: Decimal, candle_ms: int) -> None:
        """A new price for ``coin`` (resting limits it reaches fill), then a closed
        one-minute candle starting at ``candle_ms`` at that price (a bar for its bots)."""
        ...

    def record(self) -> VenueRecord: ...

    def fill_count(self) -> int: ...

    def client_id(self, client_order_id: str) -> str:
        """The venue's client order id of one of the daemon's client order ids."""
        ...

    def orders_sent(self) -> int:
        """Order placements that reached the venue so far."""
        ...

    def hold_next_order_reply(self, seconds: float) -> None:
        """Place the next order at once but hold its reply ``seconds`` (0: no longer)."""
        ...

    def reconciles_asked(self) -> int:
        """Requests so far of the kind a reconciliation starts with (its snapshot)."""
        ...
