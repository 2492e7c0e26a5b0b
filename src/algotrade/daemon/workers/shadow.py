"""A bot that runs in a worker process, as the daemon holds it (``BotShadow``).

The daemon keeps, for each such bot, what its API, listings, writer and WebSocket need, and
the rest happens in the worker: commands are forwarded to the bot's actor there, the activity
it books comes back to be stored by the daemon's writer (and only then published, as for a
bot of the daemon's own), state changes are stored by the daemon before the worker's command
returns. The status is built here by the daemon's ``build_status`` from the committed books
the worker sends with each activity, valued at the last price of the bot's sim stream.

A bot reaches its worker on its first command (start, a config change...): thousands of
stored bots that are never started cost the workers nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from algotrade.core.money import to_decimal
from algotrade.core.portfolio import Portfolio
from algotrade.daemon.activity_publish import publish_committed
from algotrade.daemon.bot_books import BooksView
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bot_handle import Command
from algotrade.daemon.bot_market import DayOpenEquity
from algotrade.daemon.bot_status import build_status
from algotrade.daemon.bus import EventBus
from algotrade.daemon.service_api import ShuttingDown
from algotrade.daemon.status import BotState, BotStatus
from algotrade.daemon.status_board import StatusChanges
from algotrade.daemon.workers.wire import PeerClosed
from algotrade.store.records import Activity

if TYPE_CHECKING:
    from algotrade.daemon.risk_service import RiskService
    from algotrade.daemon.workers.pool import StreamRelay, WorkerLink

_log = logging.getLogger("algotrade.daemon.workers")
_ACTIVE = frozenset({BotState.RUNNING, BotState.PAUSED})


class _Marks:
    """The prices a shadow's status values its positions at (``Portfolio.mark``'s role): its
    stream's last close while it has one, else the marks it was restored with."""

    __slots__ = ("_restored", "_shadow")

    def __init__(self, shadow: BotShadow, restored: Portfolio) -> None:
        self._shadow = shadow
        self._restored = {s: restored.mark(s) for s in restored.positions}

    def mark(self, symbol: str) -> Decimal:
        close = self._shadow.last_price
        if close is not None and symbol == self._shadow.config.symbol:
            return to_decimal(close)
        return self._restored.get(symbol, Decimal(0))


class BotShadow:
    """The daemon's side of a bot hosted by a worker process (duck-typed as ``BotActor``
    where the service, the writer and the status board use one)."""

    engine = None  # the engine lives in the worker; its order count comes with each activity
    blocked: str | None = None  # paper bots on sim prices: no venue reconciliation blocks them

    def __init__(
        self,
        config: BotConfig,
        link: WorkerLink,
        *,
        bus: EventBus,
        changes: StatusChanges,
        risk: RiskService | None,
        state: BotState = BotState.STOPPED,
        runtime: dict[str, Any] | None = None,
        portfolio: Portfolio,
        order_count: int = 0,
        fill_count: int = 0,
        last_fill_ts: int | None = None,
        day_open_equity: Decimal | None = None,
    ) -> None:
        self.config = config
        self.link = link
        self._bus = bus
        self._changes = changes
        self.account_risk = risk  # never guards this bot's account (see pool.hosts)
        self.state = state
        self.runtime: dict[str, Any] = dict(runtime or {})
        self.last_error: str | None = self.runtime.get("last_error")
        self.order_count = order_count
        self.committed_books = BooksView.of(portfolio, fill_count, last_fill_ts)
        self.portfolio = _Marks(self, portfolio)
        opening = config.initial_capital if day_open_equity is None else day_open_equity
        self.day_open = DayOpenEquity(opening, time.time_ns())
        # Everything the worker's actor is built from, until it is sent there.
        self._birth: dict[str, Any] | None = {
            "runtime": dict(self.runtime),
            "portfolio": portfolio,
            "order_count": order_count,
            "fill_count": fill_count,
            "last_fill_ts": last_fill_ts,
            "day_open_equity": day_open_equity,
        }
        self._adopting: asyncio.Future[Any] | None = None
        self.relay: StreamRelay | None = None
        self._subscribed_at = 0  # the relay's handled bars when this bot subscribed
        self._heartbeat_ns: int | None = None  # as of its last bar, while it has no relay
        self._last_price: float | None = None
        # Activity the worker booked, not yet taken by the writer: (records, books after them).
        self._pending: list[tuple[Activity, BooksView | None]] = []
        self._views_in_flight: dict[int, BooksView] = {}
        self._status: tuple[tuple[int, int], BotStatus] | None = None
        self._status_json: tuple[BotStatus, bytes] | None = None
        self._version = 0

    # ------------------------------------------------------------------ commands
    def start_task(self) -> None:
        """Nothing to start here: the bot's task runs in its worker."""

    async def submit(self, command: Command, payload: Any = None) -> Any:
        if command is Command.STATUS or (command is Command.SHUTDOWN and self._birth):
            return self.status()  # a bot never sent to its worker has nothing to shut down
        await self._reach_worker()
        config, state, order_count = await self._ask("command", command, payload)
        # The state itself came before this reply, in order (``mirror_state``); a later
        # command's may have come too: the caller is told the state its own command left.
        self.order_count = max(self.order_count, order_count)
        if command is Command.UPDATE_CONFIG:
            self.config = config
            self.status_changed()
            return config
        status = self.status()
        if status.state is not state:
            status = status.model_copy(update={"state": state})
        return status

    async def release(self) -> dict[str, Any]:
        """Take the bot's books back from its worker (it moves to the daemon's process)."""
        birth = self._birth
        if birth is not None:
            self._birth = None
            return birth
        books: dict[str, Any] = await self._ask("release")
        return books

    async def _reach_worker(self) -> None:
        birth = self._birth
        if birth is None:
            return
        # Two commands at once (a client's start, a reload) send the bot there once.
        if self._adopting is None:
            self._adopting = asyncio.ensure_future(
                self._ask("adopt", self.config, self.state, birth)
            )
        try:
            await asyncio.shield(self._adopting)
        except Exception:
            self._adopting = None  # the next command tries again
            raise
        self._birth = None

    def interrupt_start(self) -> None:
        if self._birth is None:
            self.link.tell("interrupt_start", self.config.bot_id)

    async def latest_bars(self, limit: int) -> list[dict[str, Any]]:
        if self._birth is not None:
            return []
        bars: list[dict[str, Any]] = await self._ask("recent_bars", limit)
        return bars

    async def _ask(self, kind: str, *args: Any) -> Any:
        """Ask the bot's worker (its id goes first); a worker gone is a daemon stopping."""
        try:
            return await self.link.ask(kind, self.config.bot_id, *args)
        except PeerClosed:
            raise ShuttingDown(
                f"bot '{self.config.bot_id}': its worker process ended; the daemon is stopping"
            ) from None

    # ------------------------------------------------------------------ from the worker
    def mirror_state(self, state: str, runtime: dict[str, Any]) -> None:
        """The worker's actor stored a new state (``persist_state``), or failed."""
        self.state, self.runtime = BotState(state), dict(runtime)
        self.last_error = runtime.get("last_error")
        self.status_changed()

    def booked(self, activity: Activity, books: BooksView | None, order_count: int) -> None:
        """Activity the worker's actor drained: stored by the daemon's writer from here."""
        self._pending.append((activity, books))
        if order_count > self.order_count:
            self.order_count = order_count
            self.status_changed()

    # ------------------------------------------------------------------ the writer's side
    def drain_activity(self) -> Activity:
        pending, self._pending = self._pending, []
        activity = merge_activities([a for a, _ in pending])
        views = [v for _, v in pending if v is not None]
        if views:
            self._views_in_flight[id(activity)] = views[-1]
        return activity

    def on_committed(self, activity: Activity) -> None:
        self.status_changed()
        view = self._views_in_flight.pop(id(activity), None)
        if view is not None:
            self.committed_books = view
        publish_committed(self._bus, self.config.bot_id, activity, self.status)

    def persistence_failed(self, exc: BaseException) -> None:
        self._views_in_flight.clear()
        if self._birth is None and not self.link.closed:
            self.link.tell("persistence_failed", self.config.bot_id, str(exc))

    # ------------------------------------------------------------------ market data
    @property
    def heartbeat_ns(self) -> int | None:
        relay = self.relay
        if relay is not None and relay.bars_handled > self._subscribed_at:
            return relay.handled_ns
        return self._heartbeat_ns

    @property
    def last_price(self) -> float | None:
        relay = self.relay
        if relay is not None and relay.bars_handled > self._subscribed_at:
            return relay.last_close
        return self._last_price

    def attach(self, relay: StreamRelay | None) -> None:
        """Subscribed to ``relay``'s stream (None: unsubscribed; its last bar stays shown)."""
        self._heartbeat_ns, self._last_price = self.heartbeat_ns, self.last_price
        self.relay = relay
        self._subscribed_at = relay.bars_handled if relay is not None else 0
        self.status_changed()

    # ------------------------------------------------------------------ status
    def status_changed(self) -> None:
        self._version += 1
        self._changes.count += 1

    def status(self) -> BotStatus:
        relay = self.relay
        key = (self._version, relay.bars_handled if relay is not None else -1)
        cached = self._status
        if cached is None or cached[0] != key:
            cached = self._status = (key, build_status(self))  # type: ignore[arg-type]
        return cached[1]

    def status_json(self) -> bytes:
        status = self.status()
        cached = self._status_json
        if cached is None or cached[0] is not status:
            cached = self._status_json = (status, status.__pydantic_serializer__.to_json(status))
        return cached[1]


def merge_activities(activities: list[Activity]) -> Activity:
    """Several drains of one bot as one activity, as if drained once: an order or position
    appears once with its latest record, the account its latest snapshot."""
    if len(activities) == 1:
        return activities[0]
    orders: dict[str, Any] = {}
    positions: dict[str, Any] = {}
    fills: list[Any] = []
    equity: list[Any] = []
    events: list[Any] = []
    account = None
    for activity in activities:
        for order in activity.orders:
            orders[order.client_order_id] = order
        for position in activity.positions:
            positions[position.symbol] = position
        fills.extend(activity.fills)
        equity.extend(activity.equity)
        events.extend(activity.events)
        if activity.account is not None:
            account = activity.account
    return Activity(list(orders.values()), fills, list(positions.values()), account, equity, events)
