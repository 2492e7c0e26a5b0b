"""State and matching of the fake Bybit (linear USDT perpetuals, one-way position mode).

Every public method takes ``lock`` (re-entrant), so the test thread and the server's loop may
both call in. Pushes go through ``emit(key, message)`` with the lock held, so they leave in the
order the state changed. Keys: ``("public", topic)`` and ``("private", uid, topic)``.

Matching is deliberately simple: each symbol has a last price set by the test (or by a pushed
kline's close) with unlimited liquidity at that price, optionally capped per fill by
``max_fill_qty`` to produce partial fills.
- Market: fills at once at the last price (taker); Bybit turns it into an IOC limit at a
  slippage-protected price, which is what the order's ``price`` shows.
- Limit that crosses (buy >= last, sell <= last): fills at once at the last price (taker) for
  GTC/IOC/FOK; a PostOnly one is cancelled with rejectReason EC_PostOnlyWillTakeLiquidity
  (docs/v5/order/create-order: "If the order would be filled immediately ... it will be
  cancelled"; docs/v5/enum#rejectreason).
- Limit that rests (GTC, PostOnly): fills at its own price (maker) once a new last price reaches
  it. IOC/FOK that cannot fill (in full, for FOK) are cancelled.
- reduceOnly: refused with 110017 when there is nothing to reduce; its qty is cut to the
  position's size; a fill never crosses through zero and what cannot reduce is cancelled
  with cancelType CancelByReduceOnly.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from .orders import Account, Execution, Order, Position
from .wire import INTERVAL_MS, ApiError, InstrumentSpec, RetCode, fmt

__all__ = ["DEFAULT_INSTRUMENTS", "Emit", "ExchangeState", "wall_clock_ms"]

Emit = Callable[[tuple[str, ...], dict[str, Any]], None]

DEFAULT_INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    InstrumentSpec(
        "BTCUSDT",
        Decimal(65000),
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal(1190),
        Decimal(500),
        Decimal(5),
    ),
    InstrumentSpec(
        "ETHUSDT",
        Decimal(3000),
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal(7240),
        Decimal(724),
        Decimal(5),
    ),
    InstrumentSpec(
        "SOLUSDT",
        Decimal(150),
        Decimal("0.010"),
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal(79770),
        Decimal(7977),
        Decimal(5),
    ),
)
_MAX_ACTIVE_PER_SYMBOL = 500
_MARKET_SLIPPAGE = Decimal("0.05")


def _noop_emit(key: tuple[str, ...], message: dict[str, Any]) -> None:
    del key, message


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ExchangeState:
    def __init__(
        self,
        instruments: Sequence[InstrumentSpec] = DEFAULT_INSTRUMENTS,
        *,
        taker_fee: Decimal = Decimal("0.00055"),
        maker_fee: Decimal = Decimal("0.0002"),
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.lock = threading.RLock()
        self.instruments = {i.symbol: i for i in instruments}
        self.taker_fee = Decimal(taker_fee)
        self.maker_fee = Decimal(maker_fee)
        self.clock = clock
        self.emit: Emit = _noop_emit
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.prices = {s: i.price for s, i in self.instruments.items()}
            self.accounts: dict[str, Account] = {}  # uid → account
            self.by_key: dict[str, str] = {}  # api key → uid
            self.orders: dict[str, Order] = {}  # orderId → order, in creation order
            self.executions: list[tuple[str, Execution]] = []  # (uid, execution), oldest first
            self.create_requests: list[tuple[str, dict[str, Any]]] = []  # every create received
            self.klines: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
            self.max_fill_qty: dict[str, Decimal] = {}
            self._uids = itertools.count(100_001)
            self._seq = itertools.count(4_688_002_127)
            self._msg = itertools.count(1)

    # ------------------------------------------------------------------ accounts

    def add_account(self, api_key: str, secret: str, balance: Decimal) -> str:
        with self.lock:
            uid = self.by_key.get(api_key)
            if uid is not None:
                self.accounts[uid].secret = secret
                self.accounts[uid].balance = Decimal(balance)
                return uid
            uid = str(next(self._uids))
            self.accounts[uid] = Account(uid, api_key, secret, Decimal(balance))
            self.by_key[api_key] = uid
            return uid

    @property
    def secrets(self) -> dict[str, str]:
        with self.lock:
            return {a.api_key: a.secret for a in self.accounts.values()}

    def account(self, uid: str) -> Account:
        try:
            return self.accounts[uid]
        except KeyError:
            raise KeyError(f"unknown uid {uid!r}") from None

    def instrument(self, symbol: Any) -> InstrumentSpec:
        spec = self.instruments.get(symbol) if isinstance(symbol, str) else None
        if spec is None:
            raise ApiError(RetCode.PARAMS, f"params error: symbol invalid: {symbol!r}")
        return spec

    # ------------------------------------------------------------------ pushes

    def _private(self, uid: str, topic: str, data: list[dict[str, Any]]) -> None:
        now = self.clock()
        message = {
            "id": f"{uid}-{next(self._msg)}",
            "topic": topic,
            "creationTime": now,
            "data": data,
        }
        self.emit(("private", uid, topic), message)

    def _push_order(self, order: Order) -> None:
        self._private(order.uid, "order", [order.ws()])

    def _push_account(self, account: Account, symbol: str) -> None:
        pos = account.position(symbol)
        self._private(account.uid, "position", [pos.ws(self.prices[symbol])])
        self._private(account.uid, "wallet", [account.wallet(self.prices)])

    # ------------------------------------------------------------------ orders

    def create_order(self, uid: str, params: dict[str, Any], validated: dict[str, Any]) -> Order:
        """Place an order the REST layer validated (``validated`` holds the parsed values)."""
        with self.lock:
            account = self.account(uid)
            link_id: str = validated["order_link_id"]
            if link_id and link_id in account.link_ids:
                raise ApiError(RetCode.DUPLICATE_LINK_ID)
            symbol: str = validated["symbol"]
            active = sum(
                1 for o in self.orders.values() if o.uid == uid and o.symbol == symbol and o.is_open
            )
            if active >= _MAX_ACTIVE_PER_SYMBOL:
                raise ApiError(RetCode.TOO_MANY_ORDERS)
            side: str = validated["side"]
            qty: Decimal = validated["qty"]
            if validated["reduce_only"]:
                reducible = self._reducible(account.position(symbol), side == "Buy")
                if reducible == 0:
                    raise ApiError(RetCode.QTY_TRUNCATED)
                qty = min(qty, reducible)
            last = self.prices[symbol]
            spec = self.instruments[symbol]
            price: Decimal = validated["price"]
            if validated["order_type"] == "Market":
                price = self._protection_price(spec, last, side == "Buy")
            now = self.clock()
            if link_id:
                account.link_ids.add(link_id)
            order = Order(
                order_id=str(uuid.uuid4()),
                order_link_id=link_id,
                uid=uid,
                symbol=symbol,
                side=side,
                order_type=validated["order_type"],
                time_in_force=validated["time_in_force"],
                price=price,
                qty=qty,
                reduce_only=validated["reduce_only"],
                close_on_trigger=validated["close_on_trigger"],
                created_ms=now,
                updated_ms=now,
                last_price_on_created=last,
            )
            self.orders[order.order_id] = order
            self._push_order(order)
            self._match_new(order)
            return order

    @staticmethod
    def _protection_price(spec: InstrumentSpec, last: Decimal, is_buy: bool) -> Decimal:
        if is_buy:
            raw = last * (1 + _MARKET_SLIPPAGE)
            return (raw / spec.tick_size).to_integral_value(ROUND_FLOOR) * spec.tick_size
        raw = last * (1 - _MARKET_SLIPPAGE)
        return (raw / spec.tick_size).to_integral_value(ROUND_CEILING) * spec.tick_size

    @staticmethod
    def _reducible(pos: Position, is_buy: bool) -> Decimal:
        if (is_buy and pos.size < 0) or (not is_buy and pos.size > 0):
            return abs(pos.size)
        return Decimal(0)

    def _crosses(self, order: Order, last: Decimal) -> bool:
        if order.order_type == "Market":
            return True
        return order.price >= last if order.is_buy else order.price <= last

    def _match_new(self, order: Order) -> None:
        last = self.prices[order.symbol]
        tif = order.time_in_force
        if not self._crosses(order, last):
            if tif in ("IOC", "FOK"):
                reason = "EC_NoImmediateQtyToFill" if tif == "IOC" else "EC_CancelForNoFullFill"
                self._close(order, "Cancelled", reject_reason=reason)
            return
        if tif == "PostOnly":
            self._close(order, "Cancelled", reject_reason="EC_PostOnlyWillTakeLiquidity")
            return
        cap = self.max_fill_qty.get(order.symbol)
        if tif == "FOK" and cap is not None and cap < order.leaves_qty:
            self._close(order, "Cancelled", reject_reason="EC_CancelForNoFullFill")
            return
        self._fill(order, last, is_maker=False)
        if order.is_open and tif in ("IOC", "FOK"):  # a Market order is IOC too
            self._close(order, "Cancelled", reject_reason="EC_NoImmediateQtyToFill")

    def _close(
        self,
        order: Order,
        status: str,
        cancel_type: str = "UNKNOWN",
        reject_reason: str = "EC_NoError",
    ) -> None:
        order.status = status
        order.cancel_type = cancel_type
        order.reject_reason = reject_reason
        order.updated_ms = self.clock()
        self._push_order(order)

    def _fill(self, order: Order, price: Decimal, *, is_maker: bool) -> None:
        """Fill as much of ``order`` as liquidity and reduce-only allow, at ``price``."""
        account = self.account(order.uid)
        pos = account.position(order.symbol)
        qty = order.leaves_qty
        cap = self.max_fill_qty.get(order.symbol)
        if cap is not None:
            qty = min(qty, cap)
        if order.reduce_only:
            qty = min(qty, self._reducible(pos, order.is_buy))
        if qty > 0:
            self._execute(account, pos, order, qty, price, is_maker)
        if order.reduce_only and order.is_open and self._reducible(pos, order.is_buy) == 0:
            self._close(order, "Cancelled", cancel_type="CancelByReduceOnly")

    def _execute(
        self,
        account: Account,
        pos: Position,
        order: Order,
        qty: Decimal,
        price: Decimal,
        is_maker: bool,
    ) -> None:
        now = self.clock()
        rate = self.maker_fee if is_maker else self.taker_fee
        value = price * qty
        fee = value * rate
        signed = qty if order.is_buy else -qty
        closed = Decimal(0)
        pnl = Decimal(0)
        if pos.size == 0 or (pos.size > 0) == (signed > 0):
            if pos.size == 0:
                pos.cur_realised = Decimal(0)
                if pos.created_ms == 0:
                    pos.created_ms = now
            total = abs(pos.size) + qty
            pos.avg_price = (abs(pos.size) * pos.avg_price + value) / total
            pos.size += signed
        else:
            closed = min(qty, abs(pos.size))
            pnl = (price - pos.avg_price) * closed * (1 if pos.size > 0 else -1)
            pos.size += signed
            if pos.size == 0:
                pos.avg_price = Decimal(0)
            elif qty > closed:  # flipped through zero: the rest opened at this price
                pos.avg_price = price
        pos.cur_realised += pnl - fee
        pos.cum_realised += pnl - fee
        pos.updated_ms = now
        seq = next(self._seq)
        pos.seq = seq
        account.balance += pnl - fee
        account.cum_realised += pnl - fee
        order.cum_qty += qty
        order.cum_value += value
        order.cum_fee += fee
        order.closed_pnl += pnl - fee if closed else 0
        order.status = "Filled" if order.cum_qty == order.qty else "PartiallyFilled"
        order.updated_ms = now
        execution = Execution(
            exec_id=str(uuid.uuid4()),
            symbol=order.symbol,
            side=order.side,
            order_id=order.order_id,
            order_link_id=order.order_link_id,
            order_type=order.order_type,
            order_price=order.price,
            order_qty=order.qty,
            leaves_qty=order.leaves_qty,
            exec_price=price,
            exec_qty=qty,
            exec_fee=fee,
            fee_rate=rate,
            is_maker=is_maker,
            exec_time_ms=now,
            closed_size=closed,
            exec_pnl=pnl,
            mark_price=self.prices[order.symbol],
            seq=seq,
        )
        self.executions.append((account.uid, execution))
        self._private(account.uid, "execution", [execution.ws()])
        self._push_order(order)
        self._push_account(account, order.symbol)

    def find_order(self, uid: str, order_id: Any, order_link_id: Any) -> Order:
        """The order named by orderId (preferred, as the docs say) or orderLinkId."""
        with self.lock:
            if order_id:
                order = self.orders.get(str(order_id))
                if order is not None and order.uid == uid:
                    return order
                raise ApiError(RetCode.ORDER_NOT_EXIST)
            if order_link_id:
                for order in reversed(self.orders.values()):
                    if order.uid == uid and order.order_link_id == order_link_id:
                        return order
                raise ApiError(RetCode.ORDER_NOT_EXIST)
            raise ApiError(RetCode.PARAMS, "params error: orderId or orderLinkId is required")

    def amend_order(self, order: Order, qty: Decimal | None, price: Decimal | None) -> Order:
        with self.lock:
            if not order.is_open:
                raise ApiError(RetCode.ORDER_FINISHED)
            if qty is not None:
                if qty <= order.cum_qty:
                    raise ApiError(
                        110064,
                        "The modified contract quantity cannot be less than or equal to the "
                        "filled quantity.",
                    )
                order.qty = qty
            if price is not None:
                order.price = price
            order.updated_ms = self.clock()
            self._push_order(order)
            last = self.prices[order.symbol]
            if self._crosses(order, last):
                # an amended order that now crosses trades as a taker (a PostOnly is cancelled)
                if order.time_in_force == "PostOnly":
                    self._close(order, "Cancelled", reject_reason="EC_PostOnlyWillTakeLiquidity")
                else:
                    self._fill(order, last, is_maker=False)
            return order

    def cancel_order(self, order: Order) -> Order:
        with self.lock:
            if not order.is_open:
                raise ApiError(RetCode.ORDER_FINISHED)
            self._close(order, "Cancelled", cancel_type="CancelByUser")
            return order

    def cancel_all(self, uid: str, symbol: str | None, base_coin: str | None) -> list[Order]:
        with self.lock:
            cancelled = []
            for order in list(self.orders.values()):
                if order.uid != uid or not order.is_open:
                    continue
                if symbol is not None and order.symbol != symbol:
                    continue
                if base_coin is not None and self.instruments[order.symbol].base_coin != base_coin:
                    continue
                self._close(order, "Cancelled", cancel_type="CancelByUser")
                cancelled.append(order)
            return cancelled

    # ------------------------------------------------------------------ market

    def set_price(self, symbol: str, price: Decimal) -> None:
        """New last price: resting limit orders it reaches fill at their own price (maker)."""
        with self.lock:
            self.instrument(symbol)
            self.prices[symbol] = Decimal(price)
            for order in list(self.orders.values()):
                if order.symbol != symbol or not order.is_open or order.order_type != "Limit":
                    continue
                if (order.is_buy and price <= order.price) or (
                    not order.is_buy and price >= order.price
                ):
                    self._fill(order, order.price, is_maker=True)

    def publish_kline(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        values: dict[str, Decimal],
        confirm: bool,
        move_price: bool,
        push: bool = True,
    ) -> dict[str, Any]:
        """Store a kline, push it on ``kline.{interval}.{symbol}`` and (optionally) make its
        close the last price."""
        with self.lock:
            self.instrument(symbol)
            if interval not in INTERVAL_MS:
                raise ValueError(f"interval must be one of {sorted(INTERVAL_MS)}: {interval!r}")
            now = self.clock()
            bar = {
                "start": start_ms,
                "end": start_ms + INTERVAL_MS[interval] - 1,
                "interval": interval,
                "open": fmt(values["open"]),
                "close": fmt(values["close"]),
                "high": fmt(values["high"]),
                "low": fmt(values["low"]),
                "volume": fmt(values["volume"]),
                "turnover": fmt(values["turnover"]),
                "confirm": confirm,
                "timestamp": now,
            }
            self.klines.setdefault((symbol, interval), {})[start_ms] = bar
            topic = f"kline.{interval}.{symbol}"
            if push:
                message = {"topic": topic, "data": [bar], "ts": now, "type": "snapshot"}
                self.emit(("public", topic), message)
            if move_price:
                self.set_price(symbol, values["close"])
            return bar
