"""One account's risk state: what the rules look at, persisted as JSON after every decision."""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from algotrade.core.portfolio import Position
from algotrade.risk.decisions import Lockout

ZERO = Decimal(0)
ONE = Decimal(1)
HOUR_NS = 3_600_000_000_000
MINUTE_NS = 60_000_000_000
MAX_TRADE_IDS = 100_000  # per trading day and account


@dataclass(slots=True)
class OpenOrder:
    symbol: str
    side: str
    type: str
    qty: Decimal
    stop_price: Decimal | None = None


@dataclass(slots=True)
class AccountRisk:
    account_id: str
    balance: Decimal = ZERO  # starting balance + all net realized PnL since
    peak_equity: Decimal = ZERO
    # The trading core's own position bookkeeping (average price, realized PnL, multiplier).
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)
    open_orders: dict[str, OpenOrder] = field(default_factory=dict)
    daily_realized: Decimal = ZERO  # net of fees, since the last daily reset
    daily_fees: Decimal = ZERO
    trades_today: int = 0
    trade_times: list[int] = field(default_factory=list)  # fills in the last hour, sorted
    unprotected_since: dict[str, int] = field(default_factory=dict)
    can_trade: bool = True
    connected: bool = True
    status_reason: str = ""
    in_session: bool | None = None
    last_reset_ts: int | None = None
    next_reset_ts: int | None = None
    trading_day: str = ""
    last_ts: int = 0
    lockouts: list[Lockout] = field(default_factory=list)
    enforcing: dict[str, int] = field(default_factory=dict)  # "rule:symbol" → ts requested
    # An admin unlock of a lock that lasts until the reset holds until that reset: without it
    # the next fill would trip the same daily limit again at once.
    overridden: dict[str, int] = field(default_factory=dict)  # rule → until ts
    # Money per point by symbol (ES 50): from accounts.yaml, or for a watched account from the
    # venue's contract specs (persisted then, so a restart values positions before it connects).
    multipliers: dict[str, Decimal] = field(default_factory=dict)
    venue_multipliers: dict[str, Decimal] = field(default_factory=dict)
    # Venue trade ids already counted (a watched account's fills are reported again after a
    # restart or a reconnect): this trading day's and the previous one's, in arrival order.
    trade_ids: dict[str, int] = field(default_factory=dict)
    trade_ids_prev: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ derived
    def qty(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.qty if position else ZERO

    def unrealized(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        mark = self.marks.get(symbol)
        if position is None or mark is None:
            return ZERO
        return position.unrealized_pnl(mark)

    def equity(self) -> Decimal:
        return self.balance + sum((self.unrealized(s) for s in self.positions), ZERO)

    def gross_contracts(self) -> Decimal:
        return sum((abs(p.qty) for p in self.positions.values()), ZERO)

    def net_contracts(self) -> Decimal:
        return abs(sum((p.qty for p in self.positions.values()), ZERO))

    def active_lockout(self, ts: int) -> Lockout | None:
        for lockout in self.lockouts:
            if lockout.active_at(ts):
                return lockout
        return None

    def is_protected(self, symbol: str) -> bool:
        qty = self.qty(symbol)
        closing_side = "sell" if qty > 0 else "buy"
        return any(
            o.symbol == symbol and o.type == "stop" and o.side == closing_side
            for o in self.open_orders.values()
        )

    def trades_in(self, ts: int, window_ns: int) -> int:
        # Sorted times: a binary search instead of a scan (this runs for every fill and order).
        return len(self.trade_times) - bisect_right(self.trade_times, ts - window_ns)

    def record_trade(self, ts: int) -> None:
        times = self.trade_times
        del times[: bisect_right(times, ts - HOUR_NS)]  # older than an hour: never counted
        insort(times, ts)

    # ------------------------------------------------------------------ bookkeeping
    def apply_fill(self, symbol: str, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Average-price bookkeeping; returns the gross PnL the fill realized."""
        position = self.positions.get(symbol) or self._position(symbol)
        realized = position.apply(signed_qty, price, ZERO)  # fees are counted per account
        self.set_position(symbol, position.qty, position.avg_price)
        return realized

    def set_position(self, symbol: str, qty: Decimal, avg: Decimal) -> None:
        if qty == 0:
            self.positions.pop(symbol, None)
        else:
            position = self.positions.get(symbol) or self._position(symbol)
            position.qty, position.avg_price = qty, avg
            self.positions[symbol] = position
        # A changed position ends any enforcement in flight for it.
        for key in [k for k in self.enforcing if k.endswith(f":{symbol}")]:
            del self.enforcing[key]

    def _position(self, symbol: str) -> Position:
        return Position(symbol, self.multipliers.get(symbol, ONE))

    def set_multipliers(self, multipliers: dict[str, Decimal]) -> None:
        """Money per point from the venue; positions held are revalued with it."""
        self.venue_multipliers.update(multipliers)
        self.multipliers.update(multipliers)
        for symbol, position in list(self.positions.items()):
            if symbol in multipliers and position.multiplier != multipliers[symbol]:
                qty, avg = position.qty, position.avg_price
                self.positions[symbol] = Position(symbol, multipliers[symbol], qty, avg)

    # ------------------------------------------------------------------ trade ids
    def seen_trade(self, trade_id: str) -> bool:
        return trade_id in self.trade_ids or trade_id in self.trade_ids_prev

    def note_trade(self, trade_id: str, ts: int) -> None:
        self.trade_ids[trade_id] = ts
        if len(self.trade_ids) > MAX_TRADE_IDS:  # never in practice: a bound, not a policy
            del self.trade_ids[next(iter(self.trade_ids))]

    def rotate_trade_ids(self) -> None:
        """At the daily reset: today's ids become the previous day's (kept one more day, for
        a venue whose trading day ends a little off ours)."""
        self.trade_ids_prev, self.trade_ids = self.trade_ids, {}

    def fill_order(self, order_id: str, qty: Decimal) -> None:
        """A fill of one of the open orders: it leaves the book once fully filled."""
        order = self.open_orders.get(order_id)
        if order is not None:
            order.qty -= qty
            if order.qty <= 0:
                del self.open_orders[order_id]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "balance": str(self.balance),
            "peak_equity": str(self.peak_equity),
            "positions": {s: [str(p.qty), str(p.avg_price)] for s, p in self.positions.items()},
            "marks": {s: str(m) for s, m in self.marks.items()},
            "open_orders": {
                oid: [o.symbol, o.side, o.type, str(o.qty), _opt(o.stop_price)]
                for oid, o in self.open_orders.items()
            },
            "daily_realized": str(self.daily_realized),
            "daily_fees": str(self.daily_fees),
            "trades_today": self.trades_today,
            "trade_times": list(self.trade_times),
            "unprotected_since": dict(self.unprotected_since),
            "can_trade": self.can_trade,
            "connected": self.connected,
            "status_reason": self.status_reason,
            "in_session": self.in_session,
            "last_reset_ts": self.last_reset_ts,
            "next_reset_ts": self.next_reset_ts,
            "trading_day": self.trading_day,
            "last_ts": self.last_ts,
            "enforcing": dict(self.enforcing),
            "overridden": dict(self.overridden),
            "venue_multipliers": {s: str(m) for s, m in self.venue_multipliers.items()},
            "trade_ids": dict(self.trade_ids),
            "trade_ids_prev": dict(self.trade_ids_prev),
        }

    @classmethod
    def from_dict(
        cls,
        account_id: str,
        data: dict[str, Any],
        lockouts: list[Lockout],
        multipliers: dict[str, Decimal] | None = None,
    ) -> AccountRisk:
        venue = {s: Decimal(m) for s, m in data.get("venue_multipliers", {}).items()}
        multipliers = {**(multipliers or {}), **venue}  # the venue knows best
        return cls(
            account_id=account_id,
            balance=Decimal(data["balance"]),
            peak_equity=Decimal(data["peak_equity"]),
            positions={
                s: Position(s, multipliers.get(s, ONE), Decimal(q), Decimal(a))
                for s, (q, a) in data["positions"].items()
            },
            multipliers=multipliers,
            marks={s: Decimal(m) for s, m in data["marks"].items()},
            open_orders={
                oid: OpenOrder(sym, side, kind, Decimal(q), Decimal(stop) if stop else None)
                for oid, (sym, side, kind, q, stop) in data["open_orders"].items()
            },
            daily_realized=Decimal(data["daily_realized"]),
            daily_fees=Decimal(data["daily_fees"]),
            trades_today=int(data["trades_today"]),
            trade_times=sorted(int(t) for t in data["trade_times"]),
            unprotected_since={s: int(t) for s, t in data["unprotected_since"].items()},
            can_trade=bool(data["can_trade"]),
            connected=bool(data["connected"]),
            status_reason=str(data["status_reason"]),
            in_session=data["in_session"],
            last_reset_ts=data["last_reset_ts"],
            next_reset_ts=data["next_reset_ts"],
            trading_day=str(data["trading_day"]),
            last_ts=int(data["last_ts"]),
            lockouts=list(lockouts),
            enforcing={k: int(v) for k, v in data.get("enforcing", {}).items()},
            overridden={k: int(v) for k, v in data.get("overridden", {}).items()},
            venue_multipliers=venue,
            trade_ids={str(k): int(v) for k, v in data.get("trade_ids", {}).items()},
            trade_ids_prev={str(k): int(v) for k, v in data.get("trade_ids_prev", {}).items()},
        )


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


__all__ = ["HOUR_NS", "MINUTE_NS", "AccountRisk", "OpenOrder"]
