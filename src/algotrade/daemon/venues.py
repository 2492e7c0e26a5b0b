"""Live venue connections shared by the daemon's bots (Hyperliquid today).

A connection is made only when the first bot that needs it starts, so a daemon without live
bots never touches the network. The hub is the account adapter's owner: it sums the positions
of the bots trading on the account, blocks and unblocks bots when reconciliation says so, and
publishes alerts on the ``venues`` topic (also kept for ``GET /api/venues``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order
from algotrade.daemon.bot_config import BotConfig, FeedKind, VenueKind
from algotrade.daemon.bus import EventBus, Topic
from algotrade.store.store import Store
from algotrade.venues.paper import PaperVenue, PaperVenueConfig

if TYPE_CHECKING:
    from algotrade.core.ports import ExecutionVenue
    from algotrade.daemon.actor import BotActor
    from algotrade.daemon.risk_service import RiskService
    from algotrade.venues.hyperliquid.account import HyperliquidAccount
    from algotrade.venues.hyperliquid.config import HyperliquidConfig

_log = logging.getLogger("algotrade.daemon.venues")


@runtime_checkable
class RecoversOrders(Protocol):
    """A live venue that can find orders sent under a bot's next ids but never recorded
    (a crash between sending and committing)."""

    async def unrecorded_orders(self, prefix: str, after_seq: int) -> list[Order]: ...


def uses_hyperliquid(config: BotConfig) -> bool:
    return config.feed is FeedKind.HYPERLIQUID or config.venue is VenueKind.HYPERLIQUID


class VenueHub:
    def __init__(
        self,
        hyperliquid: HyperliquidConfig | None,
        store: Store,
        bus: EventBus,
        bots: Callable[[], Iterable[BotActor]],
        risk: RiskService | None = None,
    ) -> None:
        self._hl_config = hyperliquid
        self._store = store
        self._bus = bus
        self._bots = bots
        self._risk = risk
        self._hl: HyperliquidAccount | None = None
        self._hl_lock = asyncio.Lock()

    async def hyperliquid(self) -> HyperliquidAccount:
        """The Hyperliquid account connection, started on first use."""
        async with self._hl_lock:
            if self._hl is None:
                self._hl = await self._start_hyperliquid()
            return self._hl

    async def _start_hyperliquid(self) -> HyperliquidAccount:
        # Imported on first use: a daemon without Hyperliquid bots never loads the adapter.
        from algotrade.venues.hyperliquid.account import HyperliquidAccount  # noqa: PLC0415
        from algotrade.venues.hyperliquid.config import (  # noqa: PLC0415
            HyperliquidConfig,
            load_credentials,
        )

        config = self._hl_config or HyperliquidConfig()
        credentials = load_credentials(config)
        live_bots = [a.config.bot_id for a in self._hl_bots()]
        newest_ns, trade_ids = await asyncio.to_thread(self._store.latest_fills, live_bots)
        account = HyperliquidAccount(
            config,
            credentials,
            self,
            since_ms=newest_ns // 1_000_000 if newest_ns else None,
            seen_trade_ids=trade_ids,
        )
        try:
            await account.start()
        except BaseException:
            await account.stop()
            raise
        _log.info(
            "hyperliquid connected (%s, %s)",
            config.network.value,
            credentials or "market data only: no credentials",
        )
        return account

    async def reconcile(self, venue: str) -> dict[str, Any]:
        if venue != "hyperliquid" or self._hl is None:
            raise LookupError(f"venue '{venue}' is not connected")
        if self._hl.credentials is None:
            raise LookupError("venue 'hyperliquid' has no credentials: nothing to reconcile")
        await self._hl.reconcile("requested")
        return self._hl.snapshot()

    def status(self) -> list[dict[str, Any]]:
        return [self._hl.snapshot()] if self._hl is not None else []

    async def stop(self, timeout: float = 5.0) -> None:
        if self._hl is not None:
            await self._hl.stop(timeout)

    # ------------------------------------------------------------------ account owner
    def _hl_bots(self) -> list[BotActor]:
        return [a for a in self._bots() if a.config.venue is VenueKind.HYPERLIQUID]

    def local_positions(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for actor in self._hl_bots():
            for symbol, position in actor.portfolio.positions.items():
                if position.qty:
                    total[symbol] = total.get(symbol, Decimal(0)) + position.qty
        return total

    def set_blocked(self, coin: str, reason: str | None) -> None:
        for actor in self._hl_bots():
            if actor.config.symbol == coin:
                actor.set_blocked(reason)

    def blocked_reason(self, config: BotConfig) -> str | None:
        if config.venue is not VenueKind.HYPERLIQUID:
            return None
        hl = self._hl
        return None if hl is None else hl.blocked.get(config.symbol)

    def connection_changed(self, connected: bool, reason: str) -> None:
        """Tell the risk engine (its account_status_guard) about every account trading on
        the venue; bots also see it in their log."""
        _log.warning("hyperliquid: %s", reason)
        risk = self._risk
        if risk is None:
            return
        for account_id in {a.config.account_id for a in self._hl_bots()}:
            if risk.knows(account_id):
                risk.on_account_status(
                    account_id, can_trade=True, connected=connected, reason=reason
                )

    def alert(self, message: str) -> None:
        self._bus.publish(
            Topic.VENUES, None, {"kind": "alert", "venue": "hyperliquid", "message": message}
        )


async def build_bot_venue(
    config: BotConfig,
    hub: VenueHub | None,
    instruments: InstrumentRegistry,
    positions: dict[str, Decimal],
    on_error: Callable[[BaseException], None],
) -> tuple[ExecutionVenue, str | None]:
    """The execution venue of one bot and, for a live venue, why it is blocked (if it is).
    Instruments of a live venue are added to ``instruments``; the paper venue starts from
    the bot's ``positions``."""
    if uses_hyperliquid(config):
        if hub is None:
            raise RuntimeError("this daemon has no live venue connections")
        account = await hub.hyperliquid()
        if config.symbol not in account.assets:
            raise ValueError(f"symbol: Hyperliquid has no perpetual '{config.symbol}'")
        for instrument in account.instruments():
            if instrument.symbol == config.symbol:
                instruments.add(instrument)
        if config.venue is VenueKind.HYPERLIQUID:
            blocked = hub.blocked_reason(config)
            venue = account.venue(config.bot_id, on_error=on_error)
            # The venue's margin setting follows the bot's leverage (cross margin).
            await account.set_leverage(config.symbol, int(config.leverage))
            return venue, blocked
    paper = PaperVenueConfig(
        taker_fee_rate=config.commission,
        maker_fee_rate=config.commission,
        slippage_bps=config.slippage_bps,
    )
    return PaperVenue(paper, instruments, positions=positions), None
