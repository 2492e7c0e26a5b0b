"""Accounts the risk engine guards directly at their venue (accounts.yaml ``watch``).

Such an account is traded by a person (e.g. in the broker's web platform), not by our bots:
its venue reports every order, trade, position and account change on it
(``VenueFactory.watch_account``), and each becomes a risk event with the daemon's clock as its
time. Enforcement (cancel the person's orders, close positions) goes to the venue through the
``WatchedAccount`` (``RiskService`` does it, with the same retries, log and failure lockout as
for bots). See docs/account-guard.md.

- **Trades count once.** A venue reports the day's trades again at every start and after
  every reconnect; the risk state remembers the venue trade ids it counted (committed with the
  fill's decision), so neither a restart nor a gap fill counts a trade twice.
- **Orders and positions are the venue's.** After a complete report (``on_synced``) an order
  the engine still thinks open is closed and a position it still holds is set flat.
- **Multipliers come from the venue.** A multiplier typed in accounts.yaml that disagrees with
  the venue's contract spec is overruled: a warning in the log, an alert on the ``risk`` topic,
  and listed in the account's watch status.
- **Starting.** Problems found without asking the venue (an unknown venue, one that cannot
  watch accounts, an invalid venue section, missing credentials) stop the daemon with one
  line. Anything the venue answers (refused credentials, an unknown account, no connection)
  leaves the daemon running with the account marked disconnected — an ``account_status_guard``
  alert in the risk log, ``watch.state`` "error" in the API — and the watch tries again with
  back-off (1 s doubling to 60 s) until it connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from algotrade.core.errors import ConfigError
from algotrade.core.timeutil import ns_to_iso
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.risk.config_loader import RiskConfig
from algotrade.risk.events import (
    AccountEvent,
    AccountFill,
    AccountStatus,
    MarkUpdate,
    OrderUpdate,
    PositionUpdate,
)
from algotrade.risk.rules_config import AccountConfig
from algotrade.venues.registry import VenueFactory, WatchedAccount, get_venue, load_runtime

if TYPE_CHECKING:
    from algotrade.daemon.risk_service import RiskService

__all__ = ["AccountWatch", "AccountWatches", "check_watches"]

_log = logging.getLogger("algotrade.risk.watch")
START_WAIT_S = 20.0  # the daemon waits this long for the first connection of every watch
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
ZERO = Decimal(0)


def check_watches(
    config: RiskConfig, venue_configs: Mapping[str, Any]
) -> dict[str, tuple[VenueFactory, BaseModel]]:
    """Each watched account's venue factory and parsed venue section; ``ConfigError`` naming
    the account when its venue is unknown, cannot watch accounts or has an invalid section."""
    found: dict[str, tuple[VenueFactory, BaseModel]] = {}
    for account in config.accounts.values():
        if account.watch is None:
            continue
        where = f"accounts.yaml: account '{account.id}': field 'watch'"
        try:
            factory = get_venue(account.venue)
        except LookupError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if type(factory).watch_account is VenueFactory.watch_account:
            raise ConfigError(f"{where}: venue '{account.venue}' cannot watch accounts")
        found[account.id] = (factory, factory.parse_config(venue_configs.get(account.venue)))
    return found


class AccountWatches:
    """Every watched account of the risk config: started after the risk state is restored,
    stopped before the risk service."""

    def __init__(
        self,
        risk: RiskService,
        venue_configs: Mapping[str, Any],
        bus: EventBus,
        supervisor: TaskSupervisor,
    ) -> None:
        self._risk = risk
        self._venue_configs = venue_configs
        self._bus = bus
        self._supervisor = supervisor
        self.watches: dict[str, AccountWatch] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, wait_s: float = START_WAIT_S) -> None:
        """Start every watch and wait (up to ``wait_s``) for each first attempt: a
        ``ConfigError`` stops the daemon; a venue problem leaves the watch retrying."""
        for account_id, (factory, venue_config) in check_watches(
            self._risk.config, self._venue_configs
        ).items():
            watch = AccountWatch(
                self._risk, self._risk.config.accounts[account_id], factory, venue_config, self._bus
            )
            self.watches[account_id] = watch
            self._risk.attach_watch(account_id, watch)
            self._tasks.append(
                self._supervisor.spawn(watch.run(), name=f"account-watch:{account_id}")
            )
        firsts = [w.first_attempt.wait() for w in self.watches.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*firsts), wait_s)
        for watch in self.watches.values():
            if watch.fatal is not None:
                raise watch.fatal

    async def stop(self, timeout: float = 5.0) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for watch in self.watches.values():
            await watch.close(timeout)


class AccountWatch:
    """One watched account: the sink its venue reports to (``WatchedAccountSink``), the
    retrying connection, and the view ``RiskService`` enforces through (``WatchView``)."""

    def __init__(
        self,
        risk: RiskService,
        account: AccountConfig,
        factory: VenueFactory,
        venue_config: BaseModel,
        bus: EventBus,
    ) -> None:
        assert account.watch is not None
        self._risk = risk
        self.account_id = account.id
        self.venue_account = account.watch.account
        self._config = account
        self._factory = factory
        self._venue_config = venue_config
        self._bus = bus
        self._live: WatchedAccount | None = None
        self.first_attempt = asyncio.Event()
        self.fatal: ConfigError | None = None
        self.state = "connecting"
        self.error: str | None = None
        self.connected = False
        self.attempts = 0
        self.last_event: str | None = None
        self.last_event_ns: int | None = None
        self.events = 0
        self.multiplier_warnings: list[str] = []

    # ------------------------------------------------------------------ connection
    @property
    def account(self) -> WatchedAccount | None:
        return self._live

    async def run(self) -> None:
        delay = RETRY_MIN_S
        while self._live is None:
            self.attempts += 1
            try:
                await load_runtime(self._factory)
                self._live = await self._factory.watch_account(
                    self._venue_config, self.venue_account, self
                )
            except ConfigError as exc:  # nothing the venue can fix: stop the daemon
                self.fatal = ConfigError(
                    f"accounts.yaml: account '{self.account_id}': field 'watch': {exc}"
                )
                self._failed(str(exc))
                self.first_attempt.set()
                return
            except Exception as exc:  # refused or unreachable: alert, try again
                self._failed(f"{type(exc).__name__}: {exc}")
                self.first_attempt.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.state, self.error = "connected", None
            self.first_attempt.set()
            _log.info("watching account %s at %s", self.account_id, self._config.venue)

    def _failed(self, reason: str) -> None:
        message = (
            f"account {self.account_id}: cannot watch '{self.venue_account}' at "
            f"{self._config.venue}: {reason}"
        )
        if reason != self.error:
            _log.error("%s (retrying)", message)
            self._bus.publish(
                Topic.RISK,
                None,
                {"kind": "alert", "account_id": self.account_id, "message": message},
            )
        self.state, self.error = "error", reason
        self.on_status(connected=False, can_trade=True, reason=f"watch failed: {reason}")

    async def close(self, timeout: float) -> None:
        live, self._live = self._live, None
        if live is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(live.stop(timeout), timeout)
        self.state = "stopped"

    def status(self) -> dict[str, Any]:
        live = self._live
        detail = {} if live is None else live.snapshot()
        return {
            "venue": self._config.venue,
            "venue_account": self.venue_account,
            "state": self.state,
            "connected": bool(live is not None and self.connected),
            "error": self.error,
            "attempts": self.attempts,
            "last_event": self.last_event,
            "last_event_at": None if self.last_event_ns is None else ns_to_iso(self.last_event_ns),
            "events": self.events,
            "multiplier_warnings": list(self.multiplier_warnings),
            "detail": detail,
        }

    # ------------------------------------------------------------------ the sink
    def _feed(self, kind: str, event: AccountEvent, trade_id: str = "") -> None:
        self.events += 1
        self.last_event, self.last_event_ns = kind, time.time_ns()
        self._risk.venue_event(event, trade_id)

    def history_start_ns(self) -> int:
        return self._risk.history_start_ns(self.account_id)

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
        del ts_ns  # the daemon's clock is the risk clock
        fill = AccountFill(
            self.account_id, self._risk.now(), symbol, side, qty, price, fee, realized_pnl, order_id
        )
        self._feed("fill", fill, trade_id)

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
        del ts_ns
        update = OrderUpdate(
            self.account_id,
            self._risk.now(),
            order_id,
            symbol,
            side,
            type,
            qty,
            status,
            price,
            stop_price,
            reduce_only,
        )
        self._feed("order", update)

    def on_position(self, *, symbol: str, qty: Decimal, avg_price: Decimal, ts_ns: int) -> None:
        del ts_ns
        update = PositionUpdate(self.account_id, self._risk.now(), symbol, qty, avg_price)
        self._feed("position", update)

    def on_synced(self, *, open_orders: Collection[str], positions: Collection[str]) -> None:
        state = self._risk.engine.states[self.account_id]
        now = self._risk.now()
        for order_id, order in list(state.open_orders.items()):
            if order_id not in open_orders:  # gone while we were not looking
                gone = OrderUpdate(
                    self.account_id,
                    now,
                    order_id,
                    order.symbol,
                    order.side,
                    order.type,
                    order.qty,
                    "cancelled",
                )
                self._feed("synced", gone)
        for symbol in [s for s in state.positions if s not in positions]:
            self._feed("synced", PositionUpdate(self.account_id, now, symbol, ZERO, ZERO))

    def on_mark(self, symbol: str, price: Decimal) -> None:
        self._feed("mark", MarkUpdate(self.account_id, self._risk.now(), symbol, price))

    def on_status(self, *, connected: bool, can_trade: bool, reason: str) -> None:
        self.connected = connected
        if connected:
            self.state, self.error = "connected", None
        elif self._live is not None:
            self.state, self.error = "disconnected", reason
        status = AccountStatus(self.account_id, self._risk.now(), can_trade, connected, reason)
        self._feed("status", status)

    def set_multipliers(self, multipliers: Mapping[str, Decimal]) -> None:
        typed = self._config.multipliers
        for symbol, value in multipliers.items():
            if symbol in typed and typed[symbol] != value:
                warning = (
                    f"{symbol}: accounts.yaml says {typed[symbol]}, the venue {value}; "
                    "using the venue's"
                )
                self.multiplier_warnings.append(warning)
                _log.warning("account %s: multiplier %s", self.account_id, warning)
                self._bus.publish(
                    Topic.RISK,
                    None,
                    {"kind": "alert", "account_id": self.account_id, "message": warning},
                )
        self._risk.set_multipliers(self.account_id, dict(multipliers))
