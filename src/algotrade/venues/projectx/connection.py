"""``ProjectXConnection``: the daemon's one connection to a ProjectX Gateway account, shared
by every bot trading (or fed) through it.

It owns the REST client (``GatewayTransport`` + ``ProjectXHttp``: auth, renewal, rate
limits), the contract book, the SignalR user hub subscribed to the account (orders, trades,
positions, account) and the market hub (quotes of the contracts the bots trade), the shared
bar pollers of the bots' feeds, and the routing of what the venue reports to the bot venue
that owns each order: by ``customTag`` (our client order id, see ``venue.tag_for``) or by the
gateway's order id once known. Trades are de-duplicated by trade id across the hub, REST
searches and restarts (the ids booked lately come from the daemon's store).

A trade of an order no bot has claimed yet waits ``pending_claim_s`` (a restarting bot adopts
its orders a moment after the first reconciliation); after that it is foreign, reported, and
the position it made shows up as a mismatch. Reconciliation (``reconcile.py``) runs on start,
after every user-hub reconnect, periodically and on demand; blocking is fail-closed per
contract: a position mismatch, or an order whose outcome could not be found out, blocks every
bot trading that contract until a later reconciliation finds agreement.

The session token is renewed before it expires (``_keep_token``) even when no request is
due; the hubs reconnect with the new token (``hub.py``) and the reconnect's resync fills the gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from algotrade.core.errors import ConfigError, RetryableError
from algotrade.core.instruments import Instrument
from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.live.resume import StoredOrder
from algotrade.venues.live.tasks import TaskSet, reconcile_loop
from algotrade.venues.projectx.blocks import Blocks
from algotrade.venues.projectx.config import ProjectXCredentials
from algotrade.venues.projectx.contracts import ContractBook, load_contracts
from algotrade.venues.projectx.errors import ProjectXError
from algotrade.venues.projectx.feed import BarHub
from algotrade.venues.projectx.http import ProjectXHttp
from algotrade.venues.projectx.realtime import MarketHub, UserHub
from algotrade.venues.projectx.reconcile import Reconciler, ReconcileReport
from algotrade.venues.projectx.routing import OrderRouter
from algotrade.venues.projectx.schemas import (
    Account,
    Contract,
    Order,
    OrderSide,
    OrderType,
    Position,
    Quote,
    Trade,
)
from algotrade.venues.projectx.transport import GatewayTransport
from algotrade.venues.projectx.venue import ProjectXVenue

if TYPE_CHECKING:
    import httpx

    from algotrade.venues.projectx.factory import ProjectXVenueConfig
    from algotrade.venues.projectx.hub import ClientFactory
    from algotrade.venues.registry import VenueOwner

__all__ = ["ProjectXConnection", "pick_account", "to_datetime"]

_log = logging.getLogger("algotrade.venues.projectx")
NS = 1_000_000_000
CONTRACTS_REFRESH_S = 60.0  # an unknown symbol reloads the contract list at most this often
SEARCH_MARGIN_NS = 120 * NS  # order/trade searches start this long before an order's time


def to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, UTC)


def pick_account(accounts: list[Account], wanted: str | None, username: str) -> Account | None:
    """The account ``wanted`` names (id or name), or the only active one when none is named.
    ``ConfigError`` naming ``venues.projectx.account`` when it names none of them."""
    listed = ", ".join(f"{a.name} (id {a.id})" for a in accounts) or "none"
    if wanted is None:
        if len(accounts) == 1:
            return accounts[0]
        _log.warning(
            "projectx: %d active accounts for %s and venues.projectx.account is not set; "
            "bots cannot trade until it names one (%s)",
            len(accounts),
            username,
            listed,
        )
        return None
    key = wanted.strip()
    for account in accounts:
        if str(account.id) == key or account.name == key:
            return account
    raise ConfigError(
        f"venues.projectx.account: no active account '{wanted}' for {username} (active: {listed})"
    )


class ProjectXConnection:
    def __init__(
        self,
        config: ProjectXVenueConfig,
        credentials: ProjectXCredentials,
        owner: VenueOwner | None = None,
        *,
        since_ns: int | None = None,
        seen_trade_ids: Iterable[str] = (),
        open_orders: Sequence[StoredOrder] = (),
        http_transport: httpx.AsyncBaseTransport | None = None,
        client_factory: ClientFactory | None = None,
        name: str = "projectx",
    ) -> None:
        self.name = name  # the registry name (another one when a second account is registered)
        self.config = config
        self.credentials = credentials
        self.owner = owner
        self.transport = GatewayTransport(config, credentials, transport=http_transport)
        self.http = ProjectXHttp(self.transport)
        self.contracts = ContractBook()
        self.account: Account | None = None
        self.can_trade: bool | None = None
        self.user_hub = UserHub(
            config,
            self.transport,
            account_ids=[],
            on_account=self._on_account,
            on_order=self._route_order,
            on_position=self._on_position,
            on_trade=self._on_trade,
            on_resync=self._after_reconnect,
            client_factory=client_factory,
            on_unreadable_order=lambda p: self.blocks.report_unreadable(
                [p], self.contracts.name_of
            ),
        )
        self.user_hub.connection.on_disconnect = self._on_disconnect
        self.market_hub = MarketHub(
            config, self.transport, on_quote=self._on_quote, client_factory=client_factory
        )
        self.bars = BarHub(self)
        self.reconciler = Reconciler(self)
        self.blocks = Blocks(owner)
        self.router = OrderRouter(
            self.blocks,
            self.request_reconcile,
            since_ns=since_ns,
            seen_trade_ids=seen_trade_ids,
            owner=owner,
            open_orders=open_orders,
        )
        self._in_flight: Counter[str] = Counter()  # contract name → requests in flight
        self.venue_positions: dict[str, int] = {}  # contract id → signed size (hub)
        self.marks: dict[str, Decimal] = {}  # contract id → last price (market hub)
        self._tasks = TaskSet("projectx", _log)
        self._ready = asyncio.Event()
        self._reconcile_wanted = asyncio.Event()
        self._started = False
        self._told_down = False
        self._contracts_at = 0.0  # when the contract list was last (re)loaded (monotonic)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.http.start()
        await self.http.login()
        accounts = await self.http.search_accounts(only_active=True)
        self.account = pick_account(accounts, self.config.account, self.credentials.username)
        self.contracts.replace(await load_contracts(self.http, live=self.config.live))
        self._contracts_at = time.monotonic()
        if self.account is not None:
            self.router.account_id = self.account.id
            self.can_trade = self.account.can_trade
            await self.user_hub.add_account(self.account.id)
            if not self.account.can_trade:
                self.blocks.report(f"account {self.account.name} cannot trade now (canTrade false)")
        self.user_hub.start()
        self.market_hub.start()
        try:
            await self.user_hub.wait_connected(self.config.hub_connect_timeout_s)
        except TimeoutError:
            _log.warning("projectx: the user hub is not connected yet; it keeps trying")
        if self.account is not None:
            await self.reconcile("start")
            self._track(asyncio.get_running_loop().create_task(self._reconcile_loop()))
        self._track(asyncio.get_running_loop().create_task(self._keep_token()))
        self._ready.set()
        _log.info(
            "projectx connected as %s (account %s, %d contracts)",
            self.credentials.username,
            self.account.name if self.account else "none",
            len(self.contracts),
        )

    async def stop(self, timeout: float = 5.0) -> None:
        await self._tasks.cancel(timeout)
        await self.bars.stop(timeout)
        await self.user_hub.stop()
        await self.market_hub.stop()
        await self.http.close()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    # ------------------------------------------------------------------ for bots
    def contract(self, symbol: str) -> Contract:
        """The contract of a bot's symbol (``ValueError('symbol: …')`` if the venue has none;
        a refresh of the contract list is started so a retry may find a new listing)."""
        contract = self.contracts.find(symbol)
        due = time.monotonic() - self._contracts_at > CONTRACTS_REFRESH_S
        if contract is None and self._started and due:
            self._contracts_at = time.monotonic()
            self.spawn(self._refresh_contracts(), "projectx-contracts", None)
        contract = self.contracts.resolve(symbol)
        self.blocks.alias(contract.name, symbol)
        return contract

    async def look_up_contract(self, symbol: str) -> None:
        """Search the gateway for ``symbol`` when the loaded list lacks it: the docs promise
        ``Contract/search`` by name (up to 20 a reply) and ``searchById``, not that a list of
        every contract exists. What it finds joins the list; a failure is only logged (the
        bot's start then says the contract is unknown)."""
        if self.contracts.find(symbol) is not None:
            return
        try:
            found = await self.http.search_contracts(symbol.strip(), live=self.config.live)
            if symbol.strip().upper().startswith("CON."):  # a contract id
                found.append(await self.http.contract_by_id(symbol.strip()))
        except (ProjectXError, RetryableError) as exc:  # the bot's start names the symbol
            _log.warning("projectx: looking up contract %r failed: %s", symbol, exc)
            return
        self.contracts.replace(found)

    def instrument(self, symbol: str) -> Instrument:
        self.contract(symbol)
        return self.contracts.instrument(symbol)

    async def venue(
        self, bot_id: str, symbol: str, on_error: Callable[[BaseException], None] | None = None
    ) -> ProjectXVenue:
        if self.account is None:
            raise ConfigError(
                "venues.projectx.account: set the gateway account the bots trade (its id or "
                "name); several accounts are active for this user"
            )
        contract = self.contract(symbol)
        await self.market_hub.subscribe_quotes(contract.id)
        return ProjectXVenue(self, bot_id, symbol, contract, on_error)

    def blocked_reason(self, symbol: str) -> str | None:
        return self.blocks.reason(self.contracts.name_of(symbol))

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, contract: str | None) -> None:
        """Run ``coro`` as a tracked task; with ``contract``, reconciliation skips that
        contract's position until it is done (its outcome is not known yet)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        if contract is not None:
            self._in_flight[contract] += 1
            task.add_done_callback(lambda _t: self._in_flight.subtract([contract]))
        self._track(task)

    def in_flight(self) -> set[str]:
        return {name for name, n in self._in_flight.items() if n > 0}

    def now_ns(self) -> int:
        return time.time_ns()

    # ------------------------------------------------------------------ requests
    async def fetch_trades(self, since_ns: int) -> list[Trade]:
        """``Trade/search`` from ``since_ns``, learning the customTags of order ids not seen
        before (one ``Order/search``) so their trades can be routed, and asking the store about
        those older than the trade ids it gave (``OrderRouter.decide_older``)."""
        assert self.account is not None
        trades = await self.http.search_trades(
            account_id=self.account.id, start=to_datetime(since_ns)
        )
        unknown = self.router.unknown_order_ids(trades)
        if unknown:
            oldest = min(datetime_to_ns(t.creation_timestamp) for t in trades)
            for order in await self.search_orders(oldest - SEARCH_MARGIN_NS):
                if order.custom_tag:
                    self.router.note_order_id(order.id, order.custom_tag)
            self.router.searched(unknown)
        await self.router.decide_older(trades)
        return trades

    async def sync_trades(self, since_ns: int) -> int:
        """Search the trades since ``since_ns`` and route those not booked yet."""
        return self.router.route_trades(await self.fetch_trades(since_ns - SEARCH_MARGIN_NS))

    async def search_orders(self, since_ns: int) -> list[Order]:
        assert self.account is not None
        orders = await self.http.search_orders(
            account_id=self.account.id, start=to_datetime(since_ns)
        )
        self.blocks.report_unreadable(orders.unreadable, self.contracts.name_of)
        return orders

    async def find_order(self, tag: str, since_ns: int) -> Order | None:
        """The order carrying ``tag`` (our client order id), placed since ``since_ns``."""
        found = [
            o for o in await self.search_orders(since_ns - SEARCH_MARGIN_NS) if o.custom_tag == tag
        ]
        if not found:
            return None
        order = max(found, key=lambda o: (o.update_timestamp or o.creation_timestamp, o.id))
        self.router.note_order_id(order.id, tag)
        return order

    async def place(
        self,
        *,
        type: OrderType,
        side: OrderSide,
        size: int,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        contract_id: str,
        tag: str,
    ) -> int:
        assert self.account is not None
        return await self.http.place_order(
            account_id=self.account.id,
            contract_id=contract_id,
            type=type,
            side=side,
            size=size,
            limit_price=limit_price,
            stop_price=stop_price,
            custom_tag=tag,
        )

    async def cancel(self, order_id: int) -> None:
        assert self.account is not None
        await self.http.cancel_order(account_id=self.account.id, order_id=order_id)

    async def modify(
        self,
        order_id: int,
        *,
        size: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> None:
        assert self.account is not None
        await self.http.modify_order(
            account_id=self.account.id,
            order_id=order_id,
            size=size,
            limit_price=limit_price,
            stop_price=stop_price,
        )

    # ------------------------------------------------------------------ hub events
    def _route_order(self, order: Order) -> None:
        self.router.on_order(order)

    def _on_trade(self, trade: Trade) -> None:
        self.router.route_trades([trade])

    def _on_position(self, position: Position) -> None:
        if self.account is None or position.account_id != self.account.id:
            return
        if position.signed_size:
            self.venue_positions[position.contract_id] = position.signed_size
        else:
            self.venue_positions.pop(position.contract_id, None)

    def _on_account(self, account: Account) -> None:
        if self.account is None or account.id != self.account.id:
            return
        if account.can_trade != self.can_trade:
            self.can_trade = account.can_trade
            state = "can trade again" if account.can_trade else "cannot trade (canTrade false)"
            self.blocks.report(f"account {account.name} {state}")

    def _on_quote(self, quote: Quote) -> None:
        if quote.last_price is not None:
            self.marks[quote.contract_id] = quote.last_price

    def _on_disconnect(self, reason: str) -> None:
        self._told_down = True
        if self.owner is not None:
            self.owner.connection_changed(False, f"ProjectX user hub disconnected: {reason}")

    async def _after_reconnect(self) -> None:
        if self.account is not None:
            try:
                await self.reconcile("reconnect")
            except Exception:  # logged; the periodic run tries again
                _log.exception("projectx: reconciliation after a reconnect failed")
        if self.owner is not None and self._told_down:  # not after a token rotation
            self._told_down = False
            self.owner.connection_changed(True, "ProjectX user hub reconnected")

    # ------------------------------------------------------------------ background
    def request_reconcile(self) -> None:
        self._reconcile_wanted.set()

    async def reconcile(self, reason: str) -> ReconcileReport:
        report = await self.reconciler.run(reason)
        self.router.forget_old()
        return report

    async def _reconcile_loop(self) -> None:
        await reconcile_loop(
            self._reconcile_wanted,
            self.reconcile,
            self.config.reconcile_interval_s or None,
            label="projectx",
            log=_log,
        )

    async def _keep_token(self) -> None:
        """Renew the session token before it expires even when no request would: the hubs
        then reconnect with the new one (renewal-driven, not expiry-driven)."""
        margin = self.config.token_renew_margin_s
        while True:
            expires = self.transport.token_expires_at
            wait = 60.0 if expires is None else expires - margin - time.time()
            await asyncio.sleep(min(max(wait, 0.5), 3600.0))
            try:
                await self.transport.token()
            except Exception as exc:  # logged; tried again shortly
                _log.warning("projectx: renewing the session token failed: %s", exc)
                await asyncio.sleep(10.0)

    async def _refresh_contracts(self) -> None:
        try:
            self.contracts.replace(await load_contracts(self.http, live=self.config.live))
        except Exception as exc:
            _log.warning("projectx: reloading the contract list failed: %s", exc)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)

    # ------------------------------------------------------------------ status
    def snapshot(self) -> dict[str, Any]:
        report = self.reconciler.last_report
        account = self.account
        return {
            "venue": self.name,
            "network": self.config.api_url,
            "account": None if account is None else account.name,
            "account_id": None if account is None else account.id,
            "can_trade": self.can_trade,
            "connected": self.user_hub.connected,
            "market_connected": self.market_hub.connected,
            "contracts": len(self.contracts),
            "reconciles": self.reconciler.runs,
            "reconcile_failures": self.reconciler.failures,
            "last_reconcile": None if report is None else report.as_dict(),
            "blocked": self.blocks.blocked,
            "pending_fills": len(self.router.pending_trades()),
            "positions": {
                self.contracts.name_of(cid): size for cid, size in self.venue_positions.items()
            },
            "alerts": list(self.blocks.alerts),
            "bots": self.owner.bot_ids() if self.owner is not None else [],
            "counters": {
                "logins": self.transport.logins,
                "token_renewals": self.transport.renewals,
                "user_hub_connects": self.user_hub.connection.connects,
                "market_hub_connects": self.market_hub.connection.connects,
                "hub_token_rotations": self.user_hub.connection.rotations
                + self.market_hub.connection.rotations,
                "bar_requests": self.bars.requests,
            },
        }
