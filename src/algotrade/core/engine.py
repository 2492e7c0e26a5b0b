"""The engine: market event → strategy → risk policy → venue → fills → portfolio.

One ``Engine`` object serves a backtest loop, a paper bot and a live bot alike; only the feed
that calls ``on_*`` and the venue it talks to differ. It is synchronous and does no I/O.
Time is the timestamp of the last event seen (``now_ns``), never the wall clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from algotrade.core.amendments import Number, amended_request, check_request
from algotrade.core.errors import InvalidOrderTransitionError, OrderRejectedError
from algotrade.core.events import (
    Bar,
    MarketEvent,
    OrderAmended,
    OrderAmendRejected,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    QuoteTick,
    TradeTick,
)
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.money import ZERO, to_decimal
from algotrade.core.orders import Order, OrderRequest, OrderType
from algotrade.core.portfolio import Portfolio
from algotrade.core.ports import ExecutionVenue, RiskPolicy
from algotrade.core.risk_policy import BasicRiskPolicy
from algotrade.core.signals import Signal, SubmitOrder, TargetPosition
from algotrade.core.strategy import Strategy

OrderListener = Callable[[Order, OrderEvent], None]

_log = logging.getLogger("algotrade.engine")


class Engine:
    def __init__(
        self,
        strategy: Strategy,
        venue: ExecutionVenue,
        *,
        portfolio: Portfolio,
        instruments: InstrumentRegistry | None = None,
        risk_policy: RiskPolicy | None = None,
        order_id_prefix: str = "o",
        log: Callable[[str], None] | None = None,
        retain_history: bool = True,
    ) -> None:
        self.strategy = strategy
        self.venue = venue
        self.portfolio = portfolio
        self.instruments = instruments or InstrumentRegistry()
        self.risk_policy: RiskPolicy = risk_policy or BasicRiskPolicy()
        self.orders: dict[str, Order] = {}
        self.fills: list[OrderFilled] = []
        self._open: dict[str, Order] = {}
        self._listeners: list[OrderListener] = []
        self._prefix = order_id_prefix
        self._seq = 0
        self._now = 0
        self._log = log or (lambda message: _log.info("%s: %s", strategy.name, message))
        self._marks = portfolio.marks
        self._started = False
        # A long-running bot forgets finished orders once listeners have seen them (they are
        # persisted); a backtest keeps everything for its report.
        self._retain_history = retain_history
        # While suppressed (warm-up, paused bot) strategy signals are dropped, not queued.
        self.suppress_orders = False
        self.signals_suppressed = 0
        # Bound methods cached once: the bar loop is the hot path of every backtest.
        self._venue_on_market = venue.on_market
        self._strategy_on_bar = strategy.on_bar
        venue.bind(self)
        strategy.attach(self)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if not self._started:
            self._started = True
            self.strategy.on_start()

    def stop(self) -> None:
        if self._started:
            self._started = False
            self.strategy.on_stop()

    def add_listener(self, listener: OrderListener) -> None:
        """Called after every order event is applied (persistence, broadcasting)."""
        self._listeners.append(listener)

    def restore_order_sequence(self, seq: int) -> None:
        """After a restart, continue client order ids where the last run stopped."""
        self._seq = max(self._seq, seq)

    def adopt_open_order(self, order: Order) -> None:
        """Track an order that may be open at the venue (restored after a restart, carried to a
        new engine) and hand it to the venue, which looks it up before sending anything."""
        self.orders[order.client_order_id] = order
        self._open[order.client_order_id] = order
        self.venue.adopt(order)

    @property
    def order_sequence(self) -> int:
        return self._seq

    # ----------------------------------------------------------------- market data
    def on_bar(self, bar: Bar) -> None:
        self._now = bar.ts
        self._marks[bar.symbol] = bar.close
        self._venue_on_market(bar)
        self._strategy_on_bar(bar)

    def on_trade(self, tick: TradeTick) -> None:
        self._now = tick.ts
        self._marks[tick.symbol] = tick.price
        self._venue_on_market(tick)
        self.strategy.on_trade(tick)

    def on_quote(self, quote: QuoteTick) -> None:
        self._now = quote.ts
        self._marks[quote.symbol] = (quote.bid + quote.ask) / 2
        self._venue_on_market(quote)
        self.strategy.on_quote(quote)

    def on_market(self, event: MarketEvent) -> None:
        if isinstance(event, Bar):
            self.on_bar(event)
        elif isinstance(event, TradeTick):
            self.on_trade(event)
        else:
            self.on_quote(event)

    # ----------------------------------------------------------------- venue events
    def on_order_event(self, event: OrderEvent) -> None:
        order = self.orders.get(event.client_order_id)
        if order is None:
            self._log(f"ignoring event for unknown order {event.client_order_id}")
            return
        if isinstance(event, OrderFilled):
            if event.trade_id in order.fill_ids:
                return  # duplicate report of an execution we booked already
            order.apply(event)
            self.portfolio.apply_fill(event)
            if self._retain_history:
                self.fills.append(event)
        elif isinstance(event, OrderAmended):
            try:
                order.apply(event)
            except InvalidOrderTransitionError as exc:
                # A late report (the order filled or was cancelled meanwhile): the order's
                # state is the venue's later word; say so and keep it.
                self._log(f"ignoring amendment of {event.client_order_id}: {exc}")
                return
        else:
            order.apply(event)
        if not order.is_open:
            self._open.pop(order.client_order_id, None)
        for listener in self._listeners:
            listener(order, event)
        if not order.is_open and not self._retain_history:
            self.orders.pop(order.client_order_id, None)
        if isinstance(event, OrderFilled):
            self.strategy.on_fill(event)
        else:
            self.strategy.on_order(event)

    # ----------------------------------------------------------------- strategy context
    @property
    def now_ns(self) -> int:
        return self._now

    def position(self, symbol: str) -> Decimal:
        return self.portfolio.position_qty(symbol)

    def target_position(self, symbol: str, qty: Decimal | int | float | str, tag: str = "") -> None:
        self._handle(TargetPosition(symbol, to_decimal(qty), tag))

    def submit_order(self, request: OrderRequest) -> str | None:
        """Returns the client order id; a pre-trade rejection is reported to ``on_order``
        first and the id is still returned, so the strategy can match the two."""
        ids = self._handle(SubmitOrder(request))
        return ids[0] if ids else None

    def cancel_order(self, client_order_id: str) -> None:
        order = self._open.get(client_order_id)
        if order is not None:
            self.venue.cancel(client_order_id)

    def amend_order(
        self,
        client_order_id: str,
        *,
        qty: Number | None = None,
        price: Number | None = None,
        stop_price: Number | None = None,
    ) -> None:
        """Change an open order's total ``qty``, limit ``price`` or ``stop_price``. The values
        are rounded to the instrument's grid and the amended order passes the same pre-trade
        checks as a new one; a refusal reaches ``on_order`` as ``OrderAmendRejected`` and the
        order stays as it was. An unknown or closed order is only logged (nothing is sent)."""
        if self.suppress_orders:
            self.signals_suppressed += 1
            return
        order = self._open.get(client_order_id)
        if order is None:
            known = self.orders.get(client_order_id)
            why = "unknown order" if known is None else f"the order is {known.status}"
            self._log(f"amend {client_order_id} rejected: {why}; nothing sent")
            return
        instrument = self.instruments.get(order.symbol)
        try:
            amended = amended_request(
                order, instrument, qty=qty, price=price, stop_price=stop_price
            )
            if amended is None:
                self._log(f"amend {client_order_id}: nothing changes; nothing sent")
                return
            self.risk_policy.check(check_request(order, amended), self)
        except OrderRejectedError as exc:
            self.on_order_event(OrderAmendRejected(client_order_id, str(exc), self._now))
            return
        current = order.request
        self.venue.amend(
            client_order_id,
            qty=amended.qty if amended.qty != current.qty else None,
            limit_price=amended.limit_price if amended.limit_price != current.limit_price else None,
            stop_price=amended.stop_price if amended.stop_price != current.stop_price else None,
        )

    def cancel_all(self, symbol: str | None = None) -> None:
        for order in list(self._open.values()):
            if symbol is None or order.symbol == symbol:
                self.venue.cancel(order.client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if symbol is None or o.symbol == symbol]

    def instrument(self, symbol: str) -> Instrument:
        return self.instruments.get(symbol)

    def equity(self) -> Decimal:
        return self.portfolio.equity()

    def log(self, message: str) -> None:
        self._log(message)

    # ----------------------------------------------------------------- account view (risk)
    def position_qty(self, symbol: str) -> Decimal:
        return self.portfolio.position_qty(symbol)

    def pending_qty(self, symbol: str) -> Decimal:
        total = ZERO
        for order in self._open.values():
            if order.symbol == symbol and order.request.type is OrderType.MARKET:
                total += order.remaining_qty * order.side.sign
        return total

    def mark_price(self, symbol: str) -> Decimal | None:
        raw = self._marks.get(symbol)
        if raw is None:
            return None
        return raw if isinstance(raw, Decimal) else to_decimal(raw)

    # ----------------------------------------------------------------- internals
    def next_client_order_id(self) -> str:
        self._seq += 1
        return f"{self._prefix}{self._seq}"

    def _handle(self, signal: Signal) -> list[str]:
        if self.suppress_orders:
            self.signals_suppressed += 1
            return []
        ids = []
        for request in self.risk_policy.orders_for(signal, self):
            order = Order(self.next_client_order_id(), request, created_ts=self._now)
            self.orders[order.client_order_id] = order
            try:
                self.risk_policy.check(request, self)
            except OrderRejectedError as exc:
                ids.append(order.client_order_id)
                self.on_order_event(OrderRejected(order.client_order_id, str(exc), self._now))
                continue
            self._open[order.client_order_id] = order
            ids.append(order.client_order_id)
            self.venue.submit(order)
        return ids
