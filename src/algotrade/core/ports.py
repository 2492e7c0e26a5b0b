"""Ports: the small interfaces between the engine and the outside world.

Strategy and risk callbacks are plain synchronous methods without I/O. A venue's ``submit``,
``cancel`` and ``amend`` never block: a live adapter queues the request on its own task and
reports back through the ``VenueEventSink``; the paper venue answers synchronously. That is
what lets one engine object run unchanged in a backtest loop and inside the daemon's event
loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from algotrade.core.events import MarketEvent, OrderEvent
from algotrade.core.instruments import Instrument
from algotrade.core.orders import Order, OrderRequest
from algotrade.core.signals import Signal


class Clock(Protocol):
    def now_ns(self) -> int: ...


class VenueEventSink(Protocol):
    """Receives what a venue reports about our orders."""

    def on_order_event(self, event: OrderEvent) -> None: ...


@runtime_checkable
class ExecutionVenue(Protocol):
    name: str
    simulated: bool

    def bind(self, sink: VenueEventSink) -> None:
        """Where to report order events; called once by the engine."""

    def submit(self, order: Order) -> None:
        """Send an order; must not block. Idempotent per ``client_order_id``."""

    def adopt(self, order: Order) -> None:
        """Take over an order that may already be at the venue (restored after a restart or
        carried over to a new engine). A live venue looks it up by client order id before
        anything is sent; the paper venue simply books it."""

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel; the answer arrives as ``OrderCancelled`` (or a fill that won the race)."""

    def amend(
        self,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Ask to change a resting order; never blocks. The answer arrives as ``OrderAmended``
        or ``OrderAmendRejected`` (or a fill/cancel that won the race). ``qty`` is the new
        *total* quantity (filled part included); ``None`` leaves a field unchanged. The engine
        has already checked and rounded the values."""

    def on_market(self, event: MarketEvent) -> None:
        """Market data in event time; a simulated venue matches resting orders here."""


class HistoricalFeed(Protocol):
    """Market events in time order, for a backtest loop."""

    def __iter__(self) -> Iterator[MarketEvent]: ...


class LiveFeed(Protocol):
    """Market events as they happen, for the daemon's loop."""

    def stream(self) -> AsyncIterator[MarketEvent]: ...


class AccountView(Protocol):
    """What a risk policy may look at: read-only account state."""

    def position_qty(self, symbol: str) -> Decimal: ...

    def pending_qty(self, symbol: str) -> Decimal:
        """Signed remaining quantity of open orders that will execute at market."""

    def mark_price(self, symbol: str) -> Decimal | None: ...

    def equity(self) -> Decimal: ...

    def instrument(self, symbol: str) -> Instrument: ...


class RiskPolicy(Protocol):
    """Sizing and pre-trade checks between a strategy's signal and the venue."""

    def orders_for(self, signal: Signal, account: AccountView) -> Sequence[OrderRequest]:
        """Turn a signal into order requests (possibly none)."""

    def check(self, request: OrderRequest, account: AccountView) -> None:
        """Raise ``OrderRejectedError`` with a reason if the order must not be sent."""


class StrategyContext(Protocol):
    """What a running strategy can see and do. The engine implements it."""

    @property
    def now_ns(self) -> int: ...

    def position(self, symbol: str) -> Decimal: ...

    def target_position(
        self, symbol: str, qty: Decimal | int | float | str, tag: str = ""
    ) -> None: ...

    def submit_order(self, request: OrderRequest) -> str | None: ...

    def cancel_order(self, client_order_id: str) -> None: ...

    def amend_order(
        self,
        client_order_id: str,
        *,
        qty: Decimal | int | float | str | None = None,
        price: Decimal | int | float | str | None = None,
        stop_price: Decimal | int | float | str | None = None,
    ) -> None:
        """Change a resting order: ``qty`` is the new total quantity, ``price`` the new limit
        price. The outcome reaches ``on_order`` as ``OrderAmended``/``OrderAmendRejected``."""

    def cancel_all(self, symbol: str | None = None) -> None: ...

    def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    def instrument(self, symbol: str) -> Instrument: ...

    def equity(self) -> Decimal: ...

    def log(self, message: str) -> None: ...
