"""The daemon's view of one ccxt venue account (``registry.VenueConnection``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from algotrade.venues.ccxt.account import CcxtAccount
from algotrade.venues.ccxt.candles import CandleBotFeed
from algotrade.venues.live.connection import AccountConnection

if TYPE_CHECKING:
    from algotrade.core.events import Bar
    from algotrade.core.instruments import Instrument
    from algotrade.core.ports import ExecutionVenue
    from algotrade.venues.registry import BotFeedHandle, BotSpec

__all__ = ["CcxtConnection"]


class CcxtConnection(AccountConnection[CcxtAccount]):
    """One venue account shared by every bot on it: their orders, bars and reconciliation."""

    @property
    def venue_name(self) -> str:
        return self.account.venue_name

    def instruments(self, symbol: str) -> list[Instrument]:
        return self.account.instruments(symbol)

    async def execution_venue(
        self, bot: BotSpec, on_error: Callable[[BaseException], None]
    ) -> ExecutionVenue:
        self.account.instruments(bot.symbol)  # ValueError("symbol: …") when not listed
        venue = self.account.venue(bot.bot_id, bot.symbol, on_error)
        await self.account.set_leverage(bot.symbol, bot.leverage)
        return venue

    def bot_feed(self, bot: BotSpec, handler: Callable[[Bar], None]) -> BotFeedHandle:
        interval = self.account.spec.bot_intervals[bot.interval]
        return CandleBotFeed(self.account.candles, bot.symbol, interval, bot.bot_id, handler)
