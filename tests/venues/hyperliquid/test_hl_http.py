"""HlHttp: weights, backoff on 429, retries on /info, no blind retries on /exchange.

Transport behaviour is driven through ``httpx.MockTransport``; sleeps are recorded, not slept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from algotrade.venues.hyperliquid.config import HyperliquidConfig
from algotrade.venues.hyperliquid.errors import (
    HlBadRequest,
    HlPayloadError,
    HlRateLimited,
    HlRequestFailed,
    HlRequestTimeout,
)
from algotrade.venues.hyperliquid.http import (
    HlHttp,
    exchange_weight,
    info_items_weight,
    info_weight,
)

Handler = Callable[[httpx.Request], httpx.Response]


class RecordingLimiter:
    def __init__(self) -> None:
        self.amounts: list[float] = []

    async def acquire(self, amount: float = 1) -> None:
        self.amounts.append(amount)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_http(
    handler: Handler, *, max_retries: int = 3, weight_per_minute: int = 1200
) -> tuple[HlHttp, RecordingLimiter, Sleeps]:
    config = HyperliquidConfig(
        api_url="http://hl.test", max_retries=max_retries, weight_per_minute=weight_per_minute
    )
    limiter, sleeps = RecordingLimiter(), Sleeps()
    http = HlHttp(config, transport=httpx.MockTransport(handler), limiter=limiter, sleep=sleeps)
    return http, limiter, sleeps


def ok(payload: Any) -> httpx.Response:
    return httpx.Response(200, json=payload)


def test_documented_weights() -> None:
    for light in ("l2Book", "allMids", "clearinghouseState", "orderStatus", "exchangeStatus"):
        assert info_weight(light) == 2
    assert info_weight("spotClearinghouseState") == 2
    assert info_weight("userRole") == 60
    assert info_weight("meta") == 20
    assert info_weight("candleSnapshot") == 20
    assert info_items_weight("userFills", 39) == 1
    assert info_items_weight("userFillsByTime", 2000) == 100
    assert info_items_weight("candleSnapshot", 5000) == 83
    assert info_items_weight("meta", 5000) == 0
    assert [exchange_weight(n) for n in (1, 39, 40, 79, 80)] == [1, 1, 2, 2, 3]


async def test_info_posts_json_and_charges_weights() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        if body["type"] == "userFills":
            return ok([{"tid": i} for i in range(45)])
        if body["type"] == "candleSnapshot":
            return ok([{"t": i} for i in range(130)])
        return ok({"type": body["type"]})

    http, limiter, _ = make_http(handler)
    async with http:
        assert await http.info({"type": "l2Book", "coin": "BTC"}) == {"type": "l2Book"}
        await http.info({"type": "meta"})
        await http.info({"type": "userRole", "user": "0x1"})
        fills = await http.info({"type": "userFills", "user": "0x1"})
        candles = await http.info({"type": "candleSnapshot", "req": {}})
    assert len(fills) == 45
    assert len(candles) == 130
    assert seen[0] == ("/info", {"type": "l2Book", "coin": "BTC"})
    # userFills: 20 before + 45 // 20 after; candleSnapshot: 20 before + 130 // 60 after.
    assert limiter.amounts == [2, 20, 60, 20, 2, 20, 2]
    assert http.stats.weight == 126
    assert http.stats.info_requests == 5
    assert http.stats.requests == 5
    assert http.stats.by_type["info:userFills"] == 1


async def test_exchange_weight_depends_on_batch_length() -> None:
    http, limiter, _ = make_http(lambda request: ok({"status": "ok"}))
    body = {"action": {"type": "order", "orders": []}, "nonce": 1, "signature": {}}
    async with http:
        await http.exchange(body, batch_length=1)
        await http.exchange(body, batch_length=85)
    assert limiter.amounts == [1, 3]
    assert http.stats.exchange_requests == 2
    assert http.stats.by_type == {"exchange:order": 2}


async def test_weight_above_the_budget_takes_the_whole_budget() -> None:
    # aiolimiter refuses amounts above its capacity; a real limiter must not raise.
    config = HyperliquidConfig(api_url="http://hl.test", weight_per_minute=30)
    transport = httpx.MockTransport(lambda request: ok({"role": "user"}))
    async with HlHttp(config, transport=transport) as http:
        assert await http.info({"type": "userRole", "user": "0x1"}) == {"role": "user"}
    assert http.stats.weight == 60


async def test_429_backs_off_exponentially_with_jitter_then_succeeds() -> None:
    replies = iter([429, 429, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(replies)
        return ok({"fine": True}) if status == 200 else httpx.Response(status, text="slow down")

    http, limiter, sleeps = make_http(handler, max_retries=3)
    async with http:
        assert await http.info({"type": "allMids"}) == {"fine": True}
    assert len(sleeps.delays) == 3
    for attempt, delay in enumerate(sleeps.delays):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= delay <= ceiling
    assert http.stats.rate_limited == 3
    assert http.stats.retries == 3
    assert limiter.amounts == [2, 2, 2, 2]  # every attempt costs weight


async def test_429_honours_retry_after() -> None:
    replies = iter([httpx.Response(429, headers={"Retry-After": "7"}), ok({"status": "ok"})])
    http, _, sleeps = make_http(lambda request: next(replies))
    async with http:
        await http.exchange({"action": {"type": "cancel"}}, batch_length=1)
    assert sleeps.delays == [7.0]


async def test_429_gives_up_after_max_retries() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, text="too many")

    http, _, sleeps = make_http(handler, max_retries=2)
    async with http:
        with pytest.raises(HlRateLimited, match=r"429.*3 attempts"):
            await http.info({"type": "meta"})
    assert len(calls) == 3
    assert len(sleeps.delays) == 2
    assert http.stats.failures == 1


async def test_info_retries_server_errors_and_transport_errors() -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            return httpx.Response(502, text="bad gateway")
        if len(attempts) == 2:
            raise httpx.ReadTimeout("read timed out", request=request)
        return ok({"universe": []})

    http, _, sleeps = make_http(handler)
    async with http:
        assert await http.info({"type": "meta"}) == {"universe": []}
    assert len(attempts) == 3
    assert len(sleeps.delays) == 2
    assert http.stats.server_errors == 1
    assert http.stats.transport_errors == 1


async def test_a_venue_it_cannot_reach_is_named_in_the_error() -> None:
    """Defect: offline, 'data download --venue hyperliquid' ended in 'info:meta: cannot
    connect: ConnectError: ...', naming no host to check."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    http, _, _ = make_http(handler, max_retries=1)
    async with http:
        with pytest.raises(
            HlRequestFailed, match=r"^info:meta: cannot connect to http://hl\.test/info: "
        ):
            await http.info({"type": "meta"})


async def test_info_server_errors_give_up_with_request_failed() -> None:
    http, _, sleeps = make_http(lambda request: httpx.Response(500, text="boom"), max_retries=1)
    async with http:
        with pytest.raises(HlRequestFailed, match="HTTP 500") as info:
            await http.info({"type": "meta"})
    assert not isinstance(info.value, HlRequestTimeout)
    assert len(sleeps.delays) == 1


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def connection_lost(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected", request=request)


def unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, text="unavailable")


@pytest.mark.parametrize(
    "failure",
    [read_timeout, connection_lost, unavailable],
    ids=["read-timeout", "connection-lost", "5xx"],
)
async def test_exchange_ambiguous_failures_are_not_retried(failure: Handler) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return failure(request)

    http, _, sleeps = make_http(handler, max_retries=5)
    async with http:
        with pytest.raises(HlRequestTimeout, match="may have been applied"):
            await http.exchange({"action": {"type": "order"}}, batch_length=1)
    assert calls == [1]
    assert sleeps.delays == []
    assert isinstance(HlRequestTimeout("x"), HlRequestFailed)


async def test_exchange_retries_when_nothing_was_sent() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return ok({"status": "ok"})

    http, _, sleeps = make_http(handler)
    async with http:
        assert await http.exchange({"action": {"type": "order"}}) == {"status": "ok"}
    assert len(calls) == 2
    assert len(sleeps.delays) == 1


async def test_client_error_names_status_and_body() -> None:
    body = "Failed to deserialize the JSON body into the target type"
    http, _, sleeps = make_http(lambda request: httpx.Response(422, text=body))
    async with http:
        with pytest.raises(HlBadRequest, match=r"HTTP 422.*Failed to deserialize") as info:
            await http.info({"type": "bogus"})
    assert info.value.status == 422
    assert sleeps.delays == []


async def test_non_json_body_is_a_payload_error() -> None:
    http, _, _ = make_http(lambda request: httpx.Response(200, text="<html>oops</html>"))
    async with http:
        with pytest.raises(HlPayloadError, match=r"not JSON.*oops"):
            await http.info({"type": "meta"})


async def test_lifecycle() -> None:
    http, _, _ = make_http(lambda request: ok({}))
    assert not http.started  # the constructor did no I/O
    with pytest.raises(RuntimeError, match="not started"):
        await http.info({"type": "meta"})
    await http.start()
    assert http.started
    await http.close()
    await http.close()  # idempotent
    assert not http.started
    with pytest.raises(ValueError, match="type"):
        await http.info({})


async def test_signatures_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    secret_r = "0x" + "ab" * 32
    replies = iter([httpx.Response(429), httpx.Response(400, text="bad nonce")])
    http, _, _ = make_http(lambda request: next(replies))
    caplog.set_level(logging.DEBUG)
    body = {
        "action": {"type": "order"},
        "nonce": 1,
        "signature": {"r": secret_r, "s": "0x1", "v": 27},
    }
    async with http:
        with pytest.raises(HlBadRequest) as info:
            await http.exchange(body)
    assert secret_r not in caplog.text
    assert secret_r not in str(info.value)
