"""Simulated matching. Semantics are specified in docs/backtest-semantics.md; in short:

- an order is matched only against market events that arrive *after* it was submitted;
- market orders fill at the next bar's open (next trade price; next ask/bid for quotes),
  moved against the trader by ``slippage_bps`` and rounded to the tick against the trader;
- limit orders fill when the range reaches the limit: at the open if it gapped through,
  else at the limit price; stop orders trigger the same way and fill like market orders;
- fills are complete (no volume model); reduce-only orders are clamped to the position and
  the rest cancelled; IOC orders not marketable on their first event are cancelled;
- an amendment is applied at once (``OrderAmended``) and the amended order is matched from the
  next event on, like a new arrival; a new limit price is judged maker/taker afresh (moved
  through the market: taker, filled by the rules above on the next event);
- fee = rate × notional (booked on the money quantum), maker rate for orders resting before
  they filled, taker otherwise;
- a fill's trade id is derived from its client order id (``<client order id>-F1``): client
  order ids are never reused by a bot, so trade ids are unique per bot forever, across
  engines, config changes and restarts.

Everything here is simulated and is labelled so wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from algotrade.core.events import (
    Bar,
    Liquidity,
    MarketEvent,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSide,
    QuoteTick,
    TradeTick,
)
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.money import BPS, ONE, ZERO, book_product, to_decimal
from algotrade.core.orders import Order, OrderRequest, OrderType, TimeInForce
from algotrade.core.ports import VenueEventSink
from algotrade.venues.paper.config import PaperVenueConfig


@dataclass(slots=True)
class _Working:
    order: Order
    arrival_seq: int  # venue event counter when it arrived: it matches only later events
    marketable_on_arrival: bool
    triggered: bool = False


KNOWN_ORDER_IDS = 10_000


class PaperVenue:
    name = "paper"
    simulated = True

    def __init__(
        self,
        config: PaperVenueConfig | None = None,
        instruments: InstrumentRegistry | None = None,
        positions: dict[str, Decimal] | None = None,
    ) -> None:
        self.config = config or PaperVenueConfig()
        self.instruments = instruments or InstrumentRegistry()
        self._sink: VenueEventSink | None = None
        self._books: dict[str, dict[str, _Working]] = {}  # symbol → client id → order
        # Client ids seen recently, so a retried submit is not booked twice. Bounded: a bot
        # never reuses an id, so only retries of recent orders need catching.
        self._known: dict[str, None] = {}
        self._last: dict[str, MarketEvent] = {}
        self._positions: dict[str, Decimal] = dict(positions or {})
        self._seq = 0
        self._now = 0
        self._slip_up = ONE + self.config.slippage_bps * BPS
        self._slip_down = ONE - self.config.slippage_bps * BPS

    # ------------------------------------------------------------------ port
    def bind(self, sink: VenueEventSink) -> None:
        self._sink = sink

    def submit(self, order: Order) -> None:
        coid = order.client_order_id
        if coid in self._known:
            return  # idempotent: a retried submit never doubles an order
        self._known[coid] = None
        if len(self._known) > KNOWN_ORDER_IDS:
            del self._known[next(iter(self._known))]  # the oldest (dicts keep insertion order)
        request = order.request
        last = self._last.get(request.symbol)
        marketable = self._marketable(request, last)
        if request.tif is TimeInForce.POST_ONLY and marketable:
            self._emit(OrderRejected(coid, "post-only order would take liquidity", self._now))
            return
        # Booked before the acknowledgement: a strategy may cancel from its on_order callback.
        self._books.setdefault(request.symbol, {})[coid] = _Working(order, self._seq, marketable)
        self._emit(OrderAccepted(coid, f"P-{coid}", self._now))

    def adopt(self, order: Order) -> None:
        """A simulated venue has nothing to look up: the order is booked as if sent now."""
        self.submit(order)

    def cancel(self, client_order_id: str) -> None:
        for symbol, book in self._books.items():
            if client_order_id in book:
                del book[client_order_id]
                if not book:
                    del self._books[symbol]
                self._emit(OrderCancelled(client_order_id, "cancelled by request", self._now))
                return

    def amend(
        self,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Applied synchronously. The amended order waits for the next event, like a new one;
        a post-only order whose new price would take liquidity is refused (it stays as it
        was), as is an amendment of an order that is no longer working."""
        working = self._working(client_order_id)
        if working is None:
            self._emit(
                OrderAmendRejected(client_order_id, "paper: the order is not working", self._now)
            )
            return
        order = working.order
        request = order.request
        new_qty = request.qty if qty is None else qty
        if new_qty <= order.filled_qty:
            reason = f"paper: qty {new_qty} is not above the filled qty {order.filled_qty}"
            self._emit(OrderAmendRejected(client_order_id, reason, self._now))
            return
        try:
            amended = replace(
                request,
                qty=new_qty,
                limit_price=request.limit_price if limit_price is None else limit_price,
                stop_price=request.stop_price if stop_price is None else stop_price,
            )
        except (TypeError, ValueError) as exc:
            self._emit(OrderAmendRejected(client_order_id, f"paper: {exc}", self._now))
            return
        if amended.limit_price != request.limit_price:
            marketable = self._marketable(amended, self._last.get(request.symbol))
            if request.tif is TimeInForce.POST_ONLY and marketable:
                reason = "paper: post-only order would take liquidity at the new price"
                self._emit(OrderAmendRejected(client_order_id, reason, self._now))
                return
            working.marketable_on_arrival = marketable
        working.arrival_seq = self._seq
        self._emit(
            OrderAmended(
                client_order_id, amended.qty, amended.limit_price, amended.stop_price, self._now
            )
        )

    def on_market(self, event: MarketEvent) -> None:
        self._now = event.ts
        self._last[event.symbol] = event
        if self._books:
            # The counter only needs to move while orders wait: an order that arrives during
            # event k carries k's number and is matched from the next event on.
            self._seq += 1
            book = self._books.get(event.symbol)
            if book:
                self._match(book, event)

    # ------------------------------------------------------------------ state for restore
    def open_orders(self) -> list[Order]:
        return [w.order for book in self._books.values() for w in book.values()]

    def position(self, symbol: str) -> Decimal:
        return self._positions.get(symbol, ZERO)

    # ------------------------------------------------------------------ matching
    def _match(self, book: dict[str, _Working], event: MarketEvent) -> None:
        seq = self._seq
        for coid, working in list(book.items()):
            if working.arrival_seq >= seq or coid not in book:
                continue  # arrived during this event, or cancelled by a callback meanwhile
            order = working.order
            buying = order.side is OrderSide.BUY
            open_, high, low = _range(event, buying)
            price = self._fill_price(working, open_, high, low, buying)
            if price is None:
                if order.request.tif is TimeInForce.IOC:
                    self._remove(book, coid, event.symbol)
                    self._emit(
                        OrderCancelled(order.client_order_id, "IOC not marketable", self._now)
                    )
                continue
            self._execute(book, working, price)

    def _fill_price(
        self, working: _Working, open_: float, high: float, low: float, buying: bool
    ) -> Decimal | None:
        """Bar prices are floats and order prices Decimals: compare both as floats (the float
        nearest a decimal price equals the float parsed from the same text, so an exact touch
        counts), then return an exact Decimal price."""
        request = working.order.request
        kind = request.type
        if kind is OrderType.MARKET:
            return self._slipped(open_, buying, working.order.symbol)
        if kind is OrderType.LIMIT:
            assert request.limit_price is not None
            limit = request.limit_price
            level = float(limit)
            if buying:
                if open_ <= level:
                    return min(to_decimal(open_), limit)
                return limit if low <= level else None
            if open_ >= level:
                return max(to_decimal(open_), limit)
            return limit if high >= level else None
        assert request.stop_price is not None
        stop = request.stop_price
        level = float(stop)
        symbol = working.order.symbol
        if buying:
            if open_ >= level:
                return self._slipped(open_, True, symbol)
            return self._slipped(stop, True, symbol) if high >= level else None
        if open_ <= level:
            return self._slipped(open_, False, symbol)
        return self._slipped(stop, False, symbol) if low <= level else None

    def _slipped(self, price: float | Decimal, buying: bool, symbol: str) -> Decimal:
        exact = to_decimal(price)
        if not self.config.slippage_bps:
            return exact
        moved = exact * (self._slip_up if buying else self._slip_down)
        return self.instruments.get(symbol).round_price_adverse(moved, buying)

    def _execute(self, book: dict[str, _Working], working: _Working, price: Decimal) -> None:
        order = working.order
        symbol = order.symbol
        qty = order.remaining_qty
        self._remove(book, order.client_order_id, symbol)
        if order.request.reduce_only:
            position = self._positions.get(symbol, ZERO)
            reducible = abs(position) if (position > 0) != (order.side is OrderSide.BUY) else ZERO
            qty = min(qty, reducible)
            if qty == 0:
                self._emit(
                    OrderCancelled(
                        order.client_order_id, "reduce-only: nothing to reduce", self._now
                    )
                )
                return
        maker = order.request.type is OrderType.LIMIT and not working.marketable_on_arrival
        rate = self.config.maker_fee_rate if maker else self.config.taker_fee_rate
        instrument = self.instruments.get(symbol)
        fee = book_product(qty, price, instrument.multiplier, rate)
        self._positions[symbol] = self._positions.get(symbol, ZERO) + qty * order.side.sign
        fill = OrderFilled(
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            # Complete fills: one execution per order, named after the order.
            trade_id=f"{order.client_order_id}-F{len(order.fill_ids) + 1}",
            symbol=symbol,
            side=order.side,
            qty=qty,
            price=price,
            fee=fee,
            liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
            ts=self._now,
        )
        self._emit(fill)
        if order.is_open:  # clamped reduce-only: the rest can never fill
            self._emit(OrderCancelled(order.client_order_id, "reduce-only remainder", self._now))

    def _working(self, client_order_id: str) -> _Working | None:
        for book in self._books.values():
            working = book.get(client_order_id)
            if working is not None:
                return working
        return None

    def _remove(self, book: dict[str, _Working], client_order_id: str, symbol: str) -> None:
        del book[client_order_id]
        if not book:
            self._books.pop(symbol, None)

    def _marketable(self, request: OrderRequest, last: MarketEvent | None) -> bool:
        if request.type is OrderType.MARKET:
            return True
        if last is None or request.type is not OrderType.LIMIT:
            return False
        assert request.limit_price is not None
        buying = request.side is OrderSide.BUY
        reference = _last_price(last, buying)
        return reference <= request.limit_price if buying else reference >= request.limit_price

    def _emit(self, event: OrderEvent) -> None:
        if self._sink is None:
            raise RuntimeError("paper venue is not bound to an engine")
        self._sink.on_order_event(event)


def _range(event: MarketEvent, buying: bool) -> tuple[float, float, float]:
    """(open, high, low) of the event as seen by one side of the book."""
    if isinstance(event, Bar):
        return event.open, event.high, event.low
    if isinstance(event, TradeTick):
        return event.price, event.price, event.price
    assert isinstance(event, QuoteTick)
    price = event.ask if buying else event.bid
    return price, price, price


def _last_price(event: MarketEvent, buying: bool) -> Decimal:
    if isinstance(event, Bar):
        return to_decimal(event.close)
    if isinstance(event, TradeTick):
        return to_decimal(event.price)
    return to_decimal(event.ask if buying else event.bid)
