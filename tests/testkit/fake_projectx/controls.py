"""Test-side controls of the fake ProjectX: users and accounts, prices and bars, the human
trader on the broker's web platform, fault injection and inspection. Mixed into
``FakeProjectX``; every method is thread-safe (it takes the state lock)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .state import Refused
from .wire import BarUnit, OrderSide, OrderType, iso, num

if TYPE_CHECKING:
    from .auth import RateLimiter, Tokens
    from .signalr import Hubs
    from .state import VenueState

__all__ = ["Controls", "WebTrader"]

_D = Decimal | int | str
_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET, "stop": OrderType.STOP}
_SIDES = {"buy": OrderSide.BID, "sell": OrderSide.ASK}
_UNIT_S = {BarUnit.SECOND: 1, BarUnit.MINUTE: 60, BarUnit.HOUR: 3600, BarUnit.DAY: 86400}


def _dec(value: _D | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class WebTrader:
    """A person trading the account by hand in the broker's web platform: the orders bypass
    the API (no token, no rate limit) but reach the user hub exactly like API orders."""

    def __init__(self, state: VenueState) -> None:
        self.state = state

    def place_order(
        self,
        account_id: int,
        contract_id: str,
        type: str,
        side: str,
        size: int,
        limit_price: _D | None = None,
        stop_price: _D | None = None,
    ) -> int:
        """Place ``type`` ("market" | "limit" | "stop") ``side`` ("buy" | "sell"); the order id."""
        with self.state.lock:
            account = self.state.accounts[account_id]
            order = self.state.place(
                account, contract_id, _TYPES[type], _SIDES[side], size,
                _dec(limit_price), _dec(stop_price), None, "web",
            )  # fmt: skip
            return order.id

    def cancel_order(self, account_id: int, order_id: int) -> None:
        with self.state.lock:
            self.state.cancel(self.state.accounts[account_id], order_id)

    def modify_order(
        self, account_id: int, order_id: int, size: int | None = None,
        limit_price: _D | None = None, stop_price: _D | None = None,
    ) -> None:  # fmt: skip
        with self.state.lock:
            account = self.state.accounts[account_id]
            self.state.modify(account, order_id, size, _dec(limit_price), _dec(stop_price))

    def flatten(self, account_id: int, contract_id: str) -> None:
        """The platform's "close position" button."""
        with self.state.lock, contextlib.suppress(Refused):  # nothing to close
            self.state.close_position(self.state.accounts[account_id], contract_id, None)


class Controls:
    state: VenueState
    tokens: Tokens
    hubs: Hubs
    limiter: RateLimiter
    requests: list[tuple[str, Any, int]]
    _failures: list[list[Any]]
    _after: list[list[Any]]
    refusing_websockets: bool

    def __init__(self) -> None:
        self.web = WebTrader(self.state)

    # ------------------------------------------------------------------ users and accounts

    def add_user(self, user: str, api_key: str) -> None:
        """Credentials ``Auth/loginKey`` accepts (userName, apiKey)."""
        self.state.add_user(user, api_key)

    def add_account(
        self,
        user: str,
        name: str,
        balance: _D = 50_000,
        can_trade: bool = True,
        active: bool = True,
    ) -> int:
        return self.state.add_account(user, name, Decimal(str(balance)), can_trade, active)

    def set_can_trade(self, account_id: int, can_trade: bool) -> None:
        with self.state.lock:
            account = self.state.accounts[account_id]
            account.can_trade = can_trade
            self.state.push_account(account)

    def set_balance(self, account_id: int, balance: _D) -> None:
        with self.state.lock:
            account = self.state.accounts[account_id]
            account.balance = Decimal(str(balance))
            self.state.push_account(account)

    # ------------------------------------------------------------------ market

    def set_price(self, contract_id: str, price: _D, volume: int = 0) -> None:
        """New last/bid/ask: pushes GatewayQuote, fills crossed limits, triggers stops."""
        self.state.set_price(contract_id, Decimal(str(price)), volume)

    def price(self, contract_id: str) -> Decimal:
        with self.state.lock:
            return self.state.prices[contract_id]

    def push_market_trade(
        self, contract_id: str, price: _D, volume: int, side: str = "buy"
    ) -> None:
        """A GatewayTrade print (TradeLogType 0 buy / 1 sell) to the contract's subscribers."""
        tick = {
            "symbolId": self.state.contract(contract_id).symbol_id,
            "price": num(Decimal(str(price))),
            "timestamp": iso(self.state.clock()),
            "type": 0 if side == "buy" else 1,
            "volume": volume,
        }
        with self.state.lock:
            self.state.emit(
                "market", ("trades", contract_id), "GatewayTrade", [contract_id, [tick]]
            )

    def push_depth(self, contract_id: str, entries: list[dict[str, Any]]) -> None:
        """A GatewayDepth update: ``entries`` as the venue sends them (timestamp, type, price,
        volume, currentVolume); the fake keeps no book of its own."""
        with self.state.lock:
            self.state.contract(contract_id)
            self.state.emit(
                "market", ("depth", contract_id), "GatewayDepth", [contract_id, entries]
            )

    def add_bars(
        self, contract_id: str, unit: int, unit_number: int, bars: Iterable[dict[str, Any]]
    ) -> None:
        """Store bars (``t`` as epoch seconds, o/h/l/c as numbers, v) for retrieveBars."""
        self.state.add_bars(contract_id, unit, unit_number, bars)

    def generate_bars(
        self,
        contract_id: str,
        unit: int,
        unit_number: int,
        start_s: float,
        count: int,
        seed: int = 0,
    ) -> list[dict[str, Any]]:
        """A deterministic random walk on the tick grid from the contract's price; stored."""
        spec = self.state.contract(contract_id)
        step = _UNIT_S[BarUnit(unit)] * unit_number
        rng = random.Random(seed)
        price = self.price(contract_id)
        bars = []
        for i in range(count):
            o = price
            c = o + spec.tick_size * rng.randint(-4, 4)
            h = max(o, c) + spec.tick_size * rng.randint(0, 2)
            low = min(o, c) - spec.tick_size * rng.randint(0, 2)
            bars.append(
                {
                    "t": start_s + i * step,
                    "o": o,
                    "h": h,
                    "l": low,
                    "c": c,
                    "v": rng.randint(1, 500),
                }
            )
            price = c
        self.add_bars(contract_id, unit, unit_number, bars)
        return bars

    # ------------------------------------------------------------------ faults

    def expire_tokens(self) -> int:
        """Every issued token is expired from now on: REST answers 401, hubs refuse it; an
        ``Auth/validate`` with it still returns a new token (as the docs describe)."""
        with self.state.lock:
            return self.tokens.expire_all()

    def revoke_tokens(self) -> None:
        """Every issued token dies for good (validate too): only a new loginKey works."""
        with self.state.lock:
            self.tokens.revoke_all()

    def set_token_lifetime(self, seconds: float) -> None:
        """Lifetime of tokens issued from now on (24 h by default)."""
        with self.state.lock:
            self.tokens.lifetime_s = seconds

    def fail_next(self, n: int = 1, status: int = 500, path: str | None = None) -> None:
        """The next ``n`` REST requests (to ``path``, any case, or any) get ``status``."""
        with self.state.lock:
            self._failures.append([n, status, None if path is None else path.lower()])

    def fail_after_next(self, n: int = 1, status: int = 500, path: str | None = None) -> None:
        """The next ``n`` REST requests (to ``path``, any case, or any) are carried out, then
        answered with ``status`` instead of their reply (a 5xx applied at the venue)."""
        with self.state.lock:
            self._after.append([n, status, 0.0, None if path is None else path.lower()])

    def delay_next(self, seconds: float, n: int = 1, path: str | None = None) -> None:
        """The next ``n`` REST requests (to ``path`` or any) are carried out at once and
        answered ``seconds`` later (past a client's timeout: an unknown outcome)."""
        with self.state.lock:
            self._after.append([n, None, seconds, None if path is None else path.lower()])

    def set_rate_limit(self, bucket: str, limit: int, window_s: float) -> None:
        """Override a documented limit ("bars" or "general") and restart its windows."""
        with self.state.lock:
            self.limiter.limits[bucket] = (limit, window_s)
            self.limiter.clear()

    def refuse_websockets(self, refuse: bool = True) -> None:
        self.refusing_websockets = refuse

    def silence_hubs(self, silent: bool = True) -> None:
        """Stop (or resume) hub pushes while connections stay open (completions still flow)."""
        with self.state.lock:
            self.hubs.silenced = silent

    def set_order_status(
        self, account_id: int, order_id: int, status: int, *, listed_open: bool = True
    ) -> None:
        """Give an order a ``status`` value the real gateway may send and the fake never sets:
        the Swagger-only 7 and 8 (meaning undocumented), or a value no document lists (a
        gateway newer than its docs). The order event is pushed, and searchOpen lists the
        order (``listed_open``) from then on; the fake does nothing else with it."""
        with self.state.lock:
            order = self.state.orders[order_id]
            assert order.account_id == account_id, f"order {order_id} is not account {account_id}'s"
            order.status = status  # type: ignore[assignment]  # any int, as the wire carries
            order.listed_open = listed_open
            order.updated = self.state.clock()
            self.state.emit("user", ("orders", account_id), "GatewayUserOrder", [order.wire()])

    # ------------------------------------------------------------------ inspection

    def orders(self, account_id: int) -> list[dict[str, Any]]:
        """Every order of the account in its wire shape, plus ``origin`` ("api" | "web")."""
        with self.state.lock:
            return [
                {**o.wire(), "origin": o.origin}
                for o in self.state.orders.values()
                if o.account_id == account_id
            ]

    def open_orders(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return [o.wire() for o in self.state.open_orders(account_id)]

    def positions(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return [p.wire() for p in self.state.open_positions(account_id)]

    def trades(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return [t.wire() for t in self.state.trades if t.account_id == account_id]

    def balance(self, account_id: int) -> Decimal:
        with self.state.lock:
            return self.state.accounts[account_id].balance

    def request_count(self, path: str | None = None) -> int:
        with self.state.lock:
            if path is None:
                return len(self.requests)
            return sum(1 for p, _, _ in self.requests if p.lower() == path.lower())

    def hub_connections(self, hub: str | None = None) -> int:
        with self.state.lock:
            return sum(1 for c in self.hubs.connections if hub is None or c.hub == hub)

    def hub_invocations(self, hub: str | None = None) -> list[tuple[str, list[Any]]]:
        """What clients invoked on the hubs: (target, arguments)."""
        with self.state.lock:
            return [(t, a) for h, _, t, a in self.hubs.invocations if hub is None or h == hub]

    def hub_subscriptions(self, hub: str | None = None) -> set[tuple[Any, ...]]:
        with self.state.lock:
            return {
                k
                for c in self.hubs.connections
                if hub is None or c.hub == hub
                for k in c.subscriptions
            }

    def pushed(self, hub: str | None = None, target: str | None = None) -> list[list[Any]]:
        """Arguments of every server invocation sent (once per receiving connection)."""
        with self.state.lock:
            return [
                a
                for h, t, a in self.hubs.pushed
                if (hub is None or h == hub) and (target is None or t == target)
            ]

    def reset(self) -> None:
        """Forget users, accounts, orders, tokens, counters and faults; restore prices and drop
        every hub connection. The server keeps running on the same port."""
        drop = getattr(self, "drop_connections", None)
        if drop is not None and getattr(self, "_thread", None) is not None:
            drop()
        with self.state.lock:
            self.state.reset()
            self.tokens.issued.clear()
            self.limiter.clear()
            self.hubs.clear()
            self.requests.clear()
            self._failures.clear()
            self._after.clear()
            self.refusing_websockets = False
