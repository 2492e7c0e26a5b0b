"""Hyperliquid's entry in the venue registry (``venues/registry.py``).

This module is imported when a bot, a settings section or a command first names
"hyperliquid": it loads only the config and the interval table; the account, WebSocket and
signing code are imported when the daemon connects or ``fetch-data`` downloads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from algotrade.core.strategy import describe_validation_error
from algotrade.venues.hyperliquid.config import HlNetwork, HyperliquidConfig
from algotrade.venues.hyperliquid.intervals import CANDLE_INTERVALS, INTERVAL_MS
from algotrade.venues.live.connection import AccountConnection, start_or_stop
from algotrade.venues.registry import (
    BotFeedHandle,
    BotSpec,
    HistoryCandle,
    HistoryOptions,
    VenueConnection,
    VenueFactory,
    VenueOwner,
)

if TYPE_CHECKING:
    from algotrade.core.events import Bar
    from algotrade.core.instruments import Instrument
    from algotrade.core.ports import ExecutionVenue
    from algotrade.venues.hyperliquid.account import HyperliquidAccount
    from algotrade.venues.hyperliquid.info import InfoClient

_log = logging.getLogger("algotrade.daemon.venues")
# The intervals a bot's interval can name: fixed length, written like the daemon's intervals.
_BOT_INTERVAL = re.compile(r"^([1-9]\d{0,5})(s|m|h|d)$")
#: The candle intervals Hyperliquid serves that a bot's interval can name (fixed length).
HYPERLIQUID_INTERVALS = tuple(i for i in INTERVAL_MS if _BOT_INTERVAL.match(i))


class HyperliquidFeedOptions(BaseModel):
    """``feed_options`` of a Hyperliquid-fed bot: none yet; anything given is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HyperliquidFactory(VenueFactory):
    history_intervals = CANDLE_INTERVALS
    runtime_modules = (
        "algotrade.venues.hyperliquid.account",
        "algotrade.venues.hyperliquid.data",
        "eth_account",  # signing; the credentials are checked with it at connect
    )

    def config_model(self) -> type[BaseModel]:
        return HyperliquidConfig

    def validate_feed(self, bot: BotSpec) -> None:
        try:
            HyperliquidFeedOptions.model_validate(bot.feed_options)
        except ValidationError as exc:
            raise ValueError(describe_validation_error("feed_options", exc)) from None
        if bot.interval not in HYPERLIQUID_INTERVALS:
            raise ValueError(
                f"interval: Hyperliquid candles come in {', '.join(HYPERLIQUID_INTERVALS)}; "
                f"got '{bot.interval}'"
            )

    def validate_execution(self, bot: BotSpec) -> None:
        if bot.leverage % 1:
            raise ValueError("leverage: Hyperliquid takes a whole number (e.g. 1, 3, 10)")

    async def connect(self, config: BaseModel, owner: VenueOwner) -> VenueConnection:
        from algotrade.venues.hyperliquid.account import HyperliquidAccount  # noqa: PLC0415
        from algotrade.venues.hyperliquid.config import load_credentials  # noqa: PLC0415

        assert isinstance(config, HyperliquidConfig)
        credentials = load_credentials(config)
        newest_ns, trade_ids = await owner.latest_fills()
        account = HyperliquidAccount(
            config,
            credentials,
            owner,
            since_ms=newest_ns // 1_000_000 if newest_ns else None,
            seen_trade_ids=trade_ids,
            open_orders=await owner.stored_open_orders(),
        )
        await start_or_stop(account)
        _log.info(
            "hyperliquid connected (%s, %s)",
            config.network.value,
            credentials or "market data only: no credentials",
        )
        return HyperliquidConnection(account)

    def history(self, options: HistoryOptions) -> Any:
        config = HyperliquidConfig(
            network=HlNetwork.TESTNET if options.testnet else HlNetwork.MAINNET,
            api_url=options.api_url,
        )
        return _history(config)


class HyperliquidConnection(AccountConnection["HyperliquidAccount"]):
    """The daemon's one Hyperliquid account connection, shared by every bot on it."""

    venue_name = "hyperliquid"

    def __init__(self, account: HyperliquidAccount) -> None:
        super().__init__(account)

    def instruments(self, symbol: str) -> list[Instrument]:
        if symbol not in self.account.assets:
            raise ValueError(f"symbol: Hyperliquid has no perpetual '{symbol}'")
        return [i for i in self.account.instruments() if i.symbol == symbol]

    async def execution_venue(
        self, bot: BotSpec, on_error: Callable[[BaseException], None]
    ) -> ExecutionVenue:
        venue = self.account.venue(bot.bot_id, on_error=on_error)
        # The venue's margin setting follows the bot's leverage (cross margin, or isolated
        # on an asset that allows no cross margin).
        await self.account.set_leverage(bot.symbol, int(bot.leverage))
        return venue

    def bot_feed(self, bot: BotSpec, handler: Callable[[Bar], None]) -> BotFeedHandle:
        from algotrade.venues.hyperliquid.data import HyperliquidBotFeed  # noqa: PLC0415

        account = self.account
        return HyperliquidBotFeed(
            account.candles,
            bot.symbol,
            account.coin_of(bot.symbol),
            bot.interval,
            bot.bot_id,
            handler,
        )


class _History:
    def __init__(self, info: InfoClient) -> None:
        self._info = info

    async def symbols(self) -> list[str]:
        return [asset.name for asset in (await self._info.meta()).universe]

    async def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> AsyncIterator[Sequence[HistoryCandle]]:
        async for page in self._info.candles(symbol, interval, start_ms, end_ms):
            yield page


@asynccontextmanager
async def _history(config: HyperliquidConfig) -> AsyncIterator[_History]:
    from algotrade.venues.hyperliquid.http import HlHttp  # noqa: PLC0415
    from algotrade.venues.hyperliquid.info import InfoClient  # noqa: PLC0415

    async with HlHttp(config) as http:
        yield _History(InfoClient(http))


factory = HyperliquidFactory()
