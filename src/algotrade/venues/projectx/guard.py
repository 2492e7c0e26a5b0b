"""The account guard's view of one ProjectX account (TopstepX): everything that happens on it,
whoever trades it, and the means to enforce the risk rules there.

``watch_account(config, account, sink)`` logs in (credentials from the environment, as for
every ProjectX connection), finds the account by id or name, and then:

- subscribes the user hub to the account (orders, positions, trades, account) and reports
  every event to the ``sink`` (the daemon's risk engine) as it arrives;
- reports what exists now: the trades since ``sink.history_start_ns()`` (the start of the
  account's trading day; the sink counts each trade id once, so a restart mid-session misses
  nothing and counts nothing twice), the open positions and the open orders;
- after every hub reconnect, fills the gap over REST (trades since the newest one seen, the
  positions and open orders as they are now), retrying until it succeeds. Hub events that
  arrive while such a sync runs are held and applied after it, so a REST snapshot never
  overwrites a newer event;
- keeps the session token fresh (``Auth/validate`` before expiry, checked every minute), so
  the hubs reconnect with a valid token; a hub refused with 401 renews it and reconnects;
- streams market-hub quotes of the contracts the account holds to the sink (``on_mark``);
- gives each contract's multiplier (tick value / tick size) to the sink the first time the
  account touches it.

Symbols are contract names (``EPZ25``), as for ProjectX bots (``contracts.ContractBook``).
Enforcement: ``cancel_orders`` (one order, or every open order of a symbol or of the account,
optionally keeping the orders that only reduce a position) and ``close_position``
(``Position/closeContract``, or ``partialCloseContract`` for part of it). Both read the
account's orders and positions over REST first, so they act on the venue's state, never on a
stale copy: a close never sends more than is held. ``docs/account-guard.md`` has the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from algotrade.core.errors import ConfigError, RetryableError
from algotrade.venues.projectx import guard_enforce as enforce
from algotrade.venues.projectx.config import (
    ENV_API_KEY,
    ENV_USERNAME,
    ProjectXConfig,
    ProjectXCredentials,
    load_credentials,
)
from algotrade.venues.projectx.contracts import VENUE, ContractBook, load_contracts
from algotrade.venues.projectx.errors import ProjectXError, ProjectXRequestFailed
from algotrade.venues.projectx.guard_records import (
    is_reducing,
    ns,
    order_side,
    order_status,
    order_type,
    quote_price,
    signed_size,
    utc,
)
from algotrade.venues.projectx.http import ProjectXHttp
from algotrade.venues.projectx.pnl import TickSpec
from algotrade.venues.projectx.realtime import MarketHub, UserHub
from algotrade.venues.projectx.schemas import Account, Order, Position, Quote, Trade
from algotrade.venues.projectx.transport import GatewayTransport
from algotrade.venues.registry import WatchedAccount, WatchedAccountSink

__all__ = ["ProjectXAccountGuard", "ProjectXAccountNotFound", "watch_account"]

_log = logging.getLogger(__name__)

ZERO = Decimal(0)
MONITOR_S = 0.25  # how often the hub connection is looked at
TOKEN_CHECK_S = 60.0  # how often the session token's expiry is looked at
PROBE_AFTER_S = 1.0  # a user hub down this long: is our token still good?
PROBE_EVERY_S = 5.0
RESYNC_MARGIN_NS = 120_000_000_000  # trades are asked again from this long before the newest
RESYNC_BACKOFF_MAX_S = 30.0


class ProjectXAccountNotFound(ProjectXError):
    """The account to watch is not among the login's accounts."""


async def watch_account(
    config: ProjectXConfig, account: str, sink: WatchedAccountSink
) -> WatchedAccount:
    """Start watching the ProjectX account ``account`` (its id or name) for the risk engine.

    ``ConfigError`` when no credentials are configured (nothing was tried); a
    ``ProjectXError`` or ``RetryableError`` when the venue refused or could not be reached
    (the caller may try again later)."""
    credentials = load_credentials()
    if credentials is None:
        raise ConfigError(
            f"watching ProjectX account '{account}' needs credentials: set {ENV_USERNAME} and "
            f"{ENV_API_KEY} (or their *_FILE variants)"
        )
    guard = ProjectXAccountGuard(config, credentials, account, sink)
    try:
        await guard.start()
    except BaseException:
        await guard.stop()
        raise
    return guard


Apply = Callable[[], Awaitable[None]]


class ProjectXAccountGuard:
    """One watched account: ``start()`` connects and reports, ``stop()`` ends it."""

    def __init__(
        self,
        config: ProjectXConfig,
        credentials: ProjectXCredentials,
        account: str,
        sink: WatchedAccountSink,
    ) -> None:
        self.config = config
        self.account_ref = account.strip()
        self._sink = sink
        self._transport = GatewayTransport(config, credentials)
        self._http = ProjectXHttp(self._transport)
        self._book = ContractBook()
        self._account: Account | None = None
        self._user: UserHub | None = None
        self._market: MarketHub | None = None
        self._positions: dict[str, Decimal] = {}  # contract name → signed size
        self._contract_ids: dict[str, str] = {}  # contract name → contract id
        self._open: dict[int, Order] = {}
        self._trades: set[int] = set()  # reported in this session (the sink dedupes for good)
        self._newest_trade_ns = 0
        self._marks: dict[str, Decimal] = {}
        self._reported: set[str] = set()  # contract ids whose multiplier the sink has
        self._sync_lock = asyncio.Lock()
        self._syncing = False
        self._held: list[Apply] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected = False  # as last told to the sink
        self._can_trade = True
        self.last_event_ns: int | None = None
        self.syncs = 0
        self.cancels = 0
        self.closes = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self._http.start()
        account = await self._resolve_account()
        self._account, self._can_trade = account, account.can_trade
        try:
            self._book.replace(await load_contracts(self._http))
        except (ProjectXError, RetryableError) as exc:  # looked up one by one instead
            _log.warning("projectx guard: cannot list contracts (%s); looking up by id", exc)
        self._user = UserHub(
            self.config,
            self._transport,
            account_ids=[account.id],
            on_account=self._on_account,
            on_order=self._on_order,
            on_position=self._on_position,
            on_trade=self._on_trade,
            on_resync=self._on_reconnect,
        )
        self._market = MarketHub(self.config, self._transport, on_quote=self._on_quote)
        self._user.start()
        self._market.start()
        wait_s = float(self.config.hub_connect_timeout_s * 2)
        try:
            await self._user.wait_connected(wait_s)
        except TimeoutError:
            error = self._user.connection.last_error or "no answer"
            raise ProjectXRequestFailed(
                f"the user hub did not connect within {wait_s:.0f} s ({error})"
            ) from None
        await self._sync()
        self._status(connected=True, reason="")
        self._spawn(self._monitor(), "monitor")
        _log.info(
            "projectx guard: watching account %s (id %d): %d positions, %d open orders",
            account.name,
            account.id,
            sum(1 for q in self._positions.values() if q),
            len(self._open),
        )

    async def stop(self, timeout: float = 5.0) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for hub in (self._user, self._market):
            if hub is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(hub.stop(), timeout)
        await self._http.close()

    def _spawn(self, work: Awaitable[None], what: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"projectx-guard-{what}:{self.account_ref}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve_account(self) -> Account:
        accounts = await self._http.search_accounts(only_active=False)
        ref = self.account_ref
        exact = [a for a in accounts if ref in (str(a.id), a.name)]
        loose = [a for a in accounts if a.name.casefold() == ref.casefold()]
        if exact or loose:
            return (exact or loose)[0]
        names = ", ".join(a.name for a in accounts[:10]) or "none"
        raise ProjectXAccountNotFound(
            f"account '{ref}' is not an account of this login at {self.config.api_url} "
            f"(its accounts: {names})"
        )

    def _require_account(self) -> Account:
        if self._account is None:
            raise ProjectXError("the account guard has not started")
        return self._account

    # ------------------------------------------------------------------ hub events
    async def _on_order(self, order: Order) -> None:
        await self._event(order.account_id, lambda: self._order(order))

    async def _on_trade(self, trade: Trade) -> None:
        await self._event(trade.account_id, lambda: self._trade(trade))

    async def _on_position(self, position: Position) -> None:
        await self._event(position.account_id, lambda: self._position(position))

    async def _on_account(self, account: Account) -> None:
        if self._account is None or account.id != self._account.id:
            return
        if account.can_trade != self._can_trade:
            self._can_trade = account.can_trade
            reason = "" if account.can_trade else "the venue says the account cannot trade"
            self._sink.on_status(
                connected=self._connected, can_trade=account.can_trade, reason=reason
            )

    async def _event(self, account_id: int, apply: Apply) -> None:
        if self._account is None or account_id != self._account.id:
            return
        self.last_event_ns = time.time_ns()
        if self._syncing:  # applied once the REST snapshot being taken is in
            self._held.append(apply)
            return
        await apply()

    async def _order(self, order: Order) -> None:
        symbol = await self._symbol(order.contract_id)
        if order.status.is_final:
            self._open.pop(order.id, None)
        else:
            self._open[order.id] = order
        self._sink.on_order(
            order_id=str(order.id),
            symbol=symbol,
            side=order_side(order.side),
            type=order_type(order.type),
            qty=Decimal(order.size),
            status=order_status(order.status),
            price=order.limit_price,
            stop_price=order.stop_price,
            reduce_only=is_reducing(order, self._positions.get(symbol, ZERO)),
            ts_ns=ns(order.update_timestamp or order.creation_timestamp),
        )

    async def _trade(self, trade: Trade) -> None:
        if trade.voided or trade.id in self._trades:
            return
        self._trades.add(trade.id)
        ts = ns(trade.creation_timestamp)
        self._newest_trade_ns = max(self._newest_trade_ns, ts)
        self._sink.on_fill(
            trade_id=str(trade.id),
            order_id=str(trade.order_id),
            symbol=await self._symbol(trade.contract_id),
            side=order_side(trade.side),
            qty=Decimal(trade.size),
            price=trade.price,
            fee=trade.fees,
            realized_pnl=trade.profit_and_loss,
            ts_ns=ts,
        )

    async def _position(self, position: Position) -> None:
        symbol = await self._symbol(position.contract_id)
        qty = signed_size(position)
        await self._set_position(symbol, qty, position.average_price if qty else ZERO)

    async def _set_position(self, symbol: str, qty: Decimal, avg_price: Decimal) -> None:
        if qty:
            self._positions[symbol] = qty
        else:
            self._positions.pop(symbol, None)
        self._sink.on_position(symbol=symbol, qty=qty, avg_price=avg_price, ts_ns=time.time_ns())
        contract_id = self._contract_ids.get(symbol)
        market = self._market
        if market is not None and contract_id is not None:
            if qty:
                await market.subscribe_quotes(contract_id)
            else:
                await market.unsubscribe_quotes(contract_id)
                self._marks.pop(symbol, None)

    async def _on_quote(self, quote: Quote) -> None:
        contract = self._book.by_id(quote.contract_id)
        price = quote_price(quote)
        if contract is None or price is None or contract.name not in self._positions:
            return
        if self._marks.get(contract.name) != price:
            self._marks[contract.name] = price
            self._sink.on_mark(contract.name, price)

    async def _symbol(self, contract_id: str) -> str:
        """The contract's name; its multiplier goes to the sink the first time it is seen."""
        contract = self._book.by_id(contract_id)
        if contract is None:
            try:
                contract = await self._http.contract_by_id(contract_id)
            except (ProjectXError, RetryableError) as exc:
                _log.warning("projectx guard: contract %s unknown (%s)", contract_id, exc)
                return contract_id
            self._book.add(contract)
        self._contract_ids[contract.name] = contract.id
        if contract.id not in self._reported:
            self._reported.add(contract.id)
            self._sink.set_multipliers({contract.name: TickSpec.of(contract).multiplier})
        return contract.name

    # ------------------------------------------------------------------ REST sync
    async def _sync(self) -> None:
        """Report the account as the REST API shows it now; hub events meanwhile wait."""
        async with self._sync_lock:
            self._syncing = True
            try:
                await self._snapshot()
            finally:
                while self._held:  # events that arrived during the sync, in their order
                    apply = self._held.pop(0)
                    try:
                        await apply()
                    except Exception:
                        _log.exception("projectx guard: applying a held hub event failed")
                self._syncing = False
            self.syncs += 1

    async def _snapshot(self) -> None:
        account_id = self._require_account().id
        since = max(self._sink.history_start_ns(), self._newest_trade_ns - RESYNC_MARGIN_NS)
        trades = await self._http.search_trades(account_id=account_id, start=utc(since))
        positions = await self._http.search_open_positions(account_id=account_id)
        orders = await self._http.search_open_orders(account_id=account_id)
        for trade in sorted(trades, key=lambda t: (t.creation_timestamp, t.id)):
            await self._trade(trade)
        held: set[str] = set()
        for position in positions:
            await self._position(position)
            if signed_size(position):
                held.add(await self._symbol(position.contract_id))
        for symbol in [s for s in self._positions if s not in held]:
            await self._set_position(symbol, ZERO, ZERO)
        self._open = {}
        for order in orders:
            await self._order(order)
        self._sink.on_synced(open_orders=[str(o) for o in self._open], positions=sorted(held))

    async def _on_reconnect(self) -> None:
        """The user hub is back: fill the gap in the background (retrying until it worked),
        so the hub goes on delivering (and noticing drops) meanwhile."""
        self._spawn(self._resync_until_done(), "resync")

    async def _resync_until_done(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._sync()
            except Exception as exc:
                _log.warning("projectx guard: gap fill after a reconnect failed (%s); retry", exc)
                self._status(connected=False, reason=f"gap fill failed: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESYNC_BACKOFF_MAX_S)
                continue
            self._status(connected=True, reason="")
            return

    # ------------------------------------------------------------------ connection
    def _status(self, *, connected: bool, reason: str) -> None:
        if connected != self._connected:
            self._connected = connected
            self._sink.on_status(connected=connected, can_trade=self._can_trade, reason=reason)

    async def _monitor(self) -> None:
        """Connection drops go to the sink at once; the session token is renewed before it
        expires. While the user hub stays down the token is checked over REST (a 401 renews
        it) and, if it was renewed, the hubs start over with it: a hub whose handshake is
        refused keeps retrying its stale token otherwise."""
        token_due = time.monotonic() + TOKEN_CHECK_S
        down_since: float | None = None
        probe_due = 0.0
        while True:
            await asyncio.sleep(MONITOR_S)
            now = time.monotonic()
            user = self._user
            if user is not None and not user.connected:
                if self._connected:
                    error = user.connection.last_error or "connection lost"
                    self._status(connected=False, reason=f"user hub disconnected: {error}")
                down_since = down_since or now
                if now - down_since >= PROBE_AFTER_S and now >= probe_due:
                    probe_due = now + PROBE_EVERY_S
                    await self._probe_token()
            else:
                down_since = None
            if now >= token_due:
                token_due = now + TOKEN_CHECK_S
                try:
                    await self._transport.token()  # renews with Auth/validate when due
                except Exception as exc:
                    _log.warning("projectx guard: session token renewal failed: %s", exc)

    async def _probe_token(self) -> None:
        transport = self._transport
        issued = transport.logins + transport.renewals
        try:
            await self._http.search_accounts(only_active=False)
        except Exception as exc:  # the venue is unreachable: the hubs keep trying
            _log.info("projectx guard: the gateway does not answer either (%s)", exc)
            return
        if transport.logins + transport.renewals == issued:
            return
        _log.info("projectx guard: session token renewed while the hubs were down; reconnecting")
        for hub in (self._user, self._market):
            if hub is not None:
                await hub.connection.stop()
                hub.connection.start()

    # ------------------------------------------------------------------ enforcement
    async def cancel_orders(
        self, symbol: str | None, order_id: str | None = None, *, keep_protective: bool = False
    ) -> int:
        account_id = self._require_account().id
        done = await enforce.cancel_orders(
            self._http, account_id, self._symbol, symbol, order_id, keep_protective
        )
        self.cancels += done
        return done

    async def close_position(self, symbol: str, qty: Decimal | None = None) -> Decimal:
        account_id = self._require_account().id
        contract = self._book.find(self._contract_ids.get(symbol, symbol))
        if contract is None:
            raise ProjectXError(f"close {symbol}: no such contract")
        sent = await enforce.close_position(self._http, account_id, contract.id, qty)
        self.closes += 1 if sent else 0
        return sent

    # ------------------------------------------------------------------ views
    def position(self, symbol: str) -> Decimal:
        return self._positions.get(symbol, ZERO)

    def snapshot(self) -> dict[str, Any]:
        account, user, market = self._account, self._user, self._market
        return {
            "venue": VENUE,
            "account": self.account_ref,
            "venue_account_id": None if account is None else account.id,
            "venue_account_name": None if account is None else account.name,
            "connected": bool(user is not None and user.connected and self._connected),
            "market_connected": bool(market is not None and market.connected),
            "can_trade": self._can_trade,
            "last_event_ns": self.last_event_ns,
            "reconnects": 0 if user is None else max(0, user.connection.connects - 1),
            "syncs": self.syncs,
            "token_renewals": self._transport.renewals,
            "last_error": None if user is None else user.connection.last_error,
            "positions": {s: str(q) for s, q in sorted(self._positions.items())},
            "open_orders": len(self._open),
            "cancels": self.cancels,
            "closes": self.closes,
        }
