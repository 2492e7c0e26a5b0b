"""``InfoClient``: typed reads of Hyperliquid's ``/info`` endpoint (market data and account).

Every reply is validated by ``schemas.parse``: a payload of the wrong shape raises
``HlPayloadError`` naming the request. Times are milliseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from algotrade.core.instruments import Instrument
from algotrade.venues.hyperliquid.candle_builder import RANGE_REPLY_CAP
from algotrade.venues.hyperliquid.errors import HlPayloadError
from algotrade.venues.hyperliquid.http import HlHttp
from algotrade.venues.hyperliquid.intervals import CANDLE_INTERVALS, shortest_step_ms
from algotrade.venues.hyperliquid.rules import HlAsset, to_instrument
from algotrade.venues.hyperliquid.schemas import (
    AssetCtx,
    Candle,
    ClearinghouseState,
    Fill,
    L2Book,
    Meta,
    OpenOrder,
    OrderStatusReply,
    parse,
)

__all__ = [
    "CANDLE_INTERVALS",
    "FILLS_PAGE_LIMIT",
    "InfoClient",
    "interval_ms",
]

#: The most candles one ``candleSnapshot`` returns (the oldest ones from ``startTime``).
#: The most fills one ``userFillsByTime`` returns (the oldest ones from ``startTime``).
FILLS_PAGE_LIMIT = 2000


def interval_ms(interval: str) -> int:
    """Length of a candle interval in ms; ``ValueError`` naming the valid ones otherwise."""
    try:
        return CANDLE_INTERVALS[interval]
    except KeyError:
        raise ValueError(
            f"unknown candle interval {interval!r}; expected one of {', '.join(CANDLE_INTERVALS)}"
        ) from None


class InfoClient:
    """Reads from ``/info`` through an ``HlHttp`` (which owns rate limits and retries)."""

    def __init__(self, http: HlHttp) -> None:
        self._http = http

    async def _request(self, request: dict[str, Any]) -> Any:
        return await self._http.info(request)

    # ------------------------------------------------------------------ metadata

    async def meta(self) -> Meta:
        return parse(Meta, await self._request({"type": "meta"}), "meta")

    async def meta_and_asset_ctxs(self) -> tuple[Meta, list[AssetCtx]]:
        payload = await self._request({"type": "metaAndAssetCtxs"})
        if not isinstance(payload, list) or len(payload) != 2:
            raise HlPayloadError(
                f"metaAndAssetCtxs: expected [meta, asset contexts], got {payload!r:.200}"
            )
        meta = parse(Meta, payload[0], "metaAndAssetCtxs[0]")
        ctxs = parse(list[AssetCtx], payload[1], "metaAndAssetCtxs[1]")
        return meta, ctxs

    async def assets(self) -> dict[str, HlAsset]:
        """Tradable perpetuals by name; the asset index is the position in ``universe``
        (delisted assets keep their index but are left out)."""
        meta = await self.meta()
        return {
            entry.name: HlAsset(
                name=entry.name,
                asset=index,
                sz_decimals=entry.sz_decimals,
                max_leverage=entry.max_leverage,
                isolated_only=entry.isolated_only,
            )
            for index, entry in enumerate(meta.universe)
            if not entry.is_delisted
        }

    async def instruments(self) -> dict[str, Instrument]:
        return {name: to_instrument(asset) for name, asset in (await self.assets()).items()}

    # ------------------------------------------------------------------ market data

    async def all_mids(self) -> dict[str, Decimal]:
        return parse(dict[str, Decimal], await self._request({"type": "allMids"}), "allMids")

    async def l2_book(self, coin: str) -> L2Book:
        payload = await self._request({"type": "l2Book", "coin": coin})
        return parse(L2Book, payload, f"l2Book {coin}")

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> list[Candle]:
        """One ``candleSnapshot`` request: the candles from ``start_ms`` to ``end_ms``
        (inclusive) as the venue returns them, which may be only the first of them: the docs
        cap a time-range response at 500 elements (and keep the most recent 5000 candles)."""
        interval_ms(interval)
        request = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        return parse(list[Candle], await self._request(request), f"candleSnapshot {coin}")

    async def candles(
        self,
        coin: str,
        interval: str,
        start_ms: int,
        end_ms: int,
    ) -> AsyncIterator[list[Candle]]:
        """Candles opening in ``[start_ms, end_ms)``, one page per request, oldest first.

        Each page continues after the last candle of the previous one ("use the last
        returned timestamp as the next startTime", the docs say of time-range queries);
        candles seen before are dropped. Stops at ``end_ms``, at a page with nothing new,
        where no candle can open any more, or at a page shorter than the docs' cap of a
        time-range reply (``RANGE_REPLY_CAP``, 500): a longer one may have been cut short,
        whatever the venue's own page size.
        """
        interval_ms(interval)
        step = shortest_step_ms(interval)
        cursor = start_ms
        last_open = start_ms - 1
        while cursor < end_ms:
            page = await self.candle_snapshot(coin, interval, cursor, end_ms)
            fresh: dict[int, Candle] = {}
            for candle in page:
                if last_open < candle.open_ms < end_ms:
                    fresh.setdefault(candle.open_ms, candle)
            if fresh:
                ordered = [fresh[t] for t in sorted(fresh)]
                last_open = ordered[-1].open_ms
                cursor = last_open + 1
                yield ordered
            if not fresh or len(page) < RANGE_REPLY_CAP or last_open + step >= end_ms:
                return  # nothing new, the whole range sent, or no candle can open in the rest

    # ------------------------------------------------------------------ account

    async def clearinghouse_state(self, user: str) -> ClearinghouseState:
        payload = await self._request({"type": "clearinghouseState", "user": user})
        return parse(ClearinghouseState, payload, "clearinghouseState")

    async def open_orders(self, user: str) -> list[OpenOrder]:
        """Open orders with cloid, reduce-only and trigger fields (``frontendOpenOrders``)."""
        payload = await self._request({"type": "frontendOpenOrders", "user": user})
        return parse(list[OpenOrder], payload, "frontendOpenOrders")

    async def open_orders_basic(self, user: str) -> list[OpenOrder]:
        """Open orders as ``openOrders`` describes them (no reduce-only/trigger fields)."""
        payload = await self._request({"type": "openOrders", "user": user})
        return parse(list[OpenOrder], payload, "openOrders")

    async def user_fills(self, user: str) -> list[Fill]:
        """The most recent fills (at most 2000), as the venue orders them."""
        payload = await self._request({"type": "userFills", "user": user})
        return parse(list[Fill], payload, "userFills")

    async def user_fills_since(
        self,
        user: str,
        start_ms: int,
        end_ms: int | None = None,
        *,
        page_limit: int = FILLS_PAGE_LIMIT,
    ) -> list[Fill]:
        """Every fill from ``start_ms`` (to ``end_ms``, both inclusive), oldest first, each
        trade once (by ``tid``). Pages of ``page_limit`` continue from the last page's latest
        fill time, inclusive, so fills sharing that millisecond are not lost."""
        seen: set[int] = set()
        fills: list[Fill] = []
        cursor = start_ms
        while True:
            request: dict[str, Any] = {"type": "userFillsByTime", "user": user, "startTime": cursor}
            if end_ms is not None:
                request["endTime"] = end_ms
            page = parse(list[Fill], await self._request(request), "userFillsByTime")
            new = [fill for fill in page if fill.tid not in seen]
            seen.update(fill.tid for fill in new)
            fills.extend(new)
            if len(page) < page_limit or not new:
                break
            latest = max(fill.time for fill in page)
            # A full page inside one millisecond cannot be paged by time: move past it.
            cursor = latest if latest > cursor else latest + 1
            if end_ms is not None and cursor > end_ms:
                break
        fills.sort(key=lambda fill: (fill.time, fill.tid))
        return fills

    async def order_status(self, user: str, oid_or_cloid: int | str) -> OrderStatusReply:
        """An order by venue id (int) or client id (``0x`` + 32 hex digits)."""
        payload = await self._request({"type": "orderStatus", "user": user, "oid": oid_or_cloid})
        return parse(OrderStatusReply, payload, f"orderStatus {oid_or_cloid}")
