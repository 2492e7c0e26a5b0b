"""The fake Hyperliquid speaks the venue's wire protocol: signed actions, info, WebSocket pushes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets
from eth_account import Account
from eth_account.signers.local import LocalAccount

from algotrade.venues.hyperliquid.signing import (
    cancel_action,
    cancel_by_cloid_action,
    order_action,
    order_wire,
    sign_l1_action,
)
from testkit.fake_hyperliquid import FakeHyperliquid

GTC = {"limit": {"tif": "Gtc"}}
IOC = {"limit": {"tif": "Ioc"}}
ALO = {"limit": {"tif": "Alo"}}
BTC, ETH = 0, 1


def cloid(n: int) -> str:
    return f"0x{n:032x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Trader:
    """Signs like the client does: an API wallet (agent) acting for a user."""

    def __init__(self, http: httpx.AsyncClient, user: LocalAccount, signer: LocalAccount) -> None:
        self.http = http
        self.user = user
        self.signer = signer
        self._last_nonce = 0

    def nonce(self) -> int:
        self._last_nonce = max(now_ms(), self._last_nonce + 1)
        return self._last_nonce

    def body(self, action: dict[str, Any], nonce: int | None = None) -> dict[str, Any]:
        nonce = self.nonce() if nonce is None else nonce
        signature = sign_l1_action(self.signer.key.hex(), action, None, nonce, False)
        return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None}

    async def send(self, action: dict[str, Any], nonce: int | None = None) -> Any:
        reply = await self.http.post("/exchange", json=self.body(action, nonce))
        assert reply.status_code == 200, reply.text
        return reply.json()

    async def order(
        self,
        asset: int,
        is_buy: bool,
        px: str,
        sz: str,
        order_type: dict[str, Any] = GTC,
        cid: str | None = None,
        reduce_only: bool = False,
    ) -> dict[str, Any]:
        wire = order_wire(asset, is_buy, Decimal(px), Decimal(sz), reduce_only, order_type, cid)
        reply = await self.send(order_action([wire]))
        assert reply["status"] == "ok", reply
        status: dict[str, Any] = reply["response"]["data"]["statuses"][0]
        return status

    async def info(self, **body: Any) -> Any:
        reply = await self.http.post("/info", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid(idle_timeout_s=5) as fake:
        yield fake


@pytest.fixture
def venue(server: FakeHyperliquid) -> FakeHyperliquid:
    server.reset()
    return server


@pytest.fixture
async def http(venue: FakeHyperliquid) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=venue.base_url, timeout=5) as client:
        yield client


@pytest.fixture
def trader(venue: FakeHyperliquid, http: httpx.AsyncClient) -> Trader:
    user, agent = Account.create(), Account.create()
    venue.add_account(user.address, agents=[agent.address], balance=10_000)
    return Trader(http, user, agent)


class Feed:
    """A WebSocket client that reads JSON frames with a timeout."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 2.0) -> Any:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def subscribe(self, subscription: dict[str, Any]) -> None:
        await self.send({"method": "subscribe", "subscription": subscription})
        ack = await self.recv()
        assert ack == {
            "channel": "subscriptionResponse",
            "data": {"method": "subscribe", "subscription": subscription},
        }

    async def next_on(self, channel: str, timeout: float = 2.0) -> Any:
        while True:
            message = await self.recv(timeout)
            if message.get("channel") == channel:
                return message


@pytest.fixture
async def feed(venue: FakeHyperliquid) -> AsyncIterator[Feed]:
    async with websockets.connect(venue.ws_url) as ws:
        yield Feed(ws)


# --------------------------------------------------------------------------- info


async def test_market_info_shapes(venue: FakeHyperliquid, trader: Trader) -> None:
    meta = await trader.info(type="meta")
    assert meta["universe"][0] == {"name": "BTC", "szDecimals": 5, "maxLeverage": 50}
    venue.set_mid("BTC", "65000.5")
    assert (await trader.info(type="allMids"))["BTC"] == "65000.5"
    meta2, ctxs = await trader.info(type="metaAndAssetCtxs")
    assert meta2 == meta
    assert len(ctxs) == len(meta["universe"])
    assert ctxs[0]["midPx"] == "65000.5"
    assert all(isinstance(v, str) for v in ctxs[0].values() if not isinstance(v, list))
    book = await trader.info(type="l2Book", coin="BTC")
    assert book["coin"] == "BTC"
    assert book["levels"][0][0]["px"] == book["levels"][1][0]["px"] == "65000.5"


async def test_unknown_type_and_malformed_body_get_422(http: httpx.AsyncClient) -> None:
    assert (await http.post("/info", json={"type": "noSuchThing"})).status_code == 422
    assert (await http.post("/info", content=b"{not json")).status_code == 422
    assert (await http.post("/info", json={"type": "clearinghouseState"})).status_code == 422
    assert (await http.post("/exchange", json={"action": {"type": "order"}})).status_code == 422


async def test_candle_snapshot_pages_at_5000(venue: FakeHyperliquid, trader: Trader) -> None:
    start = 1_700_000_000_000
    first_bars = venue.generate_candles("ETH", "1m", start, 50, seed=7)
    assert first_bars == venue.generate_candles("ETH", "1m", start, 50, seed=7)  # deterministic
    total = 10_001
    venue.generate_candles("BTC", "1m", start, total, seed=7)
    got: list[dict[str, Any]] = []
    cursor, end = start, start + total * 60_000
    while True:
        req = {"coin": "BTC", "interval": "1m", "startTime": cursor, "endTime": end}
        page = await trader.info(type="candleSnapshot", req=req)
        assert len(page) <= 5000
        if not page:
            break
        got.extend(page)
        cursor = page[-1]["t"] + 1
    assert len(got) == total
    assert [c["t"] for c in got] == [start + i * 60_000 for i in range(total)]
    first = got[0]
    assert first["T"] == start + 59_999
    assert first["s"] == "BTC"
    assert first["i"] == "1m"
    assert Decimal(first["l"]) <= Decimal(first["o"]) <= Decimal(first["h"])


# --------------------------------------------------------------------------- signatures, nonces


async def test_tampered_signature_is_refused(venue: FakeHyperliquid, trader: Trader) -> None:
    action = order_action([order_wire(BTC, True, Decimal(60000), Decimal("0.01"), False, GTC)])
    body = trader.body(action)
    body["action"]["orders"][0]["s"] = "1"  # signed 0.01, sent 1: another signer recovers
    reply = (await trader.http.post("/exchange", json=body)).json()
    assert reply["status"] == "err"
    assert reply["response"].startswith("User or API Wallet 0x")
    assert reply["response"].endswith("does not exist.")
    assert venue.actions == []
    assert venue.open_orders(trader.user.address) == []


async def test_unknown_agent_is_refused_and_the_user_may_sign(
    venue: FakeHyperliquid, trader: Trader
) -> None:
    stranger = Account.create()
    rogue = Trader(trader.http, trader.user, stranger)
    action = order_action([order_wire(BTC, True, Decimal(60000), Decimal("0.01"), False, GTC)])
    reply = await rogue.send(action)
    assert reply == {
        "status": "err",
        "response": f"User or API Wallet {stranger.address.lower()} does not exist.",
    }
    owner = Trader(trader.http, trader.user, trader.user)  # the user signs for itself
    assert "resting" in (await owner.order(BTC, True, "60000", "0.01"))
    assert venue.actions[-1]["signer"] == trader.user.address.lower()
    assert venue.actions[-1]["user"] == trader.user.address.lower()


async def test_nonce_reuse_and_stale_nonce_are_refused(
    venue: FakeHyperliquid, trader: Trader
) -> None:
    action = cancel_action([(BTC, 1)])
    nonce = trader.nonce()
    assert (await trader.send(action, nonce))["status"] == "ok"
    again = await trader.send(action, nonce)
    assert again["status"] == "err"
    assert again["response"].startswith("Invalid nonce")
    stale = await trader.send(action, now_ms() - 3 * 24 * 3600 * 1000)
    assert stale["response"].startswith("Invalid nonce")
    future = await trader.send(action, now_ms() + 2 * 24 * 3600 * 1000)
    assert future["response"].startswith("Invalid nonce")
    assert len(venue.actions) == 1


# --------------------------------------------------------------------------- orders


async def test_order_statuses(venue: FakeHyperliquid, trader: Trader) -> None:
    resting = await trader.order(BTC, True, "64000", "0.01", cid=cloid(1))
    assert set(resting) == {"resting"}
    filled = await trader.order(BTC, True, "66000", "0.02")
    assert filled["filled"]["totalSz"] == "0.02"
    assert filled["filled"]["avgPx"] == "65000.0"  # at the touch, not the limit
    ioc = await trader.order(BTC, False, "66000", "0.01", IOC)
    assert ioc == {"error": "Order could not immediately match against any resting orders. asset=0"}
    alo = await trader.order(BTC, True, "65500", "0.01", ALO)
    assert alo["error"].startswith("Post only order would have immediately matched, bbo was")
    assert await trader.order(BTC, True, "64000.5", "0.01") == {"error": "Order has invalid price."}
    for px in ("3000.12", "30.123"):  # 6 significant figures; 3 decimals > 6 - szDecimals 4
        assert await trader.order(ETH, True, px, "1") == {"error": "Order has invalid price."}
    assert await trader.order(BTC, True, "64000", "0.000001") == {
        "error": "Order has invalid size."
    }
    assert await trader.order(BTC, True, "64000", "0.0001") == {
        "error": "Order must have minimum value of $10."
    }
    assert await trader.order(BTC, True, "66000", "0.01", reduce_only=True) == {
        "error": "Reduce only order would increase position."
    }
    duplicate = await trader.order(BTC, True, "63000", "0.01", cid=cloid(1))
    assert "error" in duplicate
    assert "duplicate cloid" in duplicate["error"]
    assert venue.orders_by_cloid(cloid(1)) == 2
    assert [o["oid"] for o in venue.open_orders(trader.user.address)] == [resting["resting"]["oid"]]


async def test_reduce_only_is_clamped_to_the_position(
    venue: FakeHyperliquid, trader: Trader
) -> None:
    venue.set_position(trader.user.address, "BTC", "0.01", "60000")
    status = await trader.order(BTC, False, "60000", "0.05", reduce_only=True)
    assert status["filled"]["totalSz"] == "0.01"
    assert venue.position(trader.user.address, "BTC").szi == 0
    fill = venue.fills(trader.user.address)[-1]
    assert fill["dir"] == "Close Long"
    assert Decimal(fill["closedPnl"]) == Decimal(50)  # 0.01 × (65000 - 60000)


async def test_cancel_and_cancel_by_cloid(venue: FakeHyperliquid, trader: Trader) -> None:
    first = (await trader.order(BTC, True, "64000", "0.01"))["resting"]["oid"]
    await trader.order(BTC, True, "63000", "0.01", cid=cloid(9))
    reply = await trader.send(cancel_action([(BTC, first), (BTC, first)]))
    assert reply["response"] == {
        "type": "cancel",
        "data": {
            "statuses": [
                "success",
                {"error": "Order was never placed, already canceled, or filled. asset=0"},
            ]
        },
    }
    reply = await trader.send(cancel_by_cloid_action([(BTC, cloid(9))]))
    assert reply["response"]["data"]["statuses"] == ["success"]
    assert venue.open_orders(trader.user.address) == []
    assert venue.order_status(first) == "canceled"


async def test_order_status_by_oid_and_cloid(venue: FakeHyperliquid, trader: Trader) -> None:
    oid = (await trader.order(BTC, False, "66000", "0.01", cid=cloid(5)))["resting"]["oid"]
    user = trader.user.address
    by_oid = await trader.info(type="orderStatus", user=user, oid=oid)
    by_cloid = await trader.info(type="orderStatus", user=user, oid=cloid(5))
    assert by_oid == by_cloid
    assert by_oid["status"] == "order"
    assert by_oid["order"]["status"] == "open"
    order = by_oid["order"]["order"]
    assert order["cloid"] == cloid(5)
    assert order["side"] == "A"
    assert order["limitPx"] == "66000.0"
    assert order["orderType"] == "Limit"
    assert order["tif"] == "Gtc"
    assert order["reduceOnly"] is False
    venue.set_mid("BTC", 66_500)
    filled = await trader.info(type="orderStatus", user=user, oid=cloid(5))
    assert filled["order"]["status"] == "filled"
    unknown = await trader.info(type="orderStatus", user=user, oid=cloid(6))
    assert unknown == {"status": "unknownOid"}
    assert await trader.info(type="orderStatus", user=user, oid=1) == {"status": "unknownOid"}


async def test_clearinghouse_state_after_fills(venue: FakeHyperliquid, trader: Trader) -> None:
    user = trader.user.address
    leverage = {"type": "updateLeverage", "asset": BTC, "isCross": True, "leverage": 10}
    assert await trader.send(leverage) == {"status": "ok", "response": {"type": "default"}}
    too_high = {**leverage, "leverage": 51}
    assert await trader.send(too_high) == {"status": "err", "response": "Invalid leverage value"}
    await trader.order(BTC, True, "65000", "0.01")
    await trader.order(BTC, True, "65000", "0.01")
    venue.set_mid("BTC", 66_000)
    state = await trader.info(type="clearinghouseState", user=user)
    (entry,) = state["assetPositions"]
    position = entry["position"]
    assert entry["type"] == "oneWay"
    assert position["szi"] == "0.02"
    assert position["entryPx"] == "65000.0"
    assert Decimal(position["unrealizedPnl"]) == Decimal(20)
    assert Decimal(position["positionValue"]) == Decimal(1320)
    assert position["leverage"] == {"type": "cross", "value": 10}
    assert Decimal(position["marginUsed"]) == Decimal(132)
    fees = 2 * Decimal("0.01") * 65000 * Decimal("0.00035")
    summary = state["marginSummary"]
    assert Decimal(summary["accountValue"]) == 10_000 + 20 - fees
    assert state["crossMarginSummary"] == summary
    await trader.order(BTC, False, "60000", "0.02", IOC)
    state = await trader.info(type="clearinghouseState", user=user)
    assert state["assetPositions"] == []  # flat positions are omitted
    close = venue.fills(user)[-1]
    assert close["dir"] == "Close Long"
    assert close["startPosition"] == "0.02"
    assert Decimal(close["closedPnl"]) == Decimal(20)
    newest_first = await trader.info(type="userFills", user=user)
    assert [f["tid"] for f in newest_first] == [f["tid"] for f in reversed(venue.fills(user))]
    by_time = await trader.info(type="userFillsByTime", user=user, startTime=0)
    assert by_time == venue.fills(user)


async def test_fill_queries_keep_the_docs_caps(venue: FakeHyperliquid, trader: Trader) -> None:
    """userFills: the 2000 most recent, newest first. userFillsByTime: at most 2000 a reply,
    the oldest of the range first, and only the 10,000 most recent fills are reachable."""
    user = trader.user.address
    with venue.state.lock:
        fills = venue.state.account(user).fills
        fills += [{"tid": tid, "time": 1_000 + tid} for tid in range(10_500)]
    recent = await trader.info(type="userFills", user=user)
    assert [f["tid"] for f in recent] == list(range(10_499, 8_499, -1))
    first = await trader.info(type="userFillsByTime", user=user, startTime=0)
    assert [f["tid"] for f in first] == list(range(500, 2_500))
    last = await trader.info(type="userFillsByTime", user=user, startTime=1_000 + 10_000)
    assert [f["tid"] for f in last] == list(range(10_000, 10_500))


async def test_trigger_order_fires_on_the_mid(venue: FakeHyperliquid, trader: Trader) -> None:
    venue.set_position(trader.user.address, "BTC", "0.01", "65000")
    stop = {"trigger": {"isMarket": True, "triggerPx": "64000", "tpsl": "sl"}}
    oid = (await trader.order(BTC, False, "60000", "0.01", stop, reduce_only=True))["resting"][
        "oid"
    ]
    (open_order,) = await trader.info(type="frontendOpenOrders", user=trader.user.address)
    assert open_order["orderType"] == "Stop Market"
    assert open_order["isTrigger"] is True
    assert open_order["triggerPx"] == "64000.0"
    venue.set_mid("BTC", 64_500)
    assert venue.order_status(oid) == "open"
    venue.set_mid("BTC", 63_900)
    assert venue.order_status(oid) == "filled"
    assert venue.fills(trader.user.address)[-1]["px"] == "63900.0"
    assert venue.position(trader.user.address, "BTC").szi == 0


# --------------------------------------------------------------------------- HTTP faults


async def test_429_injection(venue: FakeHyperliquid, http: httpx.AsyncClient) -> None:
    venue.fail_next(2, status=429, path="/info")
    for _ in range(2):
        reply = await http.post("/info", json={"type": "meta"})
        assert reply.status_code == 429
        assert reply.json() == {"error": "rate limited"}
    assert (await http.post("/info", json={"type": "meta"})).status_code == 200
    assert venue.request_count("/info", "meta") == 3
    assert venue.request_count("/exchange") == 0


async def test_delayed_exchange_reply_still_acts(venue: FakeHyperliquid, trader: Trader) -> None:
    venue.delay_next_exchange(0.5)
    action = order_action([order_wire(BTC, True, Decimal(64000), Decimal("0.01"), False, GTC)])
    with pytest.raises(httpx.ReadTimeout):
        await trader.http.post("/exchange", json=trader.body(action), timeout=0.1)
    assert len(venue.open_orders(trader.user.address)) == 1  # the venue did act


# --------------------------------------------------------------------------- WebSocket


async def test_maker_fill_pushes_order_updates_and_fills(
    venue: FakeHyperliquid, trader: Trader, feed: Feed
) -> None:
    user = trader.user.address.lower()
    await feed.subscribe({"type": "orderUpdates", "user": trader.user.address})
    await feed.subscribe({"type": "userFills", "user": trader.user.address})
    snapshot = await feed.recv()
    assert snapshot == {
        "channel": "userFills",
        "data": {"isSnapshot": True, "user": user, "fills": []},
    }
    await feed.subscribe({"type": "trades", "coin": "BTC"})
    oid = (await trader.order(BTC, True, "64000", "0.01", cid=cloid(3)))["resting"]["oid"]
    opened = await feed.next_on("orderUpdates")
    assert opened["data"][0]["status"] == "open"
    assert opened["data"][0]["order"]["oid"] == oid
    assert opened["data"][0]["order"]["cloid"] == cloid(3)
    venue.set_mid("BTC", 63_990)
    fills = await feed.next_on("userFills")
    (fill,) = fills["data"]["fills"]
    assert "isSnapshot" not in fills["data"]
    assert fill["oid"] == oid
    assert fill["px"] == "64000.0"  # a maker fills at its own price
    assert fill["crossed"] is False
    assert fill["cloid"] == cloid(3)
    assert Decimal(fill["fee"]) == Decimal("0.064")  # 640 × 0.0001
    trade = (await feed.next_on("trades"))["data"][0]
    assert trade["users"][0] == user
    assert trade["side"] == "A"  # the aggressor sold into our bid
    done = await feed.next_on("orderUpdates")
    assert done["data"][0]["status"] == "filled"
    assert done["data"][0]["order"]["sz"] == "0.0"


async def test_market_channels_ping_and_errors(venue: FakeHyperliquid, feed: Feed) -> None:
    await feed.send({"method": "ping"})
    assert await feed.recv() == {"channel": "pong"}
    await feed.subscribe({"type": "allMids"})
    assert (await feed.recv())["channel"] == "allMids"  # the current mids come first
    await feed.subscribe({"type": "candle", "coin": "BTC", "interval": "1m"})
    venue.set_mid("ETH", "3001.5")
    assert (await feed.next_on("allMids"))["data"]["mids"]["ETH"] == "3001.5"
    t = 1_700_000_040_000
    venue.publish_candle("BTC", "1m", t, 1, 2, "0.5", 1, 10, 3)
    venue.publish_candle("BTC", "1m", t, 1, 3, "0.5", "2.5", 12, 4)
    assert (await feed.next_on("candle"))["data"]["c"] == "1.0"
    latest = (await feed.next_on("candle"))["data"]
    assert latest["c"] == "2.5"
    assert latest["T"] == t + 59_999
    await feed.send({"method": "subscribe", "subscription": {"type": "nope"}})
    assert (await feed.recv())["channel"] == "error"
    venue.inject_ws_message("{garbage")
    assert await asyncio.wait_for(feed.ws.recv(), 2) == "{garbage"
    await feed.send({"method": "unsubscribe", "subscription": {"type": "allMids"}})
    assert (await feed.recv())["data"]["method"] == "unsubscribe"
    venue.ws_silence(True)
    venue.set_mid("ETH", "3002")
    await feed.send({"method": "ping"})
    assert await feed.recv() == {"channel": "pong"}  # silence stops pushes, not pongs


async def test_candle_store_keeps_the_last_update(venue: FakeHyperliquid, trader: Trader) -> None:
    t = 1_700_000_040_000
    venue.publish_candle("BTC", "1m", t, 1, 2, "0.5", 1, 10, 3)
    venue.publish_candle("BTC", "1m", t, 1, 3, "0.5", "2.5", 12, 4)
    req = {"coin": "BTC", "interval": "1m", "startTime": t, "endTime": t}
    (bar,) = await trader.info(type="candleSnapshot", req=req)
    assert (bar["c"], bar["n"]) == ("2.5", 4)


async def drain(ws: Any) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 2)


@pytest.mark.parametrize(("code", "expected"), [(None, 1006), (1011, 1011)])
async def test_dropped_websockets(venue: FakeHyperliquid, code: int | None, expected: int) -> None:
    async with websockets.connect(venue.ws_url) as ws:
        await Feed(ws).subscribe({"type": "allMids"})
        assert venue.ws_subscriptions() == [{"type": "allMids"}]
        assert venue.drop_websockets(code) == 1
        with pytest.raises(websockets.ConnectionClosed) as info:
            await drain(ws)
        assert ws.close_code == expected
        assert (info.value.rcvd is None) == (code is None)  # None: no close frame at all
    assert venue.ws_connections() == 0
    async with websockets.connect(venue.ws_url) as ws:  # clients may reconnect at once
        await Feed(ws).subscribe({"type": "allMids"})


async def test_idle_connection_is_closed_unless_it_pings() -> None:
    with FakeHyperliquid(idle_timeout_s=0.3) as venue:
        async with (
            websockets.connect(venue.ws_url) as quiet,
            websockets.connect(venue.ws_url) as chatty,
        ):
            for _ in range(3):
                await chatty.send(json.dumps({"method": "ping"}))
                assert json.loads(await asyncio.wait_for(chatty.recv(), 1)) == {"channel": "pong"}
                await asyncio.sleep(0.15)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(quiet.recv(), 1)
            assert venue.ws_connections() == 1


def test_restart_keeps_url_and_state() -> None:
    venue = FakeHyperliquid().start()
    try:
        url = venue.base_url
        venue.set_mid("BTC", 70_000)
        venue.stop()
        venue.start()
        assert venue.base_url == url
        assert httpx.post(f"{url}/info", json={"type": "allMids"}).json()["BTC"] == "70000.0"
    finally:
        venue.stop()
