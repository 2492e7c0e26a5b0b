"""State of the fake Hyperliquid: accounts, orders, positions, fills and the matching rules.

Every public method takes ``lock`` (a re-entrant lock), so the test thread and the server's
event loop may both call in. Pushes for WebSocket subscribers go through ``emit(key, message)``
while the lock is held, so they leave in the order the state changed.

Matching is deliberately simple: each coin has a mid set by the test and unlimited synthetic
liquidity at bid = mid - half_spread and ask = mid + half_spread. A marketable order fills in
full at the touch (taker); a resting limit fills at its own price (maker) once a new mid crosses
it; trigger orders trigger on the mid.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from .orders import Account, Order
from .wire import AssetSpec, fmt, fmt_opt, make_hash

__all__ = ["DEFAULT_ASSETS", "MARKET_MAKER", "Emit", "ExchangeState"]

Emit = Callable[[tuple[str, ...], dict[str, Any]], None]

DEFAULT_ASSETS: tuple[AssetSpec, ...] = (
    AssetSpec("BTC", 5, 50, Decimal("65000")),
    AssetSpec("ETH", 4, 50, Decimal("3000")),
    AssetSpec("SOL", 2, 20, Decimal("150")),
)
#: The counterparty of every fill (the synthetic liquidity).
MARKET_MAKER = "0x" + "00" * 19 + "01"
_USDC = Decimal("0.000001")
_BOOK_SIZE = Decimal(1000)


def _noop_emit(key: tuple[str, ...], message: dict[str, Any]) -> None:
    del key, message


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ExchangeState:
    def __init__(
        self,
        assets: Sequence[AssetSpec] = DEFAULT_ASSETS,
        *,
        half_spread: Decimal = Decimal(0),
        taker_fee: Decimal = Decimal("0.00035"),
        maker_fee: Decimal = Decimal("0.0001"),
        enforce_margin: bool = False,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.lock = threading.RLock()
        self.assets = list(assets)
        self.index = {a.name: i for i, a in enumerate(self.assets)}
        self.half_spread = Decimal(half_spread)
        self.taker_fee = Decimal(taker_fee)
        self.maker_fee = Decimal(maker_fee)
        self.enforce_margin = enforce_margin
        self.clock = clock
        self.emit: Emit = _noop_emit
        self.reset()

    def reset(self) -> None:
        """Back to the initial mids with no accounts, orders, fills or candles."""
        with self.lock:
            self.mids = {a.name: Decimal(a.mid) for a in self.assets}
            self.prev_day = dict(self.mids)
            self.accounts: dict[str, Account] = {}
            self.signers: dict[str, str] = {}  # signer (user or agent) → user, lower-case
            self.orders: dict[int, Order] = {}
            self.by_cloid: dict[tuple[str, str], int] = {}  # (user, cloid) → latest oid
            self.cloid_requests: Counter[str] = Counter()
            self._oids = itertools.count(1_000_001)
            self._tids = itertools.count(500_000_001)
            self.candles: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
            # The real venue may leave ``cloid`` out of a fill (fills stream, snapshot, query).
            self.fill_cloids = True
            # The docs' frontendOpenOrders example has neither ``cloid`` nor ``tif``.
            self.open_order_cloids = True
            # Candles per candleSnapshot reply: the docs' 500 for time-range replies.
            self.candle_reply_cap = 500

    # ------------------------------------------------------------------ accounts

    def add_account(
        self, user: str, agents: Iterable[str] = (), balance: Decimal = Decimal(0)
    ) -> Account:
        with self.lock:
            key = user.lower()
            account = self.accounts.get(key)
            if account is None:
                account = self.accounts[key] = Account(key, Decimal(balance))
            else:
                account.balance = Decimal(balance)
            self.signers[key] = key
            for agent in agents:
                self.signers[agent.lower()] = key
            return account

    def account(self, user: str) -> Account:
        """The account of ``user``, created empty when unknown (info requests never fail)."""
        key = user.lower()
        account = self.accounts.get(key)
        if account is None:
            account = self.accounts[key] = Account(key, Decimal(0))
        return account

    def asset(self, coin: str) -> AssetSpec:
        try:
            return self.assets[self.index[coin]]
        except KeyError:
            raise KeyError(f"unknown coin {coin!r}") from None

    # ------------------------------------------------------------------ prices and book

    def bbo(self, coin: str) -> tuple[Decimal, Decimal]:
        mid = self.mids[coin]
        return mid - self.half_spread, mid + self.half_spread

    def crosses(self, coin: str, is_buy: bool, px: Decimal) -> bool:
        bid, ask = self.bbo(coin)
        return px >= ask if is_buy else px <= bid

    def book(self, coin: str) -> dict[str, Any]:
        """L2 book: the synthetic touch plus every resting limit order, best first."""
        bid, ask = self.bbo(coin)
        sides: list[dict[Decimal, list[Decimal]]] = [{bid: [_BOOK_SIZE]}, {ask: [_BOOK_SIZE]}]
        for order in self.orders.values():
            if order.coin == coin and order.is_open and not order.waiting_for_trigger:
                sides[0 if order.is_buy else 1].setdefault(order.limit_px, []).append(order.sz)
        levels = []
        for i, side in enumerate(sides):
            prices = sorted(side, reverse=(i == 0))[:20]
            levels.append(
                [{"px": fmt(p), "sz": fmt(sum(side[p])), "n": len(side[p])} for p in prices]
            )
        return {"coin": coin, "time": self.clock(), "levels": levels}

    def all_mids(self) -> dict[str, str]:
        return {name: fmt(px) for name, px in self.mids.items()}

    def set_mid(self, coin: str, px: Decimal) -> None:
        """Move the mid, push ``allMids`` and ``l2Book``, then fill and trigger what now crosses."""
        with self.lock:
            self.asset(coin)
            self.mids[coin] = Decimal(px)
            self.emit(("allMids",), {"channel": "allMids", "data": {"mids": self.all_mids()}})
            self.emit(("l2Book", coin), {"channel": "l2Book", "data": self.book(coin)})
            self.match(coin)

    def match(self, coin: str) -> None:
        """Fill resting limits the touch has crossed (maker, at their price); run triggers."""
        now = self.clock()
        for order in sorted(
            (o for o in self.orders.values() if o.coin == coin and o.is_open),
            key=lambda o: o.oid,
        ):
            if not order.is_open:
                continue
            if order.waiting_for_trigger:
                if self.trigger_hit(order):
                    self.fire_trigger(order, now)
            elif self.crosses(coin, order.is_buy, order.limit_px):
                self.execute(order, order.limit_px, crossed=False, now=now)

    def trigger_hit(self, order: Order) -> bool:
        mid = self.mids[order.coin]
        trigger = order.trigger_px
        assert trigger is not None
        rises = (order.tpsl == "sl") == order.is_buy  # sl buy / tp sell fire on a rise
        return mid >= trigger if rises else mid <= trigger

    def fire_trigger(self, order: Order, now: int) -> None:
        order.triggered = True
        self.set_status(order, "triggered", now)
        if order.is_market:
            bid, ask = self.bbo(order.coin)
            self.execute(order, ask if order.is_buy else bid, crossed=True, now=now)
        else:
            order.tif = "Gtc"
            if self.crosses(order.coin, order.is_buy, order.limit_px):
                bid, ask = self.bbo(order.coin)
                self.execute(order, ask if order.is_buy else bid, crossed=True, now=now)

    # ------------------------------------------------------------------ order life cycle

    def new_order(self, user: str, asset_index: int, **fields: Any) -> Order:
        now = self.clock()
        order = Order(
            oid=next(self._oids),
            user=user,
            asset_index=asset_index,
            asset=self.assets[asset_index],
            timestamp=now,
            status_ts=now,
            **fields,
        )
        self.orders[order.oid] = order
        if order.cloid is not None:
            self.by_cloid[(user, order.cloid.lower())] = order.oid
        return order

    def set_status(self, order: Order, status: str, now: int | None = None) -> None:
        order.status = status
        order.status_ts = self.clock() if now is None else now
        self.emit(
            ("orderUpdates", order.user), {"channel": "orderUpdates", "data": [order.update()]}
        )

    def reducible(self, user: str, coin: str, is_buy: bool) -> Decimal:
        """How much a reduce-only order on this side may still trade (0: it would increase)."""
        szi = self.account(user).position(coin).szi
        if (is_buy and szi < 0) or (not is_buy and szi > 0):
            return abs(szi)
        return Decimal(0)

    def execute(self, order: Order, px: Decimal, *, crossed: bool, now: int) -> Decimal:
        """Fill what remains of ``order`` at ``px``; returns the size filled."""
        sz = order.sz
        if order.reduce_only:
            sz = min(sz, self.reducible(order.user, order.coin, order.is_buy))
            if sz <= 0:
                self.set_status(order, "reduceOnlyCanceled", now)
                return Decimal(0)
        self._fill(order, px, sz, crossed, now)
        order.sz -= sz
        if order.sz <= 0:
            self.set_status(order, "filled", now)
        elif order.reduce_only:
            self.set_status(order, "reduceOnlyCanceled", now)
        return sz

    def _fill(self, order: Order, px: Decimal, sz: Decimal, crossed: bool, now: int) -> None:
        account = self.account(order.user)
        position = account.position(order.coin)
        start = position.szi
        delta = sz if order.is_buy else -sz
        reducing = start != 0 and (start > 0) != (delta > 0)
        closed_qty = min(abs(start), sz) if reducing else Decimal(0)
        closed_pnl = Decimal(0)
        if closed_qty:
            entry = position.entry_px or px
            closed_pnl = (closed_qty * (px - entry) * (1 if start > 0 else -1)).quantize(_USDC)
        new = start + delta
        if not reducing:
            old = abs(start) * (position.entry_px or px)
            position.entry_px = (old + sz * px) / (abs(start) + sz)
            direction = "Open Long" if order.is_buy else "Open Short"
        elif new == 0:
            position.entry_px = None
            direction = "Close Long" if start > 0 else "Close Short"
        elif (new > 0) == (start > 0):
            direction = "Close Long" if start > 0 else "Close Short"
        else:
            position.entry_px = px
            direction = "Long > Short" if start > 0 else "Short > Long"
        position.szi = new
        fee = (px * sz * (self.taker_fee if crossed else self.maker_fee)).quantize(_USDC)
        account.balance += closed_pnl - fee
        tid = next(self._tids)
        fill: dict[str, Any] = {
            "coin": order.coin,
            "px": fmt(px),
            "sz": fmt(sz),
            "side": order.side,
            "time": now,
            "startPosition": fmt(start),
            "dir": direction,
            "closedPnl": fmt(closed_pnl),
            "hash": make_hash("fill", order.oid, tid),
            "oid": order.oid,
            "crossed": crossed,
            "fee": fmt(fee),
            "tid": tid,
            "feeToken": "USDC",
        }
        if order.cloid is not None and self.fill_cloids:
            fill["cloid"] = order.cloid
        account.fills.append(fill)
        user = account.address
        self.emit(
            ("userFills", user), {"channel": "userFills", "data": {"user": user, "fills": [fill]}}
        )
        self.emit(("userEvents", user), {"channel": "user", "data": {"fills": [fill]}})
        aggressor_buys = order.is_buy == crossed
        buyer, seller = (user, MARKET_MAKER) if order.is_buy else (MARKET_MAKER, user)
        trade = {
            "coin": order.coin,
            "side": "B" if aggressor_buys else "A",
            "px": fmt(px),
            "sz": fmt(sz),
            "hash": fill["hash"],
            "time": now,
            "tid": tid,
            "users": [buyer, seller],
        }
        self.emit(("trades", order.coin), {"channel": "trades", "data": [trade]})

    # ------------------------------------------------------------------ test controls

    def set_position(
        self, user: str, coin: str, szi: Decimal, entry_px: Decimal | None = None
    ) -> None:
        with self.lock:
            self.asset(coin)
            position = self.account(user).position(coin)
            position.szi = Decimal(szi)
            position.entry_px = None if position.szi == 0 else Decimal(entry_px or self.mids[coin])

    def place_resting_order(
        self,
        user: str,
        coin: str,
        side: str,
        px: Decimal,
        sz: Decimal,
        cloid: str | None = None,
        reduce_only: bool = False,
    ) -> int:
        """A Gtc limit placed outside the client (no validation, never filled on placement)."""
        with self.lock:
            is_buy = side.lower() in ("b", "buy", "bid", "long")
            order = self.new_order(
                user.lower(),
                self.index[coin],
                is_buy=is_buy,
                limit_px=Decimal(px),
                orig_sz=Decimal(sz),
                sz=Decimal(sz),
                reduce_only=reduce_only,
                tif="Gtc",
                cloid=cloid,
            )
            self.set_status(order, "open")
            return order.oid

    def push_trade(self, coin: str, px: Decimal, sz: Decimal, side: str = "B") -> None:
        """A market trade between two strangers (``trades`` channel only)."""
        with self.lock:
            now = self.clock()
            tid = next(self._tids)
            wire_side = "B" if side.lower() in ("b", "buy") else "A"
            trade = {
                "coin": coin,
                "side": wire_side,
                "px": fmt(Decimal(px)),
                "sz": fmt(Decimal(sz)),
                "hash": make_hash("trade", tid),
                "time": now,
                "tid": tid,
                "users": [MARKET_MAKER, "0x" + "00" * 19 + "02"],
            }
            self.emit(("trades", coin), {"channel": "trades", "data": [trade]})

    # ------------------------------------------------------------------ candles

    def add_candles(self, coin: str, interval: str, candles: Iterable[dict[str, Any]]) -> None:
        with self.lock:
            store = self.candles.setdefault((coin, interval), {})
            for candle in candles:
                store[int(candle["t"])] = dict(candle)

    def publish_candle(self, candle: dict[str, Any]) -> None:
        with self.lock:
            coin, interval = candle["s"], candle["i"]
            self.candles.setdefault((coin, interval), {})[int(candle["t"])] = candle
            self.emit(("candle", coin, interval), {"channel": "candle", "data": candle})

    def candle_snapshot(
        self, coin: str, interval: str, start: int, end: int, limit: int = 5000
    ) -> list[dict[str, Any]]:
        store = self.candles.get((coin, interval), {})
        times = sorted(t for t in store if start <= t <= end)[:limit]
        return [store[t] for t in times]

    # ------------------------------------------------------------------ account views

    def clearinghouse(self, user: str) -> dict[str, Any]:
        account = self.account(user)
        positions = []
        ntl = upnl_total = margin = maint = signed_ntl = Decimal(0)
        for coin, pos in account.positions.items():
            if pos.szi == 0:
                continue
            asset = self.asset(coin)
            mark = self.mids[coin]
            kind, lev = account.leverage_of(asset)
            entry = pos.entry_px or mark
            value = abs(pos.szi) * mark
            upnl = pos.szi * (mark - entry)
            used = value / lev
            ntl += value
            signed_ntl += pos.szi * mark
            upnl_total += upnl
            margin += used
            maint += value / (2 * asset.max_leverage)
            roe = upnl / (abs(pos.szi) * entry / lev) if entry else Decimal(0)
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": coin,
                        "szi": fmt(pos.szi),
                        "entryPx": fmt_opt(pos.entry_px),
                        "positionValue": fmt(value.quantize(_USDC)),
                        "unrealizedPnl": fmt(upnl.quantize(_USDC)),
                        "returnOnEquity": fmt(roe.quantize(Decimal("1e-12"))),
                        "liquidationPx": None,
                        "leverage": {"type": kind, "value": lev},
                        "marginUsed": fmt(used.quantize(_USDC)),
                        "maxLeverage": asset.max_leverage,
                        "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                    },
                }
            )
        value = account.balance + upnl_total
        summary = {
            "accountValue": fmt(value.quantize(_USDC)),
            "totalNtlPos": fmt(ntl.quantize(_USDC)),
            "totalRawUsd": fmt((value - signed_ntl).quantize(_USDC)),
            "totalMarginUsed": fmt(margin.quantize(_USDC)),
        }
        return {
            "assetPositions": positions,
            "marginSummary": summary,
            "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": fmt(maint.quantize(_USDC)),
            "withdrawable": fmt(max(Decimal(0), value - margin).quantize(_USDC)),
            "time": self.clock(),
        }

    def free_margin(self, user: str) -> Decimal:
        """Account value minus margin used by positions and resting (non-reduce-only) orders."""
        summary = self.clearinghouse(user)["marginSummary"]
        free = Decimal(summary["accountValue"]) - Decimal(summary["totalMarginUsed"])
        account = self.account(user)
        for order in self.orders.values():
            if order.user == account.address and order.is_open and not order.reduce_only:
                _, lev = account.leverage_of(order.asset)
                free -= order.sz * order.limit_px / lev
        return free
