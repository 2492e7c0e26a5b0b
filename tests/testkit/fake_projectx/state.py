"""State and matching of the fake ProjectX: users, accounts, orders, positions, trades, prices.

Every public method takes ``lock`` (re-entrant), so the test thread and the server's loop may
both call in. Realtime pushes go out through ``emit(hub, key, target, arguments)`` while the
lock is held, so they leave in the order the state changed.

Matching is driven by one price per contract set by the test (``set_price``): a market order
fills in full at that price; a limit order fills at once at that price when marketable, else
rests and fills at its own limit once a new price crosses it; a stop triggers when the price
reaches it and fills at the price. Every fill is one trade; P&L and fees come from the
contract's tick size, tick value and fee per contract.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .book import Account, Order, Position, Trade
from .wire import (
    DEFAULT_CONTRACTS,
    ContractSpec,
    ErrorCode,
    OrderSide,
    OrderStatus,
    OrderType,
    iso,
    num,
)

__all__ = ["Emit", "Refused", "VenueState"]

#: (hub "user" | "market", routing key, target method, arguments)
Emit = Callable[[str, tuple[Any, ...], str, list[Any]], None]


class Refused(Exception):
    """A request the venue answers with ``success: false`` (HTTP 200)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message


@dataclass
class User:
    name: str
    api_key: str


def _noop_emit(hub: str, key: tuple[Any, ...], target: str, arguments: list[Any]) -> None:
    del hub, key, target, arguments


class VenueState:
    def __init__(
        self,
        contracts: Sequence[ContractSpec] = DEFAULT_CONTRACTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.emit: Emit = _noop_emit
        self.initial_contracts = list(contracts)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.search_only = False  # see FakeProjectX.contracts_by_search
            self.refusals_naming_orders: list[tuple[int, str, bool]] = []  # see refuse_places
            self.contracts: dict[str, ContractSpec] = {c.id: c for c in self.initial_contracts}
            self.prices: dict[str, Decimal] = {c.id: c.price for c in self.initial_contracts}
            self.opens: dict[str, Decimal] = dict(self.prices)
            self.volumes: dict[str, int] = dict.fromkeys(self.prices, 0)
            self.users: dict[str, User] = {}
            self.accounts: dict[int, Account] = {}
            self.orders: dict[int, Order] = {}
            self.positions: dict[tuple[int, str], Position] = {}
            self.trades: list[Trade] = []
            self.bars: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
            self._ids = {k: itertools.count(start) for k, start in _ID_STARTS.items()}

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    # ------------------------------------------------------------------ setup

    def add_user(self, name: str, api_key: str) -> None:
        with self.lock:
            self.users[name] = User(name, api_key)

    def add_account(
        self, user: str, name: str, balance: Decimal, can_trade: bool, active: bool
    ) -> int:
        with self.lock:
            if user not in self.users:
                raise KeyError(f"unknown user {user!r}: add_user first")
            account = Account(self.next_id("account"), name, user, balance, can_trade)
            account.active = active
            self.accounts[account.id] = account
            return account.id

    def contract(self, contract_id: Any) -> ContractSpec:
        spec = self.contracts.get(contract_id) if isinstance(contract_id, str) else None
        if spec is None:
            raise Refused(ErrorCode.CONTRACT_NOT_FOUND, f"Contract not found: {contract_id!r}")
        return spec

    def account_of(self, user: str, account_id: Any) -> Account:
        account = self.accounts.get(account_id) if isinstance(account_id, int) else None
        if account is None or account.user != user:
            raise Refused(ErrorCode.ACCOUNT_NOT_FOUND, f"Account not found: {account_id!r}")
        return account

    # ------------------------------------------------------------------ orders

    def place(
        self,
        account: Account,
        contract_id: Any,
        type_: int,
        side: int,
        size: int,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        custom_tag: str | None,
        origin: str,
    ) -> Order:
        with self.lock:
            spec = self.contract(contract_id)
            if not account.can_trade:
                raise Refused(ErrorCode.ORDER_REJECTED, "Account cannot trade")
            if type_ not in (OrderType.LIMIT, OrderType.MARKET, OrderType.STOP):
                raise Refused(ErrorCode.ORDER_REJECTED, f"order type {type_} is not simulated")
            if side not in (OrderSide.BID, OrderSide.ASK):
                raise Refused(ErrorCode.ORDER_REJECTED, f"invalid side {side}")
            if size <= 0:
                raise Refused(ErrorCode.ORDER_REJECTED, "size must be positive")
            if type_ == OrderType.LIMIT and limit_price is None:
                raise Refused(ErrorCode.ORDER_REJECTED, "limitPrice is required for a limit")
            if type_ == OrderType.STOP and stop_price is None:
                raise Refused(ErrorCode.ORDER_REJECTED, "stopPrice is required for a stop")
            for px in (limit_price, stop_price):
                if px is not None and px % spec.tick_size != 0:
                    raise Refused(ErrorCode.ORDER_REJECTED, f"price {px} is off the tick grid")
            # order-place docs: customTag "Must be unique across the account"
            if custom_tag is not None and any(
                o.account_id == account.id and o.custom_tag == custom_tag
                for o in self.orders.values()
            ):
                raise Refused(ErrorCode.ORDER_REJECTED, f"customTag {custom_tag!r} already used")
            order = Order(
                id=self.next_id("order"),
                account_id=account.id,
                contract_id=spec.id,
                symbol_id=spec.symbol_id,
                type=OrderType(type_),
                side=OrderSide(side),
                size=size,
                limit_price=limit_price if type_ == OrderType.LIMIT else None,
                stop_price=stop_price if type_ == OrderType.STOP else None,
                custom_tag=custom_tag,
                created=self.clock(),
                origin=origin,
            )
            self.orders[order.id] = order
            self._push_order(order)
            self._try_fill(order, self.prices[spec.id], placing=True)
            return order

    def cancel(self, account: Account, order_id: Any) -> Order:
        with self.lock:
            order = self._open_order(account, order_id)
            order.status = OrderStatus.CANCELLED
            order.listed_open = None  # see set_order_status
            order.updated = self.clock()
            self._push_order(order)
            return order

    def modify(
        self,
        account: Account,
        order_id: Any,
        size: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> Order:
        with self.lock:
            order = self._open_order(account, order_id)
            spec = self.contracts[order.contract_id]
            if size is not None and size <= 0:
                raise Refused(ErrorCode.ORDER_REJECTED, "size must be positive")
            for px in (limit_price, stop_price):
                if px is not None and px % spec.tick_size != 0:
                    raise Refused(ErrorCode.ORDER_REJECTED, f"price {px} is off the tick grid")
            if size is not None:
                order.size = size
            if limit_price is not None and order.type == OrderType.LIMIT:
                order.limit_price = limit_price
            if stop_price is not None and order.type == OrderType.STOP:
                order.stop_price = stop_price
            order.updated = self.clock()
            self._push_order(order)
            self._try_fill(order, self.prices[order.contract_id], placing=True)
            return order

    def close_position(self, account: Account, contract_id: Any, size: int | None) -> Order:
        with self.lock:
            spec = self.contract(contract_id)
            position = self.positions.get((account.id, spec.id))
            if position is None or position.net == 0:
                raise Refused(ErrorCode.POSITION_NOT_FOUND, f"No open position in {spec.id}")
            qty = abs(position.net) if size is None else size
            if qty <= 0 or qty > abs(position.net):
                raise Refused(ErrorCode.ORDER_REJECTED, f"size {qty} exceeds the position")
            side = OrderSide.ASK if position.net > 0 else OrderSide.BID
            return self.place(
                account, spec.id, OrderType.MARKET, side, qty, None, None, None, "api"
            )

    def _open_order(self, account: Account, order_id: Any) -> Order:
        order = self.orders.get(order_id) if isinstance(order_id, int) else None
        if order is None or order.account_id != account.id:
            raise Refused(ErrorCode.ORDER_NOT_FOUND, f"Order not found: {order_id!r}")
        if not order.is_open:
            raise Refused(ErrorCode.ORDER_REJECTED, f"Order {order_id} is not open")
        return order

    # ------------------------------------------------------------------ prices and matching

    def set_price(self, contract_id: str, price: Decimal, volume: int = 0) -> None:
        with self.lock:
            spec = self.contract(contract_id)
            self.prices[spec.id] = price
            self.volumes[spec.id] += volume
            self.emit("market", ("quotes", spec.id), "GatewayQuote", [spec.id, self.quote(spec)])
            for order in [o for o in self.orders.values() if o.contract_id == spec.id]:
                if order.is_open:
                    self._try_fill(order, price, placing=False)

    def quote(self, spec: ContractSpec) -> dict[str, Any]:
        price, opened = self.prices[spec.id], self.opens[spec.id]
        change = price - opened
        now = iso(self.clock())
        return {
            "symbol": spec.symbol_id,
            "symbolName": "/" + spec.symbol_id.rsplit(".", 1)[-1],
            "lastPrice": num(price),
            "bestBid": num(price),
            "bestAsk": num(price),
            "change": num(change),
            "changePercent": float(change / opened * 100) if opened else 0.0,
            "open": num(opened),
            "high": num(max(price, opened)),
            "low": num(min(price, opened)),
            "volume": self.volumes[spec.id],
            "lastUpdated": now,
            "timestamp": now,
        }

    def _try_fill(self, order: Order, price: Decimal, placing: bool) -> None:
        buy = order.side == OrderSide.BID
        if order.type == OrderType.MARKET:
            self._fill(order, price)
        elif order.type == OrderType.LIMIT:
            assert order.limit_price is not None
            if (price <= order.limit_price) if buy else (price >= order.limit_price):
                # marketable on arrival: at the market; a resting limit: at its own price
                self._fill(order, price if placing else order.limit_price)
        elif order.type == OrderType.STOP:
            assert order.stop_price is not None
            if (price >= order.stop_price) if buy else (price <= order.stop_price):
                self._fill(order, price)

    def _fill(self, order: Order, price: Decimal) -> None:
        spec = self.contracts[order.contract_id]
        account = self.accounts[order.account_id]
        now = self.clock()
        order.status = OrderStatus.FILLED
        order.listed_open = None
        order.fill_volume = order.size
        order.filled_price = price
        order.updated = now
        key = (account.id, spec.id)
        position = self.positions.get(key)
        if position is None:
            position = Position(self.next_id("position"), account.id, spec.id, now)
            self.positions[key] = position
        pnl = _apply_fill(position, spec, order.side, order.size, price)
        fees = spec.fee_per_contract * order.size
        trade = Trade(
            self.next_id("trade"), account.id, spec.id, now, price, pnl, fees,
            order.side, order.size, order.id,
        )  # fmt: skip
        self.trades.append(trade)
        account.balance += (pnl or 0) - fees
        self.volumes[spec.id] += order.size
        self._push_order(order)
        self.emit("user", ("trades", account.id), "GatewayUserTrade", [trade.wire()])
        self.emit("user", ("positions", account.id), "GatewayUserPosition", [position.wire()])
        if position.net == 0:
            del self.positions[key]  # searchOpen lists open positions only
        self.push_account(account)

    def _push_order(self, order: Order) -> None:
        self.emit("user", ("orders", order.account_id), "GatewayUserOrder", [order.wire()])

    def push_account(self, account: Account) -> None:
        self.emit("user", ("accounts", account.id), "GatewayUserAccount", [account.wire()])

    # ------------------------------------------------------------------ queries

    def open_orders(self, account_id: int) -> list[Order]:
        return [o for o in self.orders.values() if o.account_id == account_id and o.is_open]

    def orders_between(self, account_id: int, start: float, end: float | None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.account_id == account_id
            and start <= o.created
            and (end is None or o.created <= end)
        ]

    def trades_between(self, account_id: int, start: float, end: float | None) -> list[Trade]:
        return [
            t
            for t in self.trades
            if t.account_id == account_id
            and start <= t.created
            and (end is None or t.created <= end)
        ]

    def open_positions(self, account_id: int) -> list[Position]:
        return [p for (a, _), p in self.positions.items() if a == account_id and p.net != 0]

    def add_bars(
        self, contract_id: str, unit: int, unit_number: int, bars: Iterable[dict[str, Any]]
    ) -> None:
        with self.lock:
            self.contract(contract_id)
            stored = self.bars.setdefault((contract_id, unit, unit_number), [])
            by_t = {b["t"]: b for b in stored}
            by_t.update({b["t"]: b for b in bars})
            stored[:] = sorted(by_t.values(), key=lambda b: b["t"])


_ID_STARTS = {"account": 1001, "order": 5001, "position": 7001, "trade": 9001}


def _apply_fill(
    position: Position, spec: ContractSpec, side: OrderSide, qty: int, price: Decimal
) -> Decimal | None:
    """Net the fill into the position; the realised P&L of the part that closes, or None."""
    signed = qty if side == OrderSide.BID else -qty
    if position.net == 0 or (position.net > 0) == (signed > 0):
        total = abs(position.net) + qty
        position.average_price = (abs(position.net) * position.average_price + qty * price) / total
        position.net += signed
        return None
    closed = min(qty, abs(position.net))
    direction = 1 if position.net > 0 else -1
    ticks = (price - position.average_price) / spec.tick_size
    pnl = ticks * spec.tick_value * closed * direction
    position.net += -direction * closed
    rest = qty - closed
    if rest:  # the fill reversed the position: the remainder opens at the fill price
        position.net = rest if signed > 0 else -rest
        position.average_price = price
    elif position.net == 0:
        position.average_price = Decimal(0)
    return pnl
