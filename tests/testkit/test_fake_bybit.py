"""The fake Bybit speaks Bybit's v5 wire protocol as the docs describe it.

Signatures are computed here from the docs' rule (docs/v5/guide#create-a-request,
docs/v5/ws/connect#authentication), independently of the fake's own code.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from testkit.fake_bybit import FakeBybit

KEY, SECRET = "fake-api-key-1", "fake-api-secret-1"
KEY2, SECRET2 = "fake-api-key-2", "fake-api-secret-2"
MIN = 60_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class Client:
    """Signs as docs/v5/guide says: timestamp + apiKey + recvWindow + (queryString | jsonBody)."""

    def __init__(self, http: httpx.AsyncClient, key: str = KEY, secret: str = SECRET) -> None:
        self.http, self.key, self.secret = http, key, secret

    def headers(
        self, payload: str, ts: int | None = None, recv: str | None = "5000"
    ) -> dict[str, str]:
        ts_text = str(now_ms() if ts is None else ts)
        headers = {
            "X-BAPI-API-KEY": self.key,
            "X-BAPI-TIMESTAMP": ts_text,
            "X-BAPI-SIGN": hmac_hex(self.secret, ts_text + self.key + (recv or "") + payload),
        }
        if recv is not None:
            headers["X-BAPI-RECV-WINDOW"] = recv
        return headers

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = urlencode(params)
        reply = await self.http.get(f"{path}?{query}", headers=self.headers(query))
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    async def post(self, path: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        text = json.dumps(body)
        headers = {**self.headers(text), "Content-Type": "application/json"}
        return await self.http.post(path, content=text, headers=headers, **kw)

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.post(path, body)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    async def order(self, **fields: Any) -> dict[str, Any]:
        body = {"category": "linear", "symbol": "BTCUSDT", **fields}
        return await self.call("/v5/order/create", body)

    async def ok_order(self, **fields: Any) -> str:
        reply = await self.order(**fields)
        assert reply["retCode"] == 0, reply
        return str(reply["result"]["orderId"])

    async def lookup(self, **by: str) -> dict[str, Any]:
        reply = await self.get("/v5/order/realtime", category="linear", **by)
        assert reply["retCode"] == 0, reply
        assert len(reply["result"]["list"]) == 1, reply
        return dict(reply["result"]["list"][0])


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBybit]:
    with FakeBybit() as venue:
        yield venue


@pytest.fixture
def venue(server: FakeBybit) -> FakeBybit:
    server.reset()
    server.add_account(KEY, SECRET, balance=10_000)
    return server


@pytest.fixture
async def client(venue: FakeBybit) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(base_url=venue.base_url, timeout=5) as http:
        yield Client(http)


def uid_of(venue: FakeBybit) -> str:
    return venue.state.by_key[KEY]


# ---------------------------------------------------------------------- public REST


async def test_public_market_endpoints(venue: FakeBybit, client: Client) -> None:
    reply = (await client.http.get("/v5/market/time")).json()
    assert set(reply) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
    assert reply["retCode"] == 0
    assert abs(int(reply["result"]["timeSecond"]) - time.time()) < 60
    assert reply["result"]["timeNano"].startswith(reply["result"]["timeSecond"])

    info = (await client.http.get("/v5/market/instruments-info?category=linear")).json()
    btc = next(i for i in info["result"]["list"] if i["symbol"] == "BTCUSDT")
    assert btc["priceFilter"]["tickSize"] == "0.1"
    lot = btc["lotSizeFilter"]
    assert (lot["qtyStep"], lot["minOrderQty"], lot["minNotionalValue"]) == ("0.001", "0.001", "5")
    assert {"maxOrderQty", "maxMktOrderQty"} <= set(lot)
    assert btc["contractType"] == "LinearPerpetual"
    assert btc["settleCoin"] == "USDT"

    venue.add_klines("BTCUSDT", "1", [(t * MIN, 1, 3, "0.5", 2, 10) for t in range(5)])
    kline = (await client.http.get("/v5/market/kline?symbol=BTCUSDT&interval=1&limit=3")).json()
    rows = kline["result"]["list"]
    assert [r[0] for r in rows] == [str(4 * MIN), str(3 * MIN), str(2 * MIN)]  # newest first
    assert rows[0] == [str(4 * MIN), "1", "3", "0.5", "2", "10", "20"]
    assert venue.price("BTCUSDT") == 65000  # stored klines do not move the price

    venue.set_price("BTCUSDT", "64000.5")
    tick = (await client.http.get("/v5/market/tickers?category=linear&symbol=BTCUSDT")).json()
    assert tick["result"]["list"][0]["lastPrice"] == "64000.5"

    bad = (await client.http.get("/v5/market/instruments-info?category=spot")).json()
    assert bad["retCode"] == 10001
    missing = await client.http.get("/v5/nope")
    assert missing.status_code == 404


# ---------------------------------------------------------------------- signatures


async def test_signed_requests_checked_per_docs(venue: FakeBybit, client: Client) -> None:
    query = "accountType=UNIFIED"
    path = f"/v5/account/wallet-balance?{query}"

    good = await client.http.get(path, headers=client.headers(query))
    assert good.json()["retCode"] == 0
    # the recv window header is optional (default 5000) and then not part of the signed string
    no_recv = await client.http.get(path, headers=client.headers(query, recv=None))
    assert no_recv.json()["retCode"] == 0

    wrong_secret = Client(client.http, KEY, "not-the-secret")
    assert (await client.http.get(path, headers=wrong_secret.headers(query))).json()[
        "retCode"
    ] == 10004
    tampered = client.headers("accountType=CONTRACT")
    assert (await client.http.get(path, headers=tampered)).json()["retCode"] == 10004

    unknown = await client.http.get(path, headers=Client(client.http, "nobody", "x").headers(query))
    assert (unknown.status_code, unknown.json()["retCode"]) == (401, 10003)
    bare = await client.http.get(path)
    assert bare.status_code == 401

    # server_time - recv_window <= timestamp < server_time + 1000
    stale = await client.http.get(path, headers=client.headers(query, ts=now_ms() - 60_000))
    assert stale.json()["retCode"] == 10002
    future = await client.http.get(path, headers=client.headers(query, ts=now_ms() + 30_000))
    assert future.json()["retCode"] == 10002
    wide = client.headers(query, ts=now_ms() - 60_000, recv="120000")
    assert (await client.http.get(path, headers=wide)).json()["retCode"] == 0

    # POST: the JSON body exactly as sent is signed
    body = json.dumps({"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "nope"})
    headers = client.headers(body.replace("nope", "other"))
    reply = await client.http.post("/v5/order/cancel", content=body, headers=headers)
    assert reply.json()["retCode"] == 10004
    assert venue.create_requests() == []


# ---------------------------------------------------------------------- orders and matching


async def test_limit_order_lifecycle(venue: FakeBybit, client: Client) -> None:
    uid = uid_of(venue)
    oid = await client.ok_order(
        side="Buy", orderType="Limit", qty="0.010", price="64000", orderLinkId="L-1"
    )
    order = await client.lookup(orderLinkId="L-1")
    assert order["orderId"] == oid
    assert (order["orderStatus"], order["leavesQty"], order["timeInForce"]) == (
        "New",
        "0.01",
        "GTC",
    )
    opened = await client.get("/v5/order/realtime", category="linear", symbol="BTCUSDT")
    assert [o["orderId"] for o in opened["result"]["list"]] == [oid]

    amend = await client.call(
        "/v5/order/amend",
        {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "L-1", "price": "64500"},
    )
    assert amend["retCode"] == 0
    assert amend["result"] == {"orderId": oid, "orderLinkId": "L-1"}
    venue.set_price("BTCUSDT", 64600)
    assert (await client.lookup(orderId=oid))["orderStatus"] == "New"
    venue.set_price("BTCUSDT", 64400)  # crosses the resting buy: maker fill at its own price

    filled = await client.lookup(orderId=oid)  # closed orders are still found by id
    assert (filled["orderStatus"], filled["avgPrice"], filled["cumExecQty"]) == (
        "Filled",
        "64500",
        "0.01",
    )
    closed = await client.get("/v5/order/realtime", category="linear", symbol="BTCUSDT")
    assert closed["result"]["list"] == []
    recent = await client.get("/v5/order/realtime", category="linear", symbol="BTCUSDT", openOnly=1)
    assert [o["orderId"] for o in recent["result"]["list"]] == [oid]
    history = await client.get("/v5/order/history", category="linear", orderLinkId="L-1")
    assert history["result"]["list"][0]["orderStatus"] == "Filled"

    fills = await client.get("/v5/execution/list", category="linear", orderId=oid)
    (fill,) = fills["result"]["list"]
    assert (fill["execPrice"], fill["execQty"], fill["isMaker"]) == ("64500", "0.01", True)
    assert Decimal(fill["execFee"]) == Decimal("645") * Decimal("0.0002")
    assert fill["execId"]
    assert fill["execType"] == "Trade"

    position = await client.get("/v5/position/list", category="linear", symbol="BTCUSDT")
    (pos,) = position["result"]["list"]
    assert (pos["side"], pos["size"], pos["avgPrice"], pos["positionIdx"]) == (
        "Buy",
        "0.01",
        "64500",
        0,
    )
    wallet = await client.get("/v5/account/wallet-balance", accountType="UNIFIED")
    usdt = wallet["result"]["list"][0]["coin"][0]
    assert Decimal(usdt["walletBalance"]) == Decimal(10_000) - Decimal("0.129")
    assert venue.position(uid, "BTCUSDT") == (Decimal("0.01"), Decimal(64500))

    again = await client.call(
        "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderId": oid}
    )
    assert again["retCode"] == 110008


async def test_market_orders_and_position_math(venue: FakeBybit, client: Client) -> None:
    uid = uid_of(venue)
    venue.set_price("BTCUSDT", 60000)
    await client.ok_order(side="Buy", orderType="Market", qty="0.02", orderLinkId="m1")
    order = await client.lookup(orderLinkId="m1")
    assert (order["orderStatus"], order["avgPrice"], order["timeInForce"]) == (
        "Filled",
        "60000",
        "IOC",
    )
    fee_open = Decimal("1200") * Decimal("0.00055")
    venue.set_price("BTCUSDT", 61000)
    await client.ok_order(side="Sell", orderType="Market", qty="0.03", orderLinkId="m2")
    # closed 0.02 long (+20 USDT), opened 0.01 short at 61000
    assert venue.position(uid, "BTCUSDT") == (Decimal("-0.01"), Decimal(61000))
    fee_flip = Decimal("1830") * Decimal("0.00055")
    assert venue.balance(uid) == Decimal(10_000) + 20 - fee_open - fee_flip
    (fill,) = (await client.get("/v5/execution/list", category="linear", orderLinkId="m2"))[
        "result"
    ]["list"]
    assert (fill["isMaker"], fill["closedSize"], fill["feeRate"]) == (False, "0.02", "0.00055")
    flat = await client.get("/v5/position/list", category="linear", settleCoin="USDT")
    assert [p["side"] for p in flat["result"]["list"]] == ["Sell"]


async def test_order_rules(venue: FakeBybit, client: Client) -> None:
    uid = uid_of(venue)
    venue.set_rate_limit("/v5/order/create", 100)  # more than the documented 10/s
    limit = {"side": "Buy", "orderType": "Limit", "qty": "0.01"}
    await client.ok_order(**limit, price="60000", orderLinkId="dup")
    duplicate = await client.order(**limit, price="60000", orderLinkId="dup")
    assert duplicate["retCode"] == 110072
    assert len(venue.create_requests("dup")) == 2
    assert len([o for o in venue.orders(uid) if o["orderLinkId"] == "dup"]) == 1

    assert (await client.order(**limit, price="60000.05"))["retCode"] == 10001  # tickSize
    assert (await client.order(**{**limit, "qty": "0.0105"}, price="60000"))["retCode"] == 10001
    assert (await client.order(side="Buy", orderType="Limit", qty="0.001", price="1000"))[
        "retCode"
    ] == 110094  # 1 USDT < minNotionalValue 5
    assert (await client.order(**limit, price="60000", orderLinkId="x" * 37))["retCode"] == 10001
    assert (await client.order(**limit, price="60000", positionIdx=1))["retCode"] == 10001

    # PostOnly that would take liquidity is accepted, then cancelled
    post = await client.ok_order(**limit, price="70000", timeInForce="PostOnly")
    order = await client.lookup(orderId=post)
    assert (order["orderStatus"], order["rejectReason"]) == (
        "Cancelled",
        "EC_PostOnlyWillTakeLiquidity",
    )
    ioc = await client.ok_order(**limit, price="60000", timeInForce="IOC")
    assert (await client.lookup(orderId=ioc))["orderStatus"] == "Cancelled"
    fok = await client.ok_order(**limit, price="70000", timeInForce="FOK")
    assert (await client.lookup(orderId=fok))["avgPrice"] == "65000"  # crossed: filled at last

    # reduce-only never increases a position
    assert (await client.order(side="Buy", orderType="Market", qty="0.01", reduceOnly=True))[
        "retCode"
    ] == 110017
    reduce = await client.ok_order(side="Sell", orderType="Market", qty="0.05", reduceOnly=True)
    assert (await client.lookup(orderId=reduce))["qty"] == "0.01"  # cut to the position size
    assert venue.position(uid, "BTCUSDT")[0] == 0

    all_gone = await client.call(
        "/v5/order/cancel-all", {"category": "linear", "settleCoin": "USDT"}
    )
    assert [o["orderLinkId"] for o in all_gone["result"]["list"]] == ["dup"]
    assert venue.open_orders(uid) == []


async def test_partial_fills(venue: FakeBybit, client: Client) -> None:
    uid = uid_of(venue)
    venue.set_max_fill_qty("BTCUSDT", "0.004")
    oid = await client.ok_order(side="Sell", orderType="Limit", qty="0.01", price="66000")
    venue.set_price("BTCUSDT", 66000)
    assert (await client.lookup(orderId=oid))["orderStatus"] == "PartiallyFilled"
    venue.set_price("BTCUSDT", 66100)
    venue.set_price("BTCUSDT", 66200)
    order = await client.lookup(orderId=oid)
    assert (order["orderStatus"], order["cumExecQty"]) == ("Filled", "0.01")
    assert [e["execQty"] for e in venue.executions(uid)] == ["0.004", "0.004", "0.002"]


# ---------------------------------------------------------------------- faults


async def test_rate_limit(venue: FakeBybit, client: Client) -> None:
    venue.set_rate_limit("/v5/order/realtime", 2, window_ms=60_000)
    query = "category=linear&symbol=BTCUSDT"
    replies = [
        await client.http.get(f"/v5/order/realtime?{query}", headers=client.headers(query))
        for _ in range(3)
    ]
    assert [r.json()["retCode"] for r in replies] == [0, 0, 10006]
    assert [r.headers["X-Bapi-Limit-Status"] for r in replies] == ["1", "0", "0"]
    assert replies[0].headers["X-Bapi-Limit"] == "2"
    assert int(replies[2].headers["X-Bapi-Limit-Reset-Timestamp"]) > now_ms()
    other = Client(client.http, KEY2, SECRET2)
    venue.add_account(KEY2, SECRET2)
    assert (await other.get("/v5/order/realtime", category="linear", symbol="BTCUSDT"))[
        "retCode"
    ] == 0  # the limit is per UID


async def test_delayed_and_failed_replies_still_apply(venue: FakeBybit, client: Client) -> None:
    uid = uid_of(venue)
    market = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market"}
    venue.delay_next(5.0)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            "/v5/order/create", {**market, "qty": "0.01", "orderLinkId": "slow"}, timeout=0.3
        )
    assert (await client.lookup(orderLinkId="slow"))["orderStatus"] == "Filled"

    venue.fail_next(status=503, path="/v5/order/create", apply=True)
    reply = await client.post("/v5/order/create", {**market, "qty": "0.01", "orderLinkId": "5xx"})
    assert reply.status_code == 503
    assert (await client.lookup(orderLinkId="5xx"))["orderStatus"] == "Filled"

    venue.fail_next(status=502, path="/v5/order/create")
    reply = await client.post("/v5/order/create", {**market, "qty": "0.01", "orderLinkId": "lost"})
    assert reply.status_code == 502
    lost = await client.get("/v5/order/realtime", category="linear", orderLinkId="lost")
    assert lost["result"]["list"] == []
    assert venue.position(uid, "BTCUSDT")[0] == Decimal("0.02")
    assert [b["orderLinkId"] for b in venue.create_requests()] == ["slow", "5xx"]
    assert venue.request_count("/v5/order/create") == 3


# ---------------------------------------------------------------------- WebSockets


async def recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def recv_topic(ws: Any, topic: str) -> dict[str, Any]:
    while True:
        message = await recv(ws)
        if message.get("topic") == topic:
            return message


async def test_public_kline_stream(venue: FakeBybit) -> None:
    async with websockets.connect(venue.public_ws_url) as ws:
        await ws.send(json.dumps({"req_id": "r1", "op": "subscribe", "args": ["kline.1.BTCUSDT"]}))
        ack = await recv(ws)
        assert (ack["success"], ack["op"], ack["req_id"]) == (True, "subscribe", "r1")
        await ws.send(json.dumps({"op": "subscribe", "args": ["kline.7.BTCUSDT"]}))
        assert (await recv(ws))["success"] is False
        await ws.send(json.dumps({"req_id": "p", "op": "ping"}))
        pong = await recv(ws)
        assert (pong["op"], pong["ret_msg"], pong["success"]) == ("ping", "pong", True)

        venue.push_kline("BTCUSDT", "1", 10 * MIN, 100, 110, 90, 105, 2, confirm=False)
        venue.push_kline("BTCUSDT", "1", 10 * MIN, 100, 112, 90, 108, 3)
        first, last = await recv(ws), await recv(ws)
        assert first["topic"] == "kline.1.BTCUSDT"
        assert first["type"] == "snapshot"
        assert first["data"][0]["confirm"] is False
        bar = last["data"][0]
        assert (bar["start"], bar["end"], bar["close"], bar["confirm"]) == (
            10 * MIN,
            11 * MIN - 1,
            "108",
            True,
        )
        assert venue.price("BTCUSDT") == 108  # the kline's close is the new last price

        assert venue.drop_websockets("public") == 1
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def auth_frame(key: str, secret: str, expires: int | None = None) -> str:
    expires = now_ms() + 10_000 if expires is None else expires
    signature = hmac_hex(secret, f"GET/realtime{expires}")
    return json.dumps({"req_id": "a", "op": "auth", "args": [key, expires, signature]})


async def test_private_stream_auth_and_topics(venue: FakeBybit, client: Client) -> None:
    async with websockets.connect(venue.private_ws_url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": ["order"]}))
        assert (await recv(ws))["success"] is False  # not authenticated yet
        await ws.send(await auth_frame(KEY, "wrong-secret"))
        assert (await recv(ws))["success"] is False
        await ws.send(await auth_frame(KEY, SECRET, expires=now_ms() - 1000))
        assert (await recv(ws))["success"] is False  # expired
        await ws.send(await auth_frame(KEY, SECRET))
        ok = await recv(ws)
        assert (ok["success"], ok["op"]) == (True, "auth")
        await ws.send(json.dumps({"op": "subscribe", "args": ["order", "wallet.linear"]}))
        assert (await recv(ws))["success"] is False  # all-in-one and categorised together
        await ws.send(json.dumps({"op": "subscribe", "args": ["order", "position", "wallet"]}))
        assert (await recv(ws))["success"] is True
        await ws.send(json.dumps({"op": "subscribe", "args": ["execution.linear"]}))
        assert (await recv(ws))["success"] is True
        await ws.send(json.dumps({"req_id": "hb", "op": "ping"}))
        pong = await recv(ws)
        assert (pong["op"], pong["req_id"]) == ("pong", "hb")

        oid = await client.ok_order(side="Buy", orderType="Market", qty="0.01", orderLinkId="w1")
        new = await recv_topic(ws, "order")
        assert new["data"][0]["orderStatus"] == "New"
        assert new["data"][0]["orderLinkId"] == "w1"
        execution = await recv_topic(ws, "execution.linear")
        fill = execution["data"][0]
        assert (fill["orderId"], fill["execQty"], fill["isMaker"]) == (oid, "0.01", False)
        assert fill["category"] == "linear"
        assert fill["execId"]
        filled = await recv_topic(ws, "order")
        assert filled["data"][0]["orderStatus"] == "Filled"
        position = await recv_topic(ws, "position")
        assert (position["data"][0]["size"], position["data"][0]["entryPrice"]) == ("0.01", "65000")
        wallet = await recv_topic(ws, "wallet")
        assert wallet["data"][0]["accountType"] == "UNIFIED"

        assert venue.drop_websockets("private") == 1
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_private_stream_faults(venue: FakeBybit) -> None:
    venue.add_account(KEY2, SECRET2)
    venue.refuse_auth()
    async with websockets.connect(venue.private_ws_url) as ws:
        await ws.send(await auth_frame(KEY, SECRET))
        assert (await recv(ws))["success"] is False
    venue.refuse_auth(False)

    venue.refuse_websockets(kind="private")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(venue.private_ws_url)
    async with websockets.connect(venue.public_ws_url):
        pass  # public still accepted
    venue.refuse_websockets(False)

    # each account sees only its own pushes
    async with websockets.connect(venue.private_ws_url) as ws:
        await ws.send(await auth_frame(KEY2, SECRET2))
        assert (await recv(ws))["success"] is True
        await ws.send(json.dumps({"op": "subscribe", "args": ["order"]}))
        await recv(ws)
        venue.state.create_order(
            uid_of(venue),
            {},
            {
                "symbol": "BTCUSDT",
                "side": "Buy",
                "order_type": "Limit",
                "time_in_force": "GTC",
                "order_link_id": "",
                "qty": Decimal("0.01"),
                "price": Decimal(1000),
                "reduce_only": False,
                "close_on_trigger": False,
            },
        )
        with pytest.raises(TimeoutError):
            await recv(ws, timeout=0.3)
