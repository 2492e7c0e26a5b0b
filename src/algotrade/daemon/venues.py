"""Live venue connections shared by the daemon's bots, looked up by name in the registry.

A connection is made only when the first bot that needs it starts, so a daemon without live
bots never touches the network (nor imports the venue's package). The hub owns the
connections: for each venue it sums the positions of the bots trading there, blocks and
unblocks bots when reconciliation says so, and publishes alerts on the ``venues`` topic (also
kept for ``GET /api/venues``). Venue names never appear here: see ``venues/registry.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order
from algotrade.daemon.bot_config import BotConfig, is_live_feed, is_live_venue
from algotrade.daemon.bus import EventBus, Topic
from algotrade.store.store import Store
from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS
from algotrade.venues.live.resume import StoredOrder
from algotrade.venues.paper import PaperVenue, PaperVenueConfig
from algotrade.venues.registry import VenueConnection, get_venue, load_runtime, look_up_symbol

if TYPE_CHECKING:
    from algotrade.core.ports import ExecutionVenue
    from algotrade.daemon.actor import BotActor
    from algotrade.daemon.risk_service import RiskService

_log = logging.getLogger("algotrade.daemon.venues")


@runtime_checkable
class RecoversOrders(Protocol):
    """A live venue that can find orders sent under a bot's next ids but never recorded
    (a crash between sending and committing)."""

    async def unrecorded_orders(self, prefix: str, after_seq: int) -> list[Order]: ...


def live_venues_of(config: BotConfig) -> list[str]:
    """The registry venues a bot uses (as its feed, its execution venue, or both)."""
    names = [config.venue] if is_live_venue(config.venue) else []
    if is_live_feed(config.feed) and config.feed not in names:
        names.append(config.feed)
    return names


class VenueHub:
    def __init__(
        self,
        configs: Mapping[str, Any] | None,
        store: Store,
        bus: EventBus,
        bots: Callable[[], Iterable[BotActor]],
        risk: RiskService | None = None,
    ) -> None:
        """``configs``: venue name → its settings section (raw mapping or parsed model);
        a venue without one gets its defaults."""
        self._configs = dict(configs or {})
        self._store = store
        self._bus = bus
        self._bots = bots
        self._risk = risk
        self._connections: dict[str, VenueConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def connection(self, name: str) -> VenueConnection:
        """The venue's shared connection, started on first use."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            connection = self._connections.get(name)
            if connection is None:
                factory = get_venue(name)
                config = factory.parse_config(self._configs.get(name))
                await load_runtime(factory)
                connection = await factory.connect(config, _Owner(self, name))
                self._connections[name] = connection
            return connection

    def connected(self, name: str) -> VenueConnection | None:
        return self._connections.get(name)

    async def reconcile(self, venue: str) -> dict[str, Any]:
        connection = self._connections.get(venue)
        if connection is None:
            raise LookupError(f"venue '{venue}' is not connected")
        return await connection.reconcile()

    def status(self) -> list[dict[str, Any]]:
        return [self._connections[name].snapshot() for name in sorted(self._connections)]

    async def stop(self, timeout: float = 5.0) -> None:
        for connection in list(self._connections.values()):
            await connection.stop(timeout)

    # ------------------------------------------------------------------ account owner
    def bots_on(self, name: str) -> list[BotActor]:
        return [a for a in self._bots() if a.config.venue == name]

    async def latest_fills(self, name: str) -> tuple[int, list[str]]:
        bot_ids = [a.config.bot_id for a in self.bots_on(name)]
        window_ns = RESUME_WINDOW_MS * 1_000_000
        return await asyncio.to_thread(self._store.latest_fills, bot_ids, window_ns)

    async def stored_open_orders(self, name: str) -> list[StoredOrder]:
        bot_ids = [a.config.bot_id for a in self.bots_on(name)]
        records = await asyncio.to_thread(self._store.open_orders_of, bot_ids)
        return [StoredOrder(r.client_order_id, r.venue_order_id, r.created_ts) for r in records]

    async def booked_trade_ids(self, name: str, trade_ids: Sequence[str]) -> set[str]:
        bot_ids = [a.config.bot_id for a in self.bots_on(name)]
        return await asyncio.to_thread(self._store.booked_trade_ids, bot_ids, trade_ids)

    def connection_changed(self, name: str, connected: bool, reason: str) -> None:
        """Tell the risk engine (its account_status_guard) about every account trading on
        the venue; bots also see it in their log."""
        _log.warning("%s: %s", name, reason)
        risk = self._risk
        if risk is None:
            return
        for account_id in {a.config.account_id for a in self.bots_on(name)}:
            if risk.knows(account_id):
                risk.on_account_status(
                    account_id, can_trade=True, connected=connected, reason=reason
                )

    def alert(self, name: str, message: str) -> None:
        self._bus.publish(Topic.VENUES, None, {"kind": "alert", "venue": name, "message": message})


class _Owner:
    """The hub seen from one venue's connection (``registry.VenueOwner``)."""

    def __init__(self, hub: VenueHub, name: str) -> None:
        self._hub = hub
        self._name = name

    def bot_ids(self) -> list[str]:
        return [a.config.bot_id for a in self._hub.bots_on(self._name)]

    async def latest_fills(self) -> tuple[int, list[str]]:
        return await self._hub.latest_fills(self._name)

    async def stored_open_orders(self) -> list[StoredOrder]:
        return await self._hub.stored_open_orders(self._name)

    async def booked_trade_ids(self, trade_ids: Sequence[str]) -> set[str]:
        return await self._hub.booked_trade_ids(self._name, trade_ids)

    def local_positions(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for actor in self._hub.bots_on(self._name):
            for symbol, position in actor.portfolio.positions.items():
                if position.qty:
                    total[symbol] = total.get(symbol, Decimal(0)) + position.qty
        return total

    def set_blocked(self, symbol: str, reason: str | None) -> None:
        for actor in self._hub.bots_on(self._name):
            if actor.config.symbol == symbol:
                actor.set_blocked(reason)

    def alert(self, message: str) -> None:
        self._hub.alert(self._name, message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        self._hub.connection_changed(self._name, connected, reason)


async def build_bot_venue(
    config: BotConfig,
    hub: VenueHub | None,
    instruments: InstrumentRegistry,
    positions: dict[str, Decimal],
    on_error: Callable[[BaseException], None],
) -> tuple[ExecutionVenue, str | None]:
    """The execution venue of one bot and, for a live venue, why it is blocked (if it is).
    Instruments of a live venue (or of a live feed, for a paper bot) are added to
    ``instruments``; the paper venue starts from the bot's ``positions``."""
    names = live_venues_of(config)
    if names:
        if hub is None:
            raise RuntimeError("this daemon has no live venue connections")
        connection = await hub.connection(names[0])
        await look_up_symbol(connection, config.symbol)
        for instrument in connection.instruments(config.symbol):
            instruments.add(instrument)
        if is_live_venue(config.venue):
            blocked = connection.blocked_reason(config)
            venue = await connection.execution_venue(config, on_error)
            return venue, blocked
    paper = PaperVenueConfig(
        taker_fee_rate=config.commission,
        maker_fee_rate=config.commission,
        slippage_bps=config.slippage_bps,
    )
    return PaperVenue(paper, instruments, positions=positions), None
