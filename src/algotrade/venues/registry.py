"""Live venues by name: each venue package registers one ``VenueFactory``.

The daemon, its feeds, the CLI (``fetch-data``, ``venues``) and the API know venues only
through this module, so adding a venue never touches ``daemon/``. Built-in venues are listed
here by name → module path and imported on first use (a venue's heavy dependencies load only
when a bot or a command names it). Other packages add theirs in one of two ways:

* the ``algotrade.venues`` entry-point group: ``name = "package.module:factory"`` where
  ``factory`` is a ``VenueFactory`` instance (or a class or callable returning one);
* calling ``register_venue(name, factory)`` when their module is imported, and naming that
  module in the environment variable ``ALGOTRADE_VENUE_PLUGINS`` (comma-separated module
  paths), which is read the first time a venue is looked up — in every process, the daemon
  included.

``"sim"``, ``"replay"`` (feeds) and ``"paper"`` (the simulated execution venue) are built into
the daemon and are not registry entries. See docs/venues.md.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from algotrade.core.errors import ConfigError

if TYPE_CHECKING:
    from algotrade.core.events import Bar
    from algotrade.core.instruments import Instrument
    from algotrade.core.ports import ExecutionVenue
    from algotrade.venues.live.resume import StoredOrder

__all__ = [
    "BUILTIN_VENUES",
    "ENTRY_POINT_GROUP",
    "PLUGINS_ENV",
    "BotFeedHandle",
    "BotSpec",
    "HistoryCandle",
    "HistorySource",
    "VenueConnection",
    "VenueFactory",
    "VenueOwner",
    "WatchedAccount",
    "WatchedAccountSink",
    "get_venue",
    "load_runtime",
    "register_venue",
    "unregister_venue",
    "venue_names",
]

_log = logging.getLogger("algotrade.venues.registry")

ENTRY_POINT_GROUP = "algotrade.venues"
PLUGINS_ENV = "ALGOTRADE_VENUE_PLUGINS"
#: Venues shipped with algotrade: name → module that defines ``factory``. Imported lazily.
BUILTIN_VENUES: dict[str, str] = {
    "bybit": "algotrade.venues.ccxt.factory:bybit",
    "hyperliquid": "algotrade.venues.hyperliquid.factory",
    "projectx": "algotrade.venues.projectx.factory",
}


# ---------------------------------------------------------------------------- what a venue sees
class BotSpec(Protocol):
    """The parts of a bot's configuration a venue reads (``daemon.bot_config.BotConfig``)."""

    @property
    def bot_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> str: ...
    @property
    def feed(self) -> str: ...
    @property
    def venue(self) -> str: ...
    @property
    def feed_options(self) -> dict[str, Any]: ...
    @property
    def leverage(self) -> Decimal: ...
    @property
    def account_id(self) -> str: ...


class VenueOwner(Protocol):
    """What the daemon gives a venue's connection: the bots' side of the books on this venue,
    blocking, alerts and connection news for the risk engine."""

    def bot_ids(self) -> list[str]:
        """Ids of the bots whose execution venue is this venue."""

    async def latest_fills(self) -> tuple[int, list[str]]:
        """Newest booked fill time (ns, 0 for none) of those bots and the venue trade ids of
        every fill they booked within ``live.reconciliation.RESUME_WINDOW_MS`` before it, so a
        connection can ask the venue for what it missed while it was down."""

    async def stored_open_orders(self) -> list[StoredOrder]:
        """The orders the store holds open for those bots, oldest first: after a restart any
        of them may have filled while nothing was recorded."""

    async def booked_trade_ids(self, trade_ids: Sequence[str]) -> set[str]:
        """Which of these venue trade ids the store booked for those bots (any age)."""

    def local_positions(self) -> dict[str, Decimal]:
        """Summed signed position per symbol of every bot trading on this venue."""

    def set_blocked(self, symbol: str, reason: str | None) -> None:
        """Block (reason) or unblock (None) every bot trading ``symbol`` on this venue."""

    def alert(self, message: str) -> None:
        """Publish an alert on the ``venues`` topic."""

    def connection_changed(self, connected: bool, reason: str) -> None:
        """The live connection was lost or is back (the risk engine is told)."""


class BotFeedHandle(Protocol):
    """A bot's live data feed (the daemon's ``BotFeed``)."""

    async def start(self, warmup: int) -> list[Bar]:
        """Begin delivering closed bars; returns up to ``warmup`` earlier bars."""

    def stop(self) -> None: ...


async def look_up_symbol(connection: VenueConnection, symbol: str) -> None:
    """Before ``instruments(symbol)``: a connection with the optional ``look_up(symbol)``
    (a venue whose listing is found by search, ProjectX) asks the venue about the symbol."""
    look_up = getattr(connection, "look_up", None)
    if look_up is not None:
        await look_up(symbol)


class VenueConnection(Protocol):
    """One venue's shared account/connection in the daemon, started on first use."""

    async def stop(self, timeout: float = 5.0) -> None: ...

    def snapshot(self) -> dict[str, Any]:
        """Health and state for ``GET /api/venues``: at least ``venue`` and ``connected``."""

    async def reconcile(self) -> dict[str, Any]:
        """Reconcile now (positions, open orders, missed fills); the snapshot after.
        ``LookupError`` when there is nothing to reconcile (e.g. no credentials)."""

    def instruments(self, symbol: str) -> list[Instrument]:
        """The instrument(s) a bot trading ``symbol`` needs; ``ValueError('symbol: …')`` when
        the venue does not list it."""

    async def execution_venue(
        self, bot: BotSpec, on_error: Callable[[BaseException], None]
    ) -> ExecutionVenue:
        """The bot's execution venue (orders carry the bot's client order ids)."""

    def blocked_reason(self, bot: BotSpec) -> str | None:
        """Why the bot may not trade now (reconciliation failed closed), or None."""

    def bot_feed(self, bot: BotSpec, handler: Callable[[Bar], None]) -> BotFeedHandle:
        """The bot's live bar feed (closed bars of ``bot.interval`` for ``bot.symbol``)."""


class HistoryCandle(Protocol):
    """One downloaded candle (open time in ms; prices and volume as numbers)."""

    @property
    def open_ms(self) -> int: ...
    @property
    def open(self) -> Any: ...
    @property
    def high(self) -> Any: ...
    @property
    def low(self) -> Any: ...
    @property
    def close(self) -> Any: ...
    @property
    def volume(self) -> Any: ...


class HistorySource(Protocol):
    """Historical candles for ``algotrade fetch-data`` (used as an async context manager)."""

    async def symbols(self) -> list[str]:
        """Every symbol the venue has candles for."""

    def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> AsyncIterator[Sequence[HistoryCandle]]:
        """Pages of candles opening in ``[start_ms, end_ms)``, in time order."""


class WatchedAccountSink(Protocol):
    """Where a watched account's own activity goes: the daemon's account risk engine.

    A watched account is one a person trades by hand (e.g. in the broker's web platform): the
    venue reports every order and trade on it, ours or not, and the risk engine enforces its
    rules through ``WatchedAccount``. Symbols are the venue's instrument names; sides are
    ``"buy"``/``"sell"``; order types ``"market"``/``"limit"``/``"stop"``; order status
    ``"open"``, ``"filled"``, ``"cancelled"`` or ``"rejected"``; times are the venue's, in ns;
    money is exact. Calls are synchronous and cheap (they run on the daemon's event loop), so
    a venue calls them as soon as it hears of something."""

    def history_start_ns(self) -> int:
        """Report the trades made since this time (the start of the account's trading day)
        when the watch starts: a restart mid-session misses nothing."""

    def on_fill(
        self,
        *,
        trade_id: str,
        order_id: str,
        symbol: str,
        side: str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        realized_pnl: Decimal | None,
        ts_ns: int,
    ) -> None:
        """One execution. The same ``trade_id`` may be reported again (after a restart or a
        reconnect): the sink counts each id once, across restarts."""

    def on_order(
        self,
        *,
        order_id: str,
        symbol: str,
        side: str,
        type: str,
        qty: Decimal,
        status: str,
        price: Decimal | None,
        stop_price: Decimal | None,
        reduce_only: bool,
        ts_ns: int,
    ) -> None:
        """An order's current state (new, changed, or gone). ``reduce_only``: it can only
        reduce the position (on its closing side, no larger than it), so a lockout lets it be."""

    def on_position(self, *, symbol: str, qty: Decimal, avg_price: Decimal, ts_ns: int) -> None:
        """The venue's position in ``symbol`` (signed; 0 = flat); it replaces the sink's."""

    def on_synced(self, *, open_orders: Collection[str], positions: Collection[str]) -> None:
        """A complete picture was just reported (at start, after a reconnect): orders not in
        ``open_orders`` are no longer open, symbols not in ``positions`` are flat."""

    def on_mark(self, symbol: str, price: Decimal) -> None:
        """A current price of a symbol the account holds (unrealized PnL)."""

    def on_status(self, *, connected: bool, can_trade: bool, reason: str) -> None:
        """The connection to the account was lost or is back; the venue halted trading."""

    def set_multipliers(self, multipliers: Mapping[str, Decimal]) -> None:
        """Money per point of each symbol, from the venue's contract specs."""


class WatchedAccount(Protocol):
    """A venue account the risk engine guards directly (no bot in between)."""

    async def stop(self, timeout: float = 5.0) -> None: ...

    def snapshot(self) -> dict[str, Any]:
        """Health and state: ``venue``, ``account``, ``connected`` at least."""

    def position(self, symbol: str) -> Decimal:
        """The venue's signed position in ``symbol`` as last reported."""

    async def cancel_orders(
        self, symbol: str | None, order_id: str | None = None, *, keep_protective: bool = False
    ) -> int:
        """Cancel one order (``order_id``; one no longer open counts as done), or every open
        order of ``symbol`` (None: of every symbol) — but with ``keep_protective`` not those
        that only reduce a position (its stop loss). Returns how many were cancelled."""

    async def close_position(self, symbol: str, qty: Decimal | None = None) -> Decimal:
        """Close ``qty`` (unsigned; None: all) of the position in ``symbol`` at market, never
        more than is held (a close never reverses it). Returns the quantity sent."""


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    """``fetch-data`` flags a venue may honour."""

    testnet: bool = False
    api_url: str | None = None


class VenueFactory(ABC):
    """Everything the daemon, the CLI and the API need from one venue.

    ``provides_feed``/``provides_execution`` say whether a bot may name the venue as its
    ``feed`` and as its ``venue``. The factory object is imported when the venue is first
    named, so its module should import its heavy dependencies inside the methods."""

    name: str = ""
    provides_feed: bool = True
    provides_execution: bool = True
    #: Where ``fetch-data`` can download from this venue: interval → length in ms (empty: no).
    history_intervals: Mapping[str, int] = {}
    #: The modules its connection, bot feeds and account watch import when first used (their
    #: heavy dependencies included). The daemon imports them in a worker thread before it
    #: connects (``load_runtime``): imported on the event loop they held every bot's bars for
    #: 0.5 - 1 s.
    runtime_modules: tuple[str, ...] = ()

    @abstractmethod
    def config_model(self) -> type[BaseModel]:
        """The pydantic model of the ``[venues.<name>]`` settings section (no credentials)."""

    def parse_config(self, raw: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """The section validated; ``ConfigError`` naming ``venues.<name>.<key>``."""
        model = self.config_model()
        if isinstance(raw, model):
            return raw
        data = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw or {})
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            where = f"venues.{self.name}" + (f".{key}" if key else "")
            raise ConfigError(f"{where}: {first['msg']}") from None

    def validate_feed(self, bot: BotSpec) -> None:
        """``ValueError`` naming the field when the bot's ``interval`` or ``feed_options``
        cannot be served by this venue's feed. Default: anything goes."""
        del bot

    def validate_execution(self, bot: BotSpec) -> None:
        """``ValueError`` naming the field when the bot cannot trade here (e.g. leverage).
        Default: anything goes."""
        del bot

    @abstractmethod
    async def connect(self, config: BaseModel, owner: VenueOwner) -> VenueConnection:
        """Start the shared account/connection (I/O happens here, not in the factory)."""

    async def watch_account(
        self, config: BaseModel, account: str, sink: WatchedAccountSink
    ) -> WatchedAccount:
        """Start watching the venue account named ``account`` (its id or name at the venue)
        for the risk engine: report what exists now (open orders, positions, today's trades)
        and then everything that happens, until ``stop``. ``NotImplementedError`` when the
        venue cannot."""
        del config, account, sink
        raise NotImplementedError(f"venue '{self.name}' cannot watch accounts")

    def history(self, options: HistoryOptions) -> AbstractAsyncContextManager[HistorySource]:
        """A history source for ``fetch-data``; only when ``history_intervals`` is set."""
        raise NotImplementedError(f"venue '{self.name}' has no history download")


async def load_runtime(factory: VenueFactory) -> None:
    """Import ``factory.runtime_modules`` in a worker thread while the event loop runs on."""
    missing = [name for name in factory.runtime_modules if name not in sys.modules]
    if missing:
        await asyncio.to_thread(_import_all, missing)


def _import_all(names: Sequence[str]) -> None:
    for name in names:
        importlib.import_module(name)


# ---------------------------------------------------------------------------- the registry
_lock = threading.RLock()
_factories: dict[str, VenueFactory] = {}
_lazy: dict[str, str] = dict(BUILTIN_VENUES)  # name → "module" or "module:attr"
_plugins = {"loaded": False}


def register_venue(name: str, factory: VenueFactory | str) -> None:
    """Register ``factory`` (or a ``"module:attr"`` path to import on first use) as ``name``.
    Registering a name again replaces it (the newest registration wins)."""
    key = _check_name(name)
    with _lock:
        if isinstance(factory, str):
            _factories.pop(key, None)
            _lazy[key] = factory
            return
        if not isinstance(factory, VenueFactory):
            raise TypeError(f"venue '{key}': expected a VenueFactory, got {type(factory).__name__}")
        factory.name = key
        _lazy.pop(key, None)
        _factories[key] = factory


def unregister_venue(name: str) -> None:
    """Forget ``name`` (tests); a built-in venue goes back to its lazy entry."""
    with _lock:
        _factories.pop(name, None)
        _lazy.pop(name, None)
        if name in BUILTIN_VENUES:
            _lazy[name] = BUILTIN_VENUES[name]


def venue_names() -> list[str]:
    """Every registered venue name, sorted (without importing any of them)."""
    _load_plugins()
    with _lock:
        return sorted({*_factories, *_lazy})


def get_venue(name: str) -> VenueFactory:
    """The factory of ``name``; ``LookupError`` naming the known venues when there is none."""
    _load_plugins()
    with _lock:
        factory = _factories.get(name)
        if factory is not None:
            return factory
        target = _lazy.get(name)
    if target is None:
        raise LookupError(f"unknown venue '{name}' (known: {', '.join(venue_names()) or 'none'})")
    factory = _resolve(name, target)
    with _lock:
        _factories[name] = factory
        _lazy.pop(name, None)
    return factory


def _resolve(name: str, target: str) -> VenueFactory:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    with _lock:
        registered = _factories.get(name)
    if registered is not None:  # the module called register_venue() itself
        return registered
    found: Any = getattr(module, attr or "factory")
    return _as_factory(name, found)


def _as_factory(name: str, found: Any) -> VenueFactory:
    if isinstance(found, type) or (callable(found) and not isinstance(found, VenueFactory)):
        found = found()
    if not isinstance(found, VenueFactory):
        raise TypeError(f"venue '{name}': expected a VenueFactory, got {type(found).__name__}")
    found.name = name
    return found


def _load_plugins() -> None:
    """Entry points and ``ALGOTRADE_VENUE_PLUGINS`` modules, once per process."""
    with _lock:
        if _plugins["loaded"]:
            return
        _plugins["loaded"] = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        register_venue(entry.name, entry.value)
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"{PLUGINS_ENV}: cannot import {module!r}: {exc}") from exc
        _log.info("venue plugin %s loaded", module)


def reload_plugins() -> None:
    """Read the entry points and ``ALGOTRADE_VENUE_PLUGINS`` again (tests)."""
    with _lock:
        _plugins["loaded"] = False
    _load_plugins()


def _check_name(name: str) -> str:
    key = name.strip().lower()
    if not key or not key.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"venue name {name!r}: expected letters, digits, _ or -")
    if key in ("sim", "replay", "paper"):
        raise ValueError(f"venue name '{key}' is built into the daemon")
    return key
