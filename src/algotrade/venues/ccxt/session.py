"""What an exchange driver gives the exchange-neutral code: REST calls and two streams.

``open_session(config, credentials)`` of a driver module returns an ``ExchangeSession``; its
REST methods return the neutral types of ``model.py`` and raise the errors of ``errors.py``;
its streams deliver parsed pushes to handlers and tell about lost and restored connections
(``on_reconnect`` hooks run after re-subscribing, before further pushes are read, so a gap
can be filled first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from algotrade.venues.ccxt.model import (
    Balance,
    Candle,
    InstrumentInfo,
    PlaceRequest,
    VenueFill,
    VenueOrder,
    VenuePosition,
)

__all__ = ["ExchangeRest", "ExchangeSession", "PrivateHandlers", "Stream"]

ReconnectHook = Callable[[int, int], Awaitable[None]]  # (gap_started_ms, reconnected_ms)
DisconnectHook = Callable[[int], None]


class ExchangeRest(Protocol):
    async def close(self) -> None: ...

    def counters(self) -> dict[str, int]: ...

    async def instruments(self) -> list[InstrumentInfo]: ...

    async def candles(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int, limit: int
    ) -> list[Candle]:
        """Candles opening in ``[start_ms, end_ms]`` (no lower bound for ``None``), oldest
        first; at most ``limit``: the newest ones when there are more."""

    async def place(self, request: PlaceRequest) -> str:
        """Place an order; its venue order id."""

    async def amend(
        self, symbol: str, link_id: str, qty: Decimal | None, price: Decimal | None
    ) -> None: ...

    async def cancel(self, symbol: str, link_id: str) -> None: ...

    async def find_order(self, symbol: str, link_id: str) -> VenueOrder | None:
        """The order with this client id, open or ended; ``None`` when the venue has none."""

    async def open_orders(self) -> list[VenueOrder]: ...

    async def fills_since(self, start_ms: int) -> list[VenueFill]:
        """Executions at or after ``start_ms``, oldest first."""

    async def fills_of_order(
        self, symbol: str, order_id: str, since_ms: int
    ) -> list[VenueFill]: ...

    async def positions(self) -> tuple[int, list[VenuePosition]]:
        """(the venue's time of the snapshot in ms, every non-flat position)."""

    async def balance(self) -> Balance | None: ...

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None: ...


class Stream(Protocol):
    @property
    def connected(self) -> bool: ...

    def stats(self) -> dict[str, int]: ...

    async def start(self) -> None: ...

    async def stop(self, timeout: float = 5.0) -> None: ...

    def on_reconnect(self, hook: ReconnectHook) -> Callable[[], None]: ...

    def on_disconnect(self, hook: DisconnectHook) -> Callable[[], None]: ...


class PublicStream(Stream, Protocol):
    async def subscribe_candles(
        self, symbol: str, interval: str, handler: Callable[[Sequence[Candle]], None]
    ) -> None: ...

    async def unsubscribe_candles(self, symbol: str, interval: str) -> None: ...


class PrivateHandlers(Protocol):
    def on_orders(self, orders: Sequence[VenueOrder]) -> None: ...

    def on_fills(self, fills: Sequence[VenueFill]) -> None: ...

    def on_positions(self, positions: Sequence[VenuePosition]) -> None: ...

    def on_balance(self, balance: Balance) -> None: ...


class ExchangeSession(Protocol):
    rest: ExchangeRest
    public: PublicStream

    def private(self, handlers: PrivateHandlers) -> Stream:
        """The private stream delivering to ``handlers`` (needs credentials)."""

    def describe(self) -> dict[str, Any]:
        """Network and endpoints, for the snapshot."""
