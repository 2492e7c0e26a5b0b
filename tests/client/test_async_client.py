"""AsyncAlgoTradeClient against a real uvicorn server, including ``watch`` over /ws."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from algotrade.client import ApiError, AsyncAlgoTradeClient, DaemonUnreachable, StreamClosedError
from testkit.api_harness import ADMIN_KEY, TRADER_KEY, VERSION, ServerThread, running_server
from testkit.fake_bot_service import FakeBotService, make_config


async def _next(stream: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(5):
        return await anext(stream)


def _wait_for(predicate: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


async def test_calls_and_errors(server: ServerThread) -> None:
    async with AsyncAlgoTradeClient(server.base_url, ADMIN_KEY) as client:
        assert (await client.health())["status"] == "ok"
        assert await client.version() == {"version": VERSION}
        await client.create_bot({"bot_id": "beta", "symbol": "X", "strategy": "rsi"})
        assert (await client.start_bot("beta"))["state"] == "running"
        assert (await client.pause_bot("beta"))["state"] == "paused"
        assert (await client.resume_bot("beta"))["state"] == "running"
        assert (await client.stop_bot("beta"))["state"] == "stopped"
        assert (await client.update_config("beta", {"interval": "5m"}))["interval"] == "5m"
        assert (await client.get_bot("beta"))["config"]["interval"] == "5m"
        assert (await client.orders("beta"))["total"] == 0
        assert (await client.fills("beta", 0, 10))["limit"] == 10
        assert (await client.equity("beta"))["items"] == []
        assert await client.positions("beta") == []
        assert "algotrade_http_requests_total" in await client.metrics_text()
        await client.delete_bot("beta")
        assert len(await client.list_bots()) == 1
        with pytest.raises(ApiError, match=r"^409 invalid_state: cannot pause bot 'alpha'"):
            await client.pause_bot("alpha")


async def test_watch_snapshot_then_deltas(server: ServerThread, service: FakeBotService) -> None:
    async with AsyncAlgoTradeClient(server.base_url, ADMIN_KEY) as client:
        stream = client.watch(["status", "logs"])
        assert await _next(stream) == {
            "type": "subscribed",
            "topics": ["status", "logs"],
            "bot_id": "*",
        }
        status = await _next(stream)
        assert (status["type"], status["topic"]) == ("snapshot", "status")
        assert [s["bot_id"] for s in status["data"]] == ["alpha"]
        assert (await _next(stream))["topic"] == "logs"

        await client.start_bot("alpha")
        event = await _next(stream)
        assert (event["type"], event["topic"], event["bot_id"]) == ("event", "status", "alpha")
        assert event["data"]["state"] == "running"
        server.call(lambda: service.log("alpha", "bought 1 BTC"))
        assert (await _next(stream))["data"]["message"] == "bought 1 BTC"

        # Leaving the stream closes the socket; the server drops the subscription.
        await stream.aclose()
    _wait_for(lambda: server.call(lambda: service.bus.subscriber_count) == 0)


async def test_watch_with_trader_key_and_one_bot(server: ServerThread) -> None:
    async with AsyncAlgoTradeClient(server.base_url, TRADER_KEY) as client:
        stream = client.watch(["orders"], bot_id="alpha")
        assert (await _next(stream))["bot_id"] == "alpha"
        assert (await _next(stream))["data"] == []
        await stream.aclose()


async def test_watch_bad_key(server: ServerThread) -> None:
    async with AsyncAlgoTradeClient(server.base_url, "wrong-key-wrong-key") as client:
        with pytest.raises(ApiError) as caught:
            await _next(client.watch(["status"]))
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


async def test_watch_unreachable(dead_url: str) -> None:
    async with AsyncAlgoTradeClient(dead_url, ADMIN_KEY, timeout=2) as client:
        with pytest.raises(DaemonUnreachable) as caught:
            await _next(client.watch(["status"]))
        assert "\n" not in str(caught.value)
        with pytest.raises(DaemonUnreachable):
            await client.list_bots()


async def test_watch_too_slow_raises_stream_closed() -> None:
    service = FakeBotService(bus_queue_size=4)
    service.add_bot(make_config("alpha"))
    with running_server(service) as server:
        async with AsyncAlgoTradeClient(server.base_url, ADMIN_KEY) as client:
            stream = client.watch(["orders"], bot_id="alpha")
            await _next(stream)
            await _next(stream)

            # More than the queue holds, at once on the server's loop: the bus drops us.
            def burst() -> None:
                for n in range(50):
                    service.add_order("alpha", {"n": n})

            server.call(burst)
            with pytest.raises(StreamClosedError) as caught:  # noqa: PT012 (read until closed)
                while True:
                    await _next(stream)
            assert (caught.value.code, caught.value.reason) == (1013, "too slow")
            # The daemon carries on.
            assert (await client.start_bot("alpha"))["state"] == "running"


async def test_watch_raises_when_the_subscription_is_refused(server: ServerThread) -> None:

    async with AsyncAlgoTradeClient(server.base_url, ADMIN_KEY) as client:
        with pytest.raises(ApiError, match="not_found"):
            async for _ in client.watch(["status"], bot_id="no-such-bot"):
                pass
