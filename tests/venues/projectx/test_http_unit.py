"""ProjectX REST client against httpx.MockTransport built from the documented shapes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from algotrade.core.errors import InputError
from algotrade.venues.projectx.config import ProjectXConfig, ProjectXCredentials
from algotrade.venues.projectx.errors import (
    ProjectXApiError,
    ProjectXAuthError,
    ProjectXBadRequest,
    ProjectXOrderRejected,
    ProjectXRateLimited,
    ProjectXRequestTimeout,
)
from algotrade.venues.projectx.http import Bracket, ProjectXHttp
from algotrade.venues.projectx.schemas import (
    BarUnit,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionType,
)
from algotrade.venues.projectx.transport import GatewayTransport

OK = {"success": True, "errorCode": 0, "errorMessage": None}
NOW = 1_750_000_000.0


def jwt(exp: float) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'sub': 'u', 'exp': int(exp)})}.sig"


class NoLimit:
    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self, amount: float = 1) -> None:
        self.acquired += 1


class Gateway:
    """Routes requests by path; records (path, body, authorization)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, str | None]] = []
        self.routes: dict[str, Callable[[Any], httpx.Response]] = {}
        self.token_exp = NOW + 86_400
        self.tokens_issued = 0
        self.routes["/api/Auth/loginKey"] = self._login
        self.routes["/api/Auth/validate"] = self._login

    def _login(self, body: Any) -> httpx.Response:
        self.tokens_issued += 1
        token = jwt(self.token_exp + self.tokens_issued)
        key = "token" if body is not None else "newToken"
        return httpx.Response(200, json={key: token, **OK})

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.seen.append((request.url.path, body, request.headers.get("authorization")))
        route = self.routes.get(request.url.path)
        if route is None:
            return httpx.Response(404)
        return route(body)

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.seen]

    def body(self, path: str) -> Any:
        return next(b for p, b, _ in reversed(self.seen) if p == path)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def make(
    gw: Gateway, clock: Clock | None = None, sleeps: list[float] | None = None, **config: Any
) -> tuple[ProjectXHttp, NoLimit, NoLimit]:
    general, bars = NoLimit(), NoLimit()
    out = sleeps if sleeps is not None else []

    async def sleep(s: float) -> None:
        out.append(s)

    transport = GatewayTransport(
        ProjectXConfig(api_url="https://gw.test", **config),
        ProjectXCredentials("trader", "secret-key"),
        transport=httpx.MockTransport(gw.handler),
        general_limiter=general,
        bars_limiter=bars,
        sleep=sleep,
        clock=clock or Clock(),
    )
    return ProjectXHttp(transport), general, bars


async def test_login_sends_documented_body_and_uses_bearer() -> None:
    gw = Gateway()
    gw.routes["/api/Account/search"] = lambda b: httpx.Response(
        200,
        json={
            "accounts": [{"id": 1, "name": "TEST_ACCOUNT_1", "balance": 50000.5, "canTrade": True,
                          "isVisible": True}],
            **OK,
        },
    )  # fmt: skip
    http, general, _ = make(gw)
    async with http:
        accounts = await http.search_accounts()
    assert gw.seen[0][:2] == ("/api/Auth/loginKey", {"userName": "trader", "apiKey": "secret-key"})
    assert gw.body("/api/Account/search") == {"onlyActiveAccounts": True}
    assert gw.seen[1][2] is not None
    assert gw.seen[1][2].startswith("Bearer ")
    assert accounts[0].id == 1
    assert accounts[0].balance == Decimal("50000.5")
    assert accounts[0].can_trade
    assert general.acquired == 2


async def test_token_renewed_with_validate_before_expiry() -> None:
    gw, clock = Gateway(), Clock()
    gw.routes["/api/Order/searchOpen"] = lambda b: httpx.Response(200, json={"orders": [], **OK})
    http, _, _ = make(gw, clock, token_renew_margin_s=3600)
    async with http:
        await http.search_open_orders(account_id=7)
        clock.now += 86_400 - 3599  # inside the renewal margin
        await http.search_open_orders(account_id=7)
        await http.search_open_orders(account_id=7)
    assert gw.paths() == [
        "/api/Auth/loginKey",
        "/api/Order/searchOpen",
        "/api/Auth/validate",
        "/api/Order/searchOpen",
        "/api/Order/searchOpen",
    ]
    validate_auth = gw.seen[2][2]
    assert validate_auth == gw.seen[1][2]  # validate carries the old token
    assert gw.seen[3][2] != gw.seen[1][2]  # the new token is used after
    assert http.transport.renewals == 1


async def test_401_renews_once_then_retries() -> None:
    gw = Gateway()
    answers = iter([httpx.Response(401), httpx.Response(200, json={"positions": [], **OK})])
    gw.routes["/api/Position/searchOpen"] = lambda b: next(answers)
    http, _, _ = make(gw)
    async with http:
        assert await http.search_open_positions(account_id=3) == []
    assert gw.paths() == [
        "/api/Auth/loginKey",
        "/api/Position/searchOpen",
        "/api/Auth/validate",
        "/api/Position/searchOpen",
    ]


async def test_401_twice_is_an_auth_error() -> None:
    gw = Gateway()
    gw.routes["/api/Position/searchOpen"] = lambda b: httpx.Response(401)
    http, _, _ = make(gw)
    async with http:
        with pytest.raises(ProjectXAuthError, match="401 again"):
            await http.search_open_positions(account_id=3)


async def test_refused_validate_falls_back_to_login() -> None:
    gw, clock = Gateway(), Clock()
    gw.routes["/api/Auth/validate"] = lambda b: httpx.Response(401)
    gw.routes["/api/Trade/search"] = lambda b: httpx.Response(200, json={"trades": [], **OK})
    http, _, _ = make(gw, clock)
    start = datetime(2025, 1, 20, 15, 47, 39, tzinfo=UTC)
    async with http:
        await http.search_trades(account_id=203, start=start)
        clock.now += 90_000  # past expiry
        await http.search_trades(account_id=203, start=start)
    assert gw.paths().count("/api/Auth/loginKey") == 2
    assert gw.body("/api/Trade/search") == {
        "accountId": 203,
        "startTimestamp": "2025-01-20T15:47:39Z",
        "endTimestamp": None,
    }


async def test_bad_credentials_is_one_line_auth_error_without_the_key() -> None:
    gw = Gateway()
    gw.routes["/api/Auth/loginKey"] = lambda b: httpx.Response(
        200, json={"token": None, "success": False, "errorCode": 3, "errorMessage": "bad\nkey"}
    )
    http, _, _ = make(gw)
    async with http:
        with pytest.raises(ProjectXAuthError) as info:
            await http.login()
    text = str(info.value)
    assert "errorCode 3" in text
    assert "\n" not in text
    assert "secret-key" not in text


async def test_429_backs_off_with_retry_after_then_succeeds() -> None:
    gw, sleeps = Gateway(), []
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(429),
            httpx.Response(200, json={"orders": [], **OK}),
        ]
    )
    gw.routes["/api/Order/searchOpen"] = lambda b: next(answers)
    http, _, _ = make(gw, sleeps=sleeps)
    async with http:
        await http.search_open_orders(account_id=1)
    assert sleeps[0] == 2.0
    assert 0 < sleeps[1] <= 1.0
    assert len(sleeps) == 2


async def test_429_gives_up_after_max_retries() -> None:
    gw = Gateway()
    gw.routes["/api/Order/place"] = lambda b: httpx.Response(429)
    http, _, _ = make(gw, max_retries=2)
    async with http:
        with pytest.raises(ProjectXRateLimited, match="gave up after 3 attempts"):
            await http.place_order(
                account_id=1, contract_id="C", type=OrderType.MARKET, side=OrderSide.BID, size=1
            )


async def test_bars_use_their_own_limiter_and_documented_body() -> None:
    gw = Gateway()
    gw.routes["/api/History/retrieveBars"] = lambda b: httpx.Response(
        200,
        json={
            "bars": [{"t": "2024-12-20T14:00:00+00:00", "o": 2208.1, "h": 2217.0, "l": 2206.7,
                      "c": 2210.1, "v": 87}],
            **OK,
        },
    )  # fmt: skip
    http, general, bars_limiter = make(gw)
    async with http:
        bars = await http.retrieve_bars(
            "CON.F.US.RTY.Z24",
            start=datetime(2024, 12, 1, tzinfo=UTC),
            end=datetime(2024, 12, 31, 21, tzinfo=UTC),
            unit=BarUnit.HOUR,
            limit=7,
        )
    assert gw.body("/api/History/retrieveBars") == {
        "contractId": "CON.F.US.RTY.Z24",
        "live": False,
        "startTime": "2024-12-01T00:00:00Z",
        "endTime": "2024-12-31T21:00:00Z",
        "unit": 3,
        "unitNumber": 1,
        "limit": 7,
        "includePartialBar": False,
    }
    assert bars_limiter.acquired == 1
    assert general.acquired == 1
    assert bars[0].o == Decimal("2208.1")
    assert bars[0].v == 87


async def test_place_order_body_and_rejection() -> None:
    gw = Gateway()
    answers = iter(
        [
            httpx.Response(200, json={"orderId": 9056, **OK}),
            httpx.Response(
                200, json={"orderId": None, "success": False, "errorCode": 2,
                           "errorMessage": "Insufficient margin"},
            ),
        ]
    )  # fmt: skip
    gw.routes["/api/Order/place"] = lambda b: next(answers)
    http, _, _ = make(gw)
    async with http:
        order_id = await http.place_order(
            account_id=465,
            contract_id="CON.F.US.DA6.M25",
            type=OrderType.LIMIT,
            side=OrderSide.ASK,
            size=1,
            limit_price=Decimal("6335.25"),
            custom_tag="cid-1",
            stop_loss_bracket=Bracket(10, OrderType.STOP),
        )
        assert order_id == 9056
        assert gw.body("/api/Order/place") == {
            "accountId": 465,
            "contractId": "CON.F.US.DA6.M25",
            "type": 1,
            "side": 1,
            "size": 1,
            "limitPrice": 6335.25,
            "stopPrice": None,
            "trailPrice": None,
            "customTag": "cid-1",
            "stopLossBracket": {"ticks": 10, "type": 4},
        }
        with pytest.raises(ProjectXOrderRejected, match=r"errorCode 2.*Insufficient") as info:
            await http.place_order(
                account_id=465, contract_id="C", type=OrderType.MARKET, side=OrderSide.BID, size=1
            )
        assert info.value.error_code == 2


async def test_order_action_5xx_is_an_unknown_outcome_not_retried() -> None:
    gw = Gateway()
    gw.routes["/api/Order/place"] = lambda b: httpx.Response(503)
    http, _, _ = make(gw)
    async with http:
        with pytest.raises(ProjectXRequestTimeout, match="customTag"):
            await http.place_order(
                account_id=1, contract_id="C", type=OrderType.MARKET, side=OrderSide.BID, size=1
            )
    assert gw.paths().count("/api/Order/place") == 1


async def test_read_5xx_is_retried() -> None:
    gw, sleeps = Gateway(), []
    answers = iter([httpx.Response(502), httpx.Response(200, json={"contracts": [], **OK})])
    gw.routes["/api/Contract/search"] = lambda b: next(answers)
    http, _, _ = make(gw, sleeps=sleeps)
    async with http:
        assert await http.search_contracts("NQ") == []
    assert len(sleeps) == 1
    assert gw.body("/api/Contract/search") == {"live": False, "searchText": "NQ"}


async def test_an_account_without_balance_and_a_contract_found_in_a_list() -> None:
    """Shapes the official docs show besides the reference pages': an account as the
    getting-started page lists it (no balance), and searchById's earlier reply, a list."""
    gw = Gateway()
    gw.routes["/api/Account/search"] = lambda b: httpx.Response(
        200,
        json={
            "accounts": [{"id": 1, "name": "TEST_ACCOUNT_1", "canTrade": True, "isVisible": True}],
            **OK,
        },
    )
    contract = {
        "id": "CON.F.US.ENQ.H25", "name": "ENQH25", "description": "E-mini NASDAQ-100",
        "tickSize": 0.25, "tickValue": 5, "activeContract": True,
    }  # fmt: skip
    gw.routes["/api/Contract/searchById"] = lambda b: httpx.Response(
        200, json={"contracts": [contract], **OK}
    )
    http, _, _ = make(gw)
    async with http:
        [account] = await http.search_accounts()
        found = await http.contract_by_id("CON.F.US.ENQ.H25")
    assert account.id == 1
    assert account.balance is None
    assert account.can_trade
    assert found.id == "CON.F.US.ENQ.H25"
    assert found.tick_size == Decimal("0.25")


async def test_read_refusal_and_4xx() -> None:
    gw = Gateway()
    gw.routes["/api/Contract/searchById"] = lambda b: httpx.Response(
        200, json={"contract": None, "success": False, "errorCode": 1, "errorMessage": "nope"}
    )
    gw.routes["/api/Order/searchOpen"] = lambda b: httpx.Response(400, text="bad")
    http, _, _ = make(gw)
    async with http:
        with pytest.raises(ProjectXApiError, match="errorCode 1"):
            await http.contract_by_id("X")
        with pytest.raises(ProjectXBadRequest, match="HTTP 400"):
            await http.search_open_orders(account_id=1)


async def test_every_endpoint_body_and_parse() -> None:
    gw = Gateway()
    order = {
        "id": 36598, "accountId": 704, "contractId": "CON.F.US.EP.U25", "symbolId": "F.US.EP",
        "creationTimestamp": "2025-07-18T21:00:01.268009+00:00",
        "updateTimestamp": "2025-07-18T21:00:01.2680091+00:00", "status": 2, "type": 2,
        "side": 0, "size": 1, "limitPrice": None, "stopPrice": None, "fillVolume": 1,
        "filledPrice": 6335.250000000, "customTag": None,
    }  # fmt: skip
    position = {
        "id": 6124, "accountId": 536, "contractId": "CON.F.US.GMET.J25",
        "creationTimestamp": "2025-04-21T19:52:32.175721+00:00", "type": 2, "size": 2,
        "averagePrice": 1575.750000000,
    }  # fmt: skip
    trade = {
        "id": 8604, "accountId": 203, "contractId": "CON.F.US.EP.H25",
        "creationTimestamp": "2025-01-21T16:13:52.523293+00:00", "price": 6065.250000000,
        "profitAndLoss": None, "fees": 1.4000, "side": 1, "size": 1, "voided": False,
        "orderId": 14328,
    }  # fmt: skip
    contract = {
        "id": "CON.F.US.ENQ.H25", "name": "ENQH25", "description": "E-mini NASDAQ-100",
        "tickSize": 0.25, "tickValue": 5, "activeContract": True, "symbolId": "F.US.ENQ",
    }  # fmt: skip
    gw.routes.update(
        {
            "/api/Order/search": lambda b: httpx.Response(200, json={"orders": [order], **OK}),
            "/api/Order/cancel": lambda b: httpx.Response(200, json=OK),
            "/api/Order/modify": lambda b: httpx.Response(200, json=OK),
            "/api/Position/searchOpen": lambda b: httpx.Response(
                200, json={"positions": [position], **OK}
            ),
            "/api/Position/closeContract": lambda b: httpx.Response(200, json=OK),
            "/api/Position/partialCloseContract": lambda b: httpx.Response(200, json=OK),
            "/api/Trade/search": lambda b: httpx.Response(200, json={"trades": [trade], **OK}),
            "/api/Contract/searchById": lambda b: httpx.Response(
                200, json={"contract": contract, **OK}
            ),
        }
    )
    http, _, _ = make(gw)
    start = datetime(2025, 7, 18, 21, tzinfo=UTC)
    async with http:
        orders = await http.search_orders(account_id=704, start=start, end=start)
        await http.cancel_order(account_id=704, order_id=36598)
        await http.modify_order(account_id=704, order_id=36598, size=2, stop_price=Decimal("6300"))
        positions = await http.search_open_positions(account_id=536)
        await http.close_position(account_id=536, contract_id="CON.F.US.GMET.J25")
        await http.partial_close_position(account_id=536, contract_id="CON.F.US.GMET.J25", size=1)
        trades = await http.search_trades(account_id=203, start=start)
        found = await http.contract_by_id("CON.F.US.ENQ.H25")
    assert gw.body("/api/Order/search") == {
        "accountId": 704,
        "startTimestamp": "2025-07-18T21:00:00Z",
        "endTimestamp": "2025-07-18T21:00:00Z",
    }
    assert gw.body("/api/Order/cancel") == {"accountId": 704, "orderId": 36598}
    assert gw.body("/api/Order/modify") == {
        "accountId": 704, "orderId": 36598, "size": 2, "limitPrice": None, "stopPrice": 6300,
        "trailPrice": None,
    }  # fmt: skip
    assert gw.body("/api/Position/closeContract") == {
        "accountId": 536,
        "contractId": "CON.F.US.GMET.J25",
    }
    assert gw.body("/api/Position/partialCloseContract") == {
        "accountId": 536,
        "contractId": "CON.F.US.GMET.J25",
        "size": 1,
    }
    assert gw.body("/api/Contract/searchById") == {"contractId": "CON.F.US.ENQ.H25"}
    assert orders[0].status is OrderStatus.FILLED
    assert orders[0].filled_price == Decimal("6335.25")
    assert orders[0].update_timestamp is not None
    assert positions[0].type is PositionType.SHORT
    assert positions[0].signed_size == -2
    assert trades[0].profit_and_loss is None
    assert trades[0].fees == Decimal("1.4")
    assert found.tick_size == Decimal("0.25")
    assert found.point_value == Decimal(20)


async def test_bad_input_names_the_field() -> None:
    http, _, _ = make(Gateway())
    async with http:
        with pytest.raises(InputError, match="size"):
            await http.place_order(
                account_id=1, contract_id="C", type=OrderType.MARKET, side=OrderSide.BID, size=0
            )
        with pytest.raises(InputError, match="limit_price"):
            await http.place_order(
                account_id=1, contract_id="C", type=OrderType.LIMIT, side=OrderSide.BID, size=1
            )
        with pytest.raises(InputError, match="timezone"):
            await http.search_trades(account_id=1, start=datetime(2025, 1, 1))
