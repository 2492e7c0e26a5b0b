"""InfoClient against documented /info payloads served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from algotrade.venues.hyperliquid.config import HyperliquidConfig
from algotrade.venues.hyperliquid.errors import HlPayloadError
from algotrade.venues.hyperliquid.http import HlHttp
from algotrade.venues.hyperliquid.info import InfoClient, interval_ms

USER = "0x" + "12" * 20
CLOID = "0x" + "0f" * 16
MINUTE = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z

META = {
    "universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 50},
        {"name": "OLD", "szDecimals": 0, "maxLeverage": 3, "isDelisted": True},
        {"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "onlyIsolated": False},
    ]
}
ASSET_CTX = {
    "dayNtlVlm": "1169046.29406",
    "funding": "0.0000125",
    "impactPxs": ["14.3047", "14.3444"],
    "markPx": "14.3161",
    "midPx": "14.314",
    "openInterest": "688.11",
    "oraclePx": "14.32",
    "premium": "0.00031774",
    "prevDayPx": "15.322",
}
FRONTEND_ORDER = {
    "coin": "BTC",
    "isPositionTpsl": False,
    "isTrigger": True,
    "limitPx": "28500.0",
    "oid": 91490942,
    "orderType": "Stop Market",
    "origSz": "0.01",
    "reduceOnly": True,
    "side": "A",
    "sz": "0.01",
    "tif": None,
    "timestamp": 1681247412573,
    "triggerCondition": "Price below 29000",
    "triggerPx": "29000.0",
    "cloid": CLOID,
}
BASIC_ORDER = {
    "coin": "ETH",
    "limitPx": "2000.5",
    "oid": 7,
    "side": "B",
    "sz": "0.5",
    "origSz": "1.0",
    "timestamp": 1681247412000,
}
CLEARINGHOUSE = {
    "assetPositions": [
        {
            "position": {
                "coin": "ETH",
                "cumFunding": {"allTime": "514.085417", "sinceChange": "0.0", "sinceOpen": "0.0"},
                "entryPx": "2986.3",
                "leverage": {"rawUsd": "-95.059824", "type": "isolated", "value": 20},
                "liquidationPx": "2866.26936529",
                "marginUsed": "4.967826",
                "maxLeverage": 50,
                "positionValue": "100.02765",
                "returnOnEquity": "-0.0026789",
                "szi": "-0.0335",
                "unrealizedPnl": "-0.0134",
            },
            "type": "oneWay",
        }
    ],
    "crossMaintenanceMarginUsed": "0.0",
    "marginSummary": {
        "accountValue": "13109.482328",
        "totalMarginUsed": "4.967826",
        "totalNtlPos": "100.02765",
        "totalRawUsd": "13009.454678",
    },
    "time": 1708622398623,
    "withdrawable": "13104.514502",
}

Route = Callable[[dict[str, Any]], Any]


def candle(t: int, coin: str = "BTC", interval: str = "1m") -> dict[str, Any]:
    return {
        "t": t,
        "T": t + interval_ms(interval) - 1,
        "s": coin,
        "i": interval,
        "o": "42000.5",
        "c": "42010.0",
        "h": "42020.0",
        "l": "41990.0",
        "v": "1.25",
        "n": 17,
    }


def fill(tid: int, time: int) -> dict[str, Any]:
    return {
        "closedPnl": "0.0",
        "coin": "BTC",
        "crossed": True,
        "dir": "Open Long",
        "hash": "0xa166",
        "oid": 90542681,
        "px": "42000.0",
        "side": "B",
        "startPosition": "0.0",
        "sz": "0.001",
        "time": time,
        "fee": "0.0168",
        "feeToken": "USDC",
        "tid": tid,
    }


class FakeInfo:
    """Routes /info requests by ``type``; records every request body."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/info"
        body = json.loads(request.content)
        self.requests.append(body)
        return httpx.Response(200, json=self.routes[body["type"]](body))


async def run_info(routes: dict[str, Route], call: Callable[[InfoClient], Any]) -> Any:
    fake = FakeInfo(routes)
    config = HyperliquidConfig(api_url="http://hl.test")
    async with HlHttp(config, transport=httpx.MockTransport(fake.handler)) as http:
        result = await call(InfoClient(http))
    return result, fake.requests


async def test_assets_follow_universe_positions_and_skip_delisted() -> None:
    assets, _ = await run_info({"meta": lambda body: META}, lambda info: info.assets())
    assert list(assets) == ["BTC", "ETH", "SOL"]
    assert assets["SOL"].asset == 3  # its index in the universe, delisted OLD included
    assert assets["BTC"].sz_decimals == 5
    instruments, _ = await run_info({"meta": lambda body: META}, lambda info: info.instruments())
    assert instruments["BTC"].lot_size == Decimal("0.00001")
    assert instruments["BTC"].tick_size == Decimal("0.1")


async def test_meta_and_asset_ctxs() -> None:
    routes: dict[str, Route] = {"metaAndAssetCtxs": lambda body: [META, [ASSET_CTX] * 4]}
    (meta, ctxs), _ = await run_info(routes, lambda info: info.meta_and_asset_ctxs())
    assert meta.universe[0].name == "BTC"
    assert ctxs[0].mark_px == Decimal("14.3161")
    with pytest.raises(HlPayloadError, match="metaAndAssetCtxs"):
        await run_info({"metaAndAssetCtxs": lambda body: META}, lambda i: i.meta_and_asset_ctxs())


async def test_all_mids_and_l2_book() -> None:
    book = {
        "coin": "BTC",
        "time": 1_700_000_000_000,
        "levels": [
            [{"px": "19900", "sz": "1", "n": 1}, {"px": "19800", "sz": "2", "n": 2}],
            [{"px": "20100", "sz": "1", "n": 1}],
        ],
    }
    routes: dict[str, Route] = {
        "allMids": lambda body: {"BTC": "20000.5", "@107": "1.2"},
        "l2Book": lambda body: book,
    }
    mids, _ = await run_info(routes, lambda info: info.all_mids())
    assert mids == {"BTC": Decimal("20000.5"), "@107": Decimal("1.2")}
    parsed, requests = await run_info(routes, lambda info: info.l2_book("BTC"))
    assert requests == [{"type": "l2Book", "coin": "BTC"}]
    bids, asks = parsed.levels
    assert bids[1].px == Decimal("19800")
    assert asks[0].sz == Decimal("1")


def candle_venue(available: list[int], limit: int = 5000) -> Route:
    """candleSnapshot as the venue serves it: the oldest ``limit`` candles in the range."""

    def route(body: dict[str, Any]) -> list[dict[str, Any]]:
        req = body["req"]
        chosen = [t for t in available if req["startTime"] <= t <= req["endTime"]]
        return [candle(t) for t in chosen[:limit]]

    return route


async def test_candle_snapshot_is_one_request() -> None:
    routes = {"candleSnapshot": candle_venue([T0 + i * MINUTE for i in range(6000)])}
    candles, requests = await run_info(
        routes, lambda info: info.candle_snapshot("BTC", "1m", T0, T0 + 6000 * MINUTE)
    )
    assert len(candles) == 5000
    assert requests == [
        {
            "type": "candleSnapshot",
            "req": {
                "coin": "BTC",
                "interval": "1m",
                "startTime": T0,
                "endTime": T0 + 6000 * MINUTE,
            },
        }
    ]
    assert candles[0].open == Decimal("42000.5")
    assert candles[0].to_bar().ts == T0 * 1_000_000


async def collect_pages(info: InfoClient, start: int, end: int) -> list[list[int]]:
    return [[c.open_ms for c in page] async for page in info.candles("BTC", "1m", start, end)]


async def test_candles_page_on_while_a_reply_may_have_been_cut_short() -> None:
    # A venue with pages of 5000: a page of 2345 (not under the docs' cap of 500) may still
    # have been cut short, so one more request asks; it brings nothing and ends the paging.
    times = [T0 + i * MINUTE for i in range(12_345)]
    end = T0 + 20_000 * MINUTE
    pages, requests = await run_info(
        {"candleSnapshot": candle_venue(times)}, lambda info: collect_pages(info, T0, end)
    )
    assert [len(p) for p in pages] == [5000, 5000, 2345]
    assert [t for page in pages for t in page] == times
    starts = [r["req"]["startTime"] for r in requests]
    # each page after the last candle
    assert starts == [T0, times[4999] + 1, times[9999] + 1, times[12344] + 1]


async def test_candles_page_past_the_docs_cap_of_500_per_reply() -> None:
    """Defect: paging stopped at the first page under 5000 candles, but the docs cap every
    time-range reply at 500: 'fetch-data' kept the first 500 candles and said nothing."""
    times = [T0 + i * MINUTE for i in range(1234)]
    end = T0 + 20_000 * MINUTE
    pages, requests = await run_info(
        {"candleSnapshot": candle_venue(times, limit=500)},
        lambda info: collect_pages(info, T0, end),
    )
    assert [len(p) for p in pages] == [500, 500, 234]
    assert [t for page in pages for t in page] == times
    assert len(requests) == 3  # the short last page holds the rest of the range


async def test_candles_stop_where_no_candle_can_open_any_more() -> None:
    times = [T0 + i * MINUTE for i in range(1000)]
    pages, requests = await run_info(
        {"candleSnapshot": candle_venue(times, limit=500)},
        lambda info: collect_pages(info, T0, T0 + 1000 * MINUTE),
    )
    assert [t for page in pages for t in page] == times
    assert len(requests) == 2  # the second page ends at the range's last minute


async def test_candles_stop_at_end_exclusive_and_drop_duplicates() -> None:
    times = [T0 + i * MINUTE for i in range(10_000)]

    def overlapping(body: dict[str, Any]) -> list[dict[str, Any]]:
        # A venue that also returns the candle containing startTime (and repeats one).
        req = body["req"]
        start = req["startTime"] - req["startTime"] % MINUTE
        chosen = [t for t in times if start <= t <= req["endTime"]][:5000]
        return [candle(t) for t in [*chosen, chosen[-1]]][:5000]

    end = T0 + 7000 * MINUTE
    pages, _ = await run_info(
        {"candleSnapshot": overlapping}, lambda info: collect_pages(info, T0, end)
    )
    flat = [t for page in pages for t in page]
    assert flat == times[:7000]  # none at or after end, none twice


async def test_candles_stop_on_empty_page() -> None:
    pages, requests = await run_info(
        {"candleSnapshot": lambda body: []}, lambda info: collect_pages(info, T0, T0 + MINUTE)
    )
    assert pages == []
    assert len(requests) == 1
    with pytest.raises(ValueError, match="7m"):
        await run_info({}, lambda info: info.candle_snapshot("BTC", "7m", 0, 1))


async def test_account_reads() -> None:
    routes: dict[str, Route] = {
        "clearinghouseState": lambda body: CLEARINGHOUSE,
        "frontendOpenOrders": lambda body: [FRONTEND_ORDER],
        "openOrders": lambda body: [BASIC_ORDER],
        "userFills": lambda body: [fill(1, T0), fill(2, T0 + 1)],
    }
    state, requests = await run_info(routes, lambda info: info.clearinghouse_state(USER))
    assert requests == [{"type": "clearinghouseState", "user": USER}]
    assert state.positions() == {"ETH": Decimal("-0.0335")}
    assert state.margin_summary.account_value == Decimal("13109.482328")

    orders, requests = await run_info(routes, lambda info: info.open_orders(USER))
    assert requests[0]["type"] == "frontendOpenOrders"
    (order,) = orders
    assert (order.cloid, order.reduce_only, order.is_trigger) == (CLOID, True, True)
    assert order.trigger_px == Decimal("29000.0")

    basic, _ = await run_info(routes, lambda info: info.open_orders_basic(USER))
    assert basic[0].orig_sz == Decimal("1.0")
    assert basic[0].cloid is None

    fills, _ = await run_info(routes, lambda info: info.user_fills(USER))
    assert [f.tid for f in fills] == [1, 2]
    assert fills[0].to_order_filled("c1").fee == Decimal("0.0168")


async def test_user_fills_since_pages_by_time_without_losing_or_repeating() -> None:
    # 4500 fills; several share a millisecond across the 2000-fill page boundaries.
    all_fills = [fill(tid=10_000 + i, time=T0 + i // 3) for i in range(4500)]

    def by_time(body: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = [f for f in all_fills if f["time"] >= body["startTime"]]
        if "endTime" in body:
            chosen = [f for f in chosen if f["time"] <= body["endTime"]]
        return chosen[:2000]

    fills, requests = await run_info(
        {"userFillsByTime": by_time}, lambda info: info.user_fills_since(USER, T0)
    )
    assert [f.tid for f in fills] == [f["tid"] for f in all_fills]
    assert requests[0] == {"type": "userFillsByTime", "user": USER, "startTime": T0}
    assert len(requests) == 3
    assert requests[1]["startTime"] == all_fills[1999]["time"]  # inclusive: shared ms kept

    bounded, requests = await run_info(
        {"userFillsByTime": by_time}, lambda info: info.user_fills_since(USER, T0, T0 + 9)
    )
    assert [f.tid for f in bounded] == [10_000 + i for i in range(30)]
    assert requests[0]["endTime"] == T0 + 9


async def test_order_status_by_oid_and_cloid() -> None:
    known = {
        "status": "order",
        "order": {"order": BASIC_ORDER | {"cloid": CLOID}, "status": "open", "statusTimestamp": 5},
    }

    def status(body: dict[str, Any]) -> dict[str, Any]:
        return known if body["oid"] in (7, CLOID) else {"status": "unknownOid"}

    reply, requests = await run_info(
        {"orderStatus": status}, lambda info: info.order_status(USER, CLOID)
    )
    assert requests == [{"type": "orderStatus", "user": USER, "oid": CLOID}]
    assert reply.known
    assert reply.order is not None
    assert reply.order.is_open
    assert reply.order.order.cloid == CLOID
    by_oid, requests = await run_info({"orderStatus": status}, lambda i: i.order_status(USER, 7))
    assert requests[0]["oid"] == 7
    assert by_oid.known
    missing, _ = await run_info({"orderStatus": status}, lambda i: i.order_status(USER, 8))
    assert not missing.known


async def test_malformed_payload_names_the_request() -> None:
    with pytest.raises(HlPayloadError, match="clearinghouseState"):
        await run_info(
            {"clearinghouseState": lambda body: {"assetPositions": "nope"}},
            lambda info: info.clearinghouse_state(USER),
        )
