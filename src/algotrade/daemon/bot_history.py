"""A bot's committed history for the API: pages of orders, fills, equity and event-log lines,
and its positions, read from the store off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from algotrade.daemon.service_api import Page

if TYPE_CHECKING:
    from algotrade.daemon.bot_handle import HostedBot
    from algotrade.store.store import Store

T = TypeVar("T")


class BotHistoryReads:
    """The history half of ``BotService`` (mixed in): only what is committed is served, and
    an unknown bot is ``BotNotFound`` (from ``_actor``) before the store is asked."""

    _store: Store

    def _actor(self, bot_id: str) -> HostedBot:
        raise NotImplementedError

    async def _read(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    async def orders(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        return await self._records(self._store.orders, bot_id, offset, limit, newest_first)

    async def fills(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        return await self._records(self._store.fills, bot_id, offset, limit, newest_first)

    async def equity(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        return await self._records(self._store.equity, bot_id, offset, limit, newest_first)

    async def logs(self, bot_id: str, offset: int, limit: int) -> Page[dict[str, Any]]:
        """The bot's event log, newest first."""
        return await self._records(self._store.events, bot_id, offset, limit, True)

    async def positions(self, bot_id: str) -> list[dict[str, Any]]:
        self._actor(bot_id)
        return [r.to_api() for r in await self._read(self._store.positions, bot_id)]

    async def _records(
        self,
        read: Callable[..., Page[Any]],
        bot_id: str,
        offset: int,
        limit: int,
        newest_first: bool,
    ) -> Page[dict[str, Any]]:
        self._actor(bot_id)
        page = await self._read(read, bot_id, offset=offset, limit=limit, newest_first=newest_first)
        return Page([r.to_api() for r in page.items], page.total, page.offset, page.limit)
