"""The fake ProjectX speaks the Gateway API: REST with bearer JWTs, and the SignalR hubs over
WebSocket with the JSON hub protocol (driven here by a raw ``websockets`` client written from
Microsoft's spec, since no Python SignalR client is installed)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets

from testkit.fake_projectx import FakeProjectX, OrderStatus, OrderType, PositionType

RS = "\x1e"  # the SignalR record separator
ES, NQ = "CON.F.US.EP.Z25", "CON.F.US.ENQ.Z25"
USER, KEY = "trader1", "api-key-1"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProjectX]:
    with FakeProjectX(keepalive_s=0.2) as venue:
        yield venue


@pytest.fixture
def venue(server: FakeProjectX) -> FakeProjectX:
    server.reset()
    server.add_user(USER, KEY)
    return server


class Rest:
    def __init__(self, venue: FakeProjectX, token: str | None = None) -> None:
        self.venue = venue
        self.token = token

    def login(self, user: str = USER, key: str = KEY) -> dict[str, Any]:
        reply = self.post("/api/Auth/loginKey", {"userName": user, "apiKey": key}).json()
        if reply["success"]:
            self.token = reply["token"]
        return dict(reply)

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.post(self.venue.base_url + path, json=body, headers=headers, timeout=5)

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return dict(response.json())


@pytest.fixture
def rest(venue: FakeProjectX) -> Rest:
    client = Rest(venue)
    assert client.login()["success"]
    return client


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------- REST


def test_login_validate_expiry_and_revocation(venue: FakeProjectX) -> None:
    client = Rest(venue)
    refused = client.login(key="wrong")
    assert refused["success"] is False
    assert refused["errorCode"] != 0
    assert refused["token"] is None
    assert client.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 401

    login = client.login()
    assert login == {"token": login["token"], "success": True, "errorCode": 0, "errorMessage": None}
    assert login["token"].count(".") == 2  # a JWT
    assert client.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 200

    venue.expire_tokens()
    assert client.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 401
    renewed = client.call("/api/Auth/validate", {})  # the docs: re-validate an expired token
    assert renewed["success"]
    assert renewed["newToken"] != client.token
    client.token = renewed["newToken"]
    assert client.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 200

    venue.revoke_tokens()
    assert client.post("/api/Auth/validate").status_code == 401
    assert client.login()["success"]


def test_token_lifetime_follows_the_venue_clock() -> None:
    now = [1_750_000_000.0]
    with FakeProjectX(clock=lambda: now[0], token_lifetime_s=3600) as venue:
        venue.add_user(USER, KEY)
        client = Rest(venue)
        client.login()
        now[0] += 3599
        assert client.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 200
        now[0] += 2
        assert client.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 401


def test_accounts_contracts_and_validation(venue: FakeProjectX, rest: Rest) -> None:
    live = venue.add_account(USER, "EXPRESS-1", balance=50_000)
    venue.add_account(USER, "CLOSED-1", active=False)
    venue.add_user("someone-else", "k2")
    venue.add_account("someone-else", "NOT-MINE")
    accounts = rest.call("/api/Account/search", {"onlyActiveAccounts": True})["accounts"]
    assert accounts == [
        {"id": live, "name": "EXPRESS-1", "balance": 50000, "canTrade": True, "isVisible": True}
    ]
    assert len(rest.call("/api/account/search", {"onlyActiveAccounts": False})["accounts"]) == 2

    found = rest.call("/api/Contract/search", {"searchText": "EP", "live": False})["contracts"]
    assert [c["id"] for c in found] == [ES]
    assert found[0]["tickSize"] == 0.25
    assert found[0]["tickValue"] == 12.5
    by_id = rest.call("/api/Contract/searchById", {"contractId": NQ})
    assert by_id["contract"]["tickValue"] == 5
    assert by_id["contracts"] == [by_id["contract"]]

    bad = rest.post("/api/Order/place", {"accountId": live, "contractId": ES, "side": 0})
    assert bad.status_code == 400
    assert "type" in bad.json()["errors"]
    other = rest.call(
        "/api/Order/place",
        {"accountId": live + 2, "contractId": ES, "type": 2, "side": 0, "size": 1},
    )
    assert other["success"] is False
    assert other["errorCode"] != 0


def test_order_lifecycle_positions_and_pnl_from_tick_value(venue: FakeProjectX, rest: Rest) -> None:
    account = venue.add_account(USER, "ACC", balance=50_000)
    venue.set_price(ES, 6000)
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    place = {"accountId": account, "contractId": ES, "side": 0, "size": 2}
    limit = rest.call(
        "/api/Order/place", {**place, "type": 1, "limitPrice": 5990, "customTag": "c1"}
    )
    order_id = limit["orderId"]
    again = rest.call(
        "/api/Order/place", {**place, "type": 1, "limitPrice": 5990, "customTag": "c1"}
    )
    assert again["success"] is False  # customTag must be unique across the account

    opened = rest.call("/api/Order/searchOpen", {"accountId": account})["orders"]
    assert [(o["id"], o["status"], o["type"], o["limitPrice"]) for o in opened] == [
        (order_id, OrderStatus.OPEN, OrderType.LIMIT, 5990)
    ]
    assert rest.call(
        "/api/Order/modify", {"accountId": account, "orderId": order_id, "limitPrice": 5995}
    )["success"]
    venue.set_price(ES, 5996)
    assert venue.positions(account) == []
    venue.set_price(ES, 5994)  # crosses the 5995 bid: fills at its own price
    [position] = rest.call("/api/Position/searchOpen", {"accountId": account})["positions"]
    assert (position["type"], position["size"], position["averagePrice"]) == (
        PositionType.LONG,
        2,
        5995,
    )

    venue.set_price(ES, 6005)  # +10 points = 40 ticks x 12.50 per contract
    assert rest.call(
        "/api/Position/partialCloseContract", {"accountId": account, "contractId": ES, "size": 1}
    )["success"]
    venue.set_price(ES, 5990)
    assert rest.call("/api/Position/closeContract", {"accountId": account, "contractId": ES})[
        "success"
    ]
    assert rest.call("/api/Position/searchOpen", {"accountId": account})["positions"] == []
    again = rest.call("/api/Position/closeContract", {"accountId": account, "contractId": ES})
    assert again["success"] is False

    trades = rest.call("/api/Trade/search", {"accountId": account, "startTimestamp": iso(t0)})[
        "trades"
    ]
    assert [(t["price"], t["size"], t["side"], t["profitAndLoss"]) for t in trades] == [
        (5995, 2, 0, None),  # a half turn: no P&L
        (6005, 1, 1, 500),  # 40 ticks x 12.50
        (5990, 1, 1, -250),  # -5 points = -20 ticks x 12.50
    ]
    assert all(t["fees"] == pytest.approx(1.4 * t["size"]) for t in trades)
    assert venue.balance(account) == Decimal(50_000) + 500 - 250 - Decimal("1.40") * 4

    orders = rest.call("/api/Order/search", {"accountId": account, "startTimestamp": iso(t0)})[
        "orders"
    ]
    assert [o["status"] for o in orders] == [OrderStatus.FILLED] * 3
    assert orders[0]["customTag"] == "c1"
    assert orders[0]["fillVolume"] == 2
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    assert (
        rest.call("/api/Order/search", {"accountId": account, "startTimestamp": later})["orders"]
        == []
    )


def test_stop_market_cancel_and_account_that_cannot_trade(venue: FakeProjectX, rest: Rest) -> None:
    account = venue.add_account(USER, "ACC")
    venue.set_price(NQ, 21000)
    base = {"accountId": account, "contractId": NQ, "size": 1}
    stop = rest.call("/api/Order/place", {**base, "type": 4, "side": 1, "stopPrice": 20990})[
        "orderId"
    ]
    limit = rest.call("/api/Order/place", {**base, "type": 1, "side": 0, "limitPrice": 20900})[
        "orderId"
    ]
    assert rest.call("/api/Order/cancel", {"accountId": account, "orderId": limit})["success"]
    assert (
        rest.call("/api/Order/cancel", {"accountId": account, "orderId": limit})["success"] is False
    )
    venue.set_price(NQ, 20989.75)  # the sell stop triggers and fills at the market
    [short] = venue.positions(account)
    assert (short["type"], short["size"], short["averagePrice"]) == (
        PositionType.SHORT,
        1,
        20989.75,
    )
    assert {o["id"]: o["status"] for o in venue.orders(account)} == {
        stop: OrderStatus.FILLED,
        limit: OrderStatus.CANCELLED,
    }
    venue.set_can_trade(account, False)
    refused = rest.call("/api/Order/place", {**base, "type": 2, "side": 0})
    assert refused["success"] is False
    assert refused["errorMessage"]


def test_bars_newest_first_and_rate_limits(venue: FakeProjectX, rest: Rest) -> None:
    start = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
    venue.generate_bars(ES, 2, 1, start.timestamp(), 10)
    body = {
        "contractId": ES, "live": False, "unit": 2, "unitNumber": 1, "limit": 3,
        "startTime": iso(start), "endTime": iso(start + timedelta(minutes=5)),
        "includePartialBar": False,
    }  # fmt: skip
    bars = rest.call("/api/History/retrieveBars", body)["bars"]
    assert [b["t"] for b in bars] == [
        "2025-01-06T14:05:00+00:00", "2025-01-06T14:04:00+00:00", "2025-01-06T14:03:00+00:00"
    ]  # fmt: skip
    assert set(bars[0]) == {"t", "o", "h", "l", "c", "v"}

    venue.set_rate_limit("bars", 2, 60)
    statuses = [rest.post("/api/History/retrieveBars", body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert rest.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 200
    venue.set_rate_limit("general", 1, 60)
    assert rest.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 200
    assert rest.post("/api/Account/search", {"onlyActiveAccounts": True}).status_code == 429

    venue.set_rate_limit("general", 200, 60)
    venue.fail_next(1, 503, path="/api/Order/searchOpen")
    assert rest.post("/api/order/searchopen", {"accountId": 1}).status_code == 503


# ---------------------------------------------------------------------- SignalR (raw client)


class RawHub:
    """A SignalR JSON-protocol client written from Microsoft's spec: negotiate, WebSocket with
    ``access_token``, handshake, invocations with ids, record separator 0x1E."""

    def __init__(self, venue: FakeProjectX, hub: str, token: str) -> None:
        self.venue, self.hub, self.token = venue, hub, token
        self.ws: Any = None
        self.inbox: list[dict[str, Any]] = []
        self._next_id = 0

    async def connect(self, negotiate: bool = True) -> dict[str, Any]:
        query = f"access_token={self.token}"
        reply: dict[str, Any] = {}
        if negotiate:
            url = self.venue.hub_url(self.hub, "http") + "/negotiate?negotiateVersion=1"
            async with httpx.AsyncClient() as http:
                response = await http.post(url, headers={"Authorization": f"Bearer {self.token}"})
            assert response.status_code == 200, response.status_code
            reply = response.json()
            query += f"&id={reply['connectionToken']}"
        self.ws = await websockets.connect(f"{self.venue.hub_url(self.hub)}?{query}")
        await self.ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
        assert await self._next_raw() == {}  # the handshake response
        return reply

    async def _next_raw(self) -> dict[str, Any]:
        while not self.inbox:
            frame = await asyncio.wait_for(self.ws.recv(), 5)
            text = frame if isinstance(frame, str) else frame.decode()
            assert text.endswith(RS), text
            self.inbox.extend(json.loads(part) for part in text.split(RS) if part)
        return self.inbox.pop(0)

    async def next(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 5
    ) -> dict[str, Any]:
        """The next message ``match`` accepts, skipping the others (pings, other events)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await self._next_raw()
            if match(message):
                return message
        raise AssertionError("no matching hub message before the deadline")

    async def event(self, target: str, timeout: float = 5) -> list[Any]:
        message = await self.next(
            lambda m: m.get("type") == 1 and m.get("target") == target, timeout
        )
        assert "invocationId" not in message  # server pushes are non-blocking invocations
        return list(message["arguments"])

    async def invoke(self, target: str, *arguments: Any) -> dict[str, Any]:
        self._next_id += 1
        invocation_id = str(self._next_id)
        message = {
            "type": 1,
            "invocationId": invocation_id,
            "target": target,
            "arguments": list(arguments),
        }
        await self.ws.send(json.dumps(message) + RS)
        return await self.next(
            lambda m: m.get("type") == 3 and m.get("invocationId") == invocation_id
        )

    async def close(self) -> None:
        await self.ws.close()


async def test_user_hub_sends_human_orders_fills_positions_and_account(
    venue: FakeProjectX, rest: Rest
) -> None:
    account = venue.add_account(USER, "ACC", balance=50_000)
    venue.add_user("other", "k2")
    foreign = venue.add_account("other", "NOT-MINE")
    hub = RawHub(venue, "user", rest.token or "")
    negotiated = await hub.connect()
    assert negotiated["negotiateVersion"] == 1
    assert negotiated["availableTransports"][0]["transport"] == "WebSockets"
    try:
        for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
            completion = await hub.invoke(method, account)
            assert completion == {
                "type": 3,
                "invocationId": completion["invocationId"],
                "result": None,
            }
        assert (await hub.invoke("SubscribeAccounts"))["result"] is None
        await hub.invoke("SubscribeOrders", foreign)  # not this user's: nothing is delivered

        venue.web.place_order(foreign, ES, "market", "buy", 1)
        order_id = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price=5990)
        [order] = await hub.event("GatewayUserOrder")
        assert order == rest.call("/api/Order/searchOpen", {"accountId": account})["orders"][0]
        assert (order["id"], order["status"], order["limitPrice"]) == (
            order_id,
            OrderStatus.OPEN,
            5990,
        )

        venue.set_price(ES, 5989.75)
        [filled] = await hub.event("GatewayUserOrder")
        assert (filled["status"], filled["fillVolume"], filled["filledPrice"]) == (
            OrderStatus.FILLED,
            1,
            5990,
        )
        [trade] = await hub.event("GatewayUserTrade")
        assert (trade["orderId"], trade["price"], trade["profitAndLoss"]) == (order_id, 5990, None)
        [position] = await hub.event("GatewayUserPosition")
        assert (position["accountId"], position["size"], position["type"]) == (
            account,
            1,
            PositionType.LONG,
        )
        [balance] = await hub.event("GatewayUserAccount")
        assert balance["id"] == account
        assert balance["balance"] == pytest.approx(50_000 - 1.4)

        # an API order shows up exactly like the human one
        rest.call("/api/Position/closeContract", {"accountId": account, "contractId": ES})
        [api_order] = await hub.event("GatewayUserOrder")
        assert set(api_order) == set(order)
        [closed] = await hub.event("GatewayUserOrder")
        assert (closed["id"], closed["status"]) == (api_order["id"], OrderStatus.FILLED)
        [close_trade] = await hub.event("GatewayUserTrade")
        assert close_trade["profitAndLoss"] == pytest.approx(-0.25 / 0.25 * 12.5)
        [flat] = await hub.event("GatewayUserPosition")
        assert flat["size"] == 0
        assert all(
            args[0]["accountId"] == account for args in venue.pushed("user", "GatewayUserOrder")
        )
    finally:
        await hub.close()


async def test_hub_pings_ping_replies_errors_and_token_check(
    venue: FakeProjectX, rest: Rest
) -> None:
    hub = RawHub(venue, "user", rest.token or "")
    await hub.connect(negotiate=False)  # the ProjectX docs connect with skipNegotiation
    try:
        await hub.ws.send(json.dumps({"type": 6}) + RS)  # a client ping needs no reply
        assert await hub.next(lambda m: m == {"type": 6}) == {
            "type": 6
        }  # keep-alive from the server
        unknown = await hub.invoke("SubscribeEverything", 1)
        assert "error" in unknown
        assert "does not exist" in unknown["error"]
        missing = await hub.invoke("SubscribeOrders")
        assert "expects 1" in missing["error"]
    finally:
        await hub.close()

    bad = RawHub(venue, "user", "not-a-token")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await bad.connect(negotiate=False)
    assert refused.value.response.status_code == 401
    async with httpx.AsyncClient() as http:
        negotiate = venue.hub_url("market", "http") + "/negotiate?negotiateVersion=1"
        assert (await http.post(negotiate, params={"access_token": "nope"})).status_code == 401
    venue.expire_tokens()
    with pytest.raises(websockets.InvalidStatus):
        await RawHub(venue, "market", rest.token or "").connect(negotiate=False)

    ws = await websockets.connect(f"{venue.hub_url('user')}?access_token={rest.login()['token']}")
    try:
        await ws.send(json.dumps({"protocol": "messagepack", "version": 1}) + RS)
        reply = json.loads((await asyncio.wait_for(ws.recv(), 5)).rstrip(RS))
        assert "error" in reply
    finally:
        await ws.close()


async def test_market_hub_quotes_trades_depth_and_dropped_connection(
    venue: FakeProjectX, rest: Rest
) -> None:
    hub = RawHub(venue, "market", rest.token or "")
    await hub.connect()
    try:
        await hub.invoke("SubscribeContractQuotes", NQ)
        await hub.invoke("SubscribeContractTrades", NQ)
        await hub.invoke("SubscribeContractMarketDepth", NQ)
        venue.set_price(ES, 6100)  # not subscribed
        venue.set_price(NQ, 21010.25, volume=3)
        contract, quote = await hub.event("GatewayQuote")
        assert contract == NQ
        assert (quote["lastPrice"], quote["bestBid"], quote["bestAsk"]) == (
            21010.25,
            21010.25,
            21010.25,
        )
        venue.push_market_trade(NQ, 21010.5, 2, side="sell")
        contract, [tick] = await hub.event("GatewayTrade")
        assert (contract, tick["price"], tick["volume"], tick["type"]) == (NQ, 21010.5, 2, 1)
        depth = [
            {
                "timestamp": "2025-01-06T14:00:00+00:00",
                "type": 2,
                "price": 21010,
                "volume": 5,
                "currentVolume": 5,
            }
        ]
        venue.push_depth(NQ, depth)
        assert await hub.event("GatewayDepth") == [NQ, depth]
        await hub.invoke("UnsubscribeContractQuotes", NQ)
        assert ("quotes", NQ) not in venue.hub_subscriptions("market")

        assert venue.drop_connections("market") == 1
        with pytest.raises(websockets.ConnectionClosed):
            await hub.next(lambda m: False)
    finally:
        await hub.close()
    again = RawHub(venue, "market", rest.token or "")
    await again.connect()  # reconnect and resubscribe
    try:
        await again.invoke("SubscribeContractQuotes", ES)
        venue.set_price(ES, 6101)
        assert (await again.event("GatewayQuote"))[0] == ES
    finally:
        await again.close()
    assert ("SubscribeContractQuotes", [ES]) in venue.hub_invocations("market")
