"""HlWebSocket against a real local WebSocket server that plays Hyperliquid's /ws."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from algotrade.venues.hyperliquid.config import HyperliquidConfig
from algotrade.venues.hyperliquid.errors import HlRequestFailed
from algotrade.venues.hyperliquid.ws import VENUE_GREETING, HlWebSocket, subscription_key
from testkit.ws_peer import ScriptedHlWs

USER = "0x" + "ab" * 20
CANDLE_BTC = {"type": "candle", "coin": "BTC", "interval": "1m"}


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def make_config(url: str, **overrides: Any) -> HyperliquidConfig:
    values: dict[str, Any] = {
        "ws_url": url,
        "ping_interval_s": 5.0,
        "reconnect_min_s": 0.01,
        "reconnect_max_s": 0.05,
        "request_timeout_s": 2.0,
    }
    values.update(overrides)
    return HyperliquidConfig(**values)


class RecordingRandom(random.Random):
    """Full jitter with the ceiling recorded, and always the ceiling returned."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return b


@pytest.fixture
async def server() -> AsyncIterator[ScriptedHlWs]:
    fake = ScriptedHlWs()
    await fake.start()
    yield fake
    await fake.close()


@contextlib.asynccontextmanager
async def running(ws: HlWebSocket) -> AsyncIterator[HlWebSocket]:
    await ws.start(timeout=3.0)
    try:
        yield ws
    finally:
        await ws.stop()


def candle_msg(coin: str = "BTC", interval: str = "1m", t: int = 0, c: str = "1") -> dict[str, Any]:
    data = {"t": t, "T": t + 59_999, "s": coin, "i": interval, "o": "1", "c": c}
    data.update({"h": "2", "l": "0.5", "v": "3", "n": 4})
    return {"channel": "candle", "data": data}


def test_subscription_key_validates_and_normalises() -> None:
    assert subscription_key({"type": "userFills", "user": USER.upper()})[3] == USER.upper().lower()
    with pytest.raises(ValueError, match="interval"):
        subscription_key({"type": "candle", "coin": "BTC"})
    with pytest.raises(ValueError, match="unsupported"):
        subscription_key({"type": "bogus"})


async def test_queued_subscriptions_are_sent_on_connect_and_messages_routed(
    server: ScriptedHlWs,
) -> None:
    ws = HlWebSocket(server.url, make_config(server.url))
    got: dict[str, list[Any]] = {}

    def collect(name: str) -> Callable[[Any], None]:
        return lambda data: got.setdefault(name, []).append(data)

    subs = {
        "candle": CANDLE_BTC,
        "trades": {"type": "trades", "coin": "ETH"},
        "book": {"type": "l2Book", "coin": "BTC"},
        "mids": {"type": "allMids"},
        "orders": {"type": "orderUpdates", "user": USER},
        "fills": {"type": "userFills", "user": USER},
        "events": {"type": "userEvents", "user": USER},
    }
    for name, sub in subs.items():
        await ws.subscribe(sub, collect(name))
    assert not server.received  # not connected yet: queued
    async with running(ws):
        assert ws.connected
        await eventually(lambda: len(server.sent("subscribe")) == len(subs))
        assert sorted(map(str, server.sent("subscribe"))) == sorted(map(str, subs.values()))
        trade = {"coin": "ETH", "side": "B", "px": "1", "sz": "2", "hash": "0x", "time": 1}
        await server.push(candle_msg("ETH"))  # nobody subscribed to ETH candles
        await server.push(candle_msg("BTC", c="42"))
        await server.push({"channel": "trades", "data": [{**trade, "tid": 1, "users": []}]})
        await server.push({"channel": "trades", "data": []})
        book = {"coin": "BTC", "time": 5, "levels": [[], []]}
        await server.push({"channel": "l2Book", "data": book})
        await server.push({"channel": "allMids", "data": {"mids": {"BTC": "65000.5"}}})
        await server.push({"channel": "orderUpdates", "data": [{"status": "open"}]})
        await server.push({"channel": "userFills", "data": {"user": USER, "fills": []}})
        await server.push({"channel": "userFills", "data": {"user": "0x" + "cd" * 20}})
        await server.push({"channel": "user", "data": {"nonUserCancel": [{"coin": "BTC"}]}})
        await eventually(lambda: "events" in got)
    assert got["candle"] == [candle_msg("BTC", c="42")["data"]]
    assert got["trades"][0][0]["tid"] == 1
    assert got["book"] == [book]
    assert got["mids"] == [{"mids": {"BTC": "65000.5"}}]
    assert got["orders"] == [[{"status": "open"}]]
    assert got["fills"] == [{"user": USER, "fills": []}]  # the other user's fills are not ours
    assert got["events"] == [{"nonUserCancel": [{"coin": "BTC"}]}]
    assert ws.stats.unrouted == 3  # ETH candle, empty trades, other user's fills
    assert ws.stats.malformed == 0
    assert ws.stats.last_message_ns > 0


async def test_the_venue_greeting_is_expected_and_a_lookalike_is_malformed(
    server: ScriptedHlWs,
) -> None:
    ws = HlWebSocket(server.url, make_config(server.url))
    got: list[Any] = []
    await ws.subscribe(CANDLE_BTC, got.append)
    async with running(ws):
        await server.push(VENUE_GREETING)  # what Hyperliquid sends first on every connection
        await server.push("Websocket connection established. Or not")
        await server.push(candle_msg())
        await eventually(lambda: len(got) == 1)
    assert ws.stats.greetings == 1
    assert ws.stats.malformed == 1


async def test_subscribe_while_connected_is_sent_once_and_unsubscribed_with_last_handler(
    server: ScriptedHlWs,
) -> None:
    ws = HlWebSocket(server.url, make_config(server.url))
    first: list[Any] = []
    second: list[Any] = []
    async with running(ws):
        await ws.subscribe(CANDLE_BTC, first.append)
        await ws.subscribe(dict(CANDLE_BTC), second.append)
        await eventually(lambda: len(server.received) >= 1)
        await server.push(candle_msg())
        await eventually(lambda: len(first) == 1 and len(second) == 1)
        assert server.sent("subscribe") == [CANDLE_BTC]
        with pytest.raises(ValueError, match="already subscribed"):
            await ws.subscribe({**CANDLE_BTC, "extra": 1}, first.append)
        await ws.unsubscribe(CANDLE_BTC, first.append)
        await asyncio.sleep(0.05)
        assert server.sent("unsubscribe") == []
        await ws.unsubscribe(CANDLE_BTC, second.append)
        await eventually(lambda: server.sent("unsubscribe") == [CANDLE_BTC])
        assert ws.subscriptions() == []
    await eventually(lambda: server.close_codes == [1000])  # stop() closes cleanly


async def test_ping_is_sent_within_the_interval_and_pongs_counted(server: ScriptedHlWs) -> None:
    ws = HlWebSocket(server.url, make_config(server.url, ping_interval_s=0.2))
    async with running(ws):
        connected_at = time.monotonic()
        await eventually(lambda: len(server.ping_times) >= 2, timeout=2.0)
        # Every 0.2 s (plus scheduling slack on a busy machine).
        assert server.ping_times[0] - connected_at < 0.45
        assert server.ping_times[1] - server.ping_times[0] < 0.45
        await eventually(lambda: ws.stats.pongs >= 2)
        assert ws.stats.pings_sent >= 2
        assert ws.stats.reconnects == 0


async def test_silent_server_is_detected_and_replaced() -> None:
    fake = ScriptedHlWs(answer_pings=False)
    await fake.start()
    try:
        ws = HlWebSocket(fake.url, make_config(fake.url, ping_interval_s=0.1))
        async with running(ws):
            await eventually(lambda: len(fake.connections) >= 2, timeout=2.0)
            await eventually(lambda: fake.close_codes[:1] == [1011])
    finally:
        await fake.close()


async def test_reconnects_with_backoff_resubscribes_and_runs_hooks(server: ScriptedHlWs) -> None:
    rng = RecordingRandom()
    ws = HlWebSocket(server.url, make_config(server.url), rng=rng)
    got: list[Any] = []
    disconnects: list[int] = []
    gaps: list[tuple[int, int]] = []
    release = asyncio.Event()

    async def on_reconnect(gap_started_ms: int, reconnected_ms: int) -> None:
        gaps.append((gap_started_ms, reconnected_ms))
        await release.wait()

    async def failing_hook(gap_started_ms: int, reconnected_ms: int) -> None:
        raise RuntimeError("this hook is broken")

    ws.on_disconnect(disconnects.append)
    ws.on_reconnect(on_reconnect)
    ws.on_reconnect(failing_hook)
    await ws.subscribe(CANDLE_BTC, got.append)
    await ws.subscribe({"type": "userFills", "user": USER}, got.append)
    async with running(ws):
        await eventually(lambda: len(server.sent("subscribe", 1)) == 2)
        server.abort()  # abrupt: no close frame
        await eventually(lambda: len(server.sent("subscribe", 2)) == 2)
        assert server.sent("subscribe", 2) == server.sent("subscribe", 1)
        await eventually(lambda: len(gaps) == 1)
        assert len(disconnects) == 1
        assert disconnects[0] <= gaps[0][0] <= gaps[0][1]
        # Live messages wait until the reconnect hooks are done.
        await server.push(candle_msg(c="7"))
        await asyncio.sleep(0.05)
        assert got == []
        release.set()
        await eventually(lambda: len(got) == 1)
        assert ws.stats.reconnects == 1
        # A server-side error close (1011) is recovered from as well.
        await server.connections[-1].close(1011, "internal error")
        await eventually(lambda: len(server.sent("subscribe", 3)) == 2)
        await eventually(lambda: ws.stats.reconnects == 2)
    assert rng.ceilings == [0.01, 0.01]  # each healthy connection resets the backoff


async def test_backoff_doubles_to_the_maximum_while_refused_then_recovers(
    server: ScriptedHlWs,
) -> None:
    rng = RecordingRandom()
    config = make_config(server.url, reconnect_min_s=0.01, reconnect_max_s=0.04)
    ws = HlWebSocket(server.url, config, rng=rng)
    await ws.subscribe(CANDLE_BTC, lambda data: None)
    async with running(ws):
        port = server.port
        await eventually(lambda: len(server.received) >= 1)  # served: the backoff resets
        await server.close()  # closes the connection (1001) and refuses new ones
        await eventually(lambda: len(rng.ceilings) >= 6, timeout=3.0)
        assert not ws.connected
        await server.start(port)
        await eventually(lambda: ws.connected, timeout=3.0)
        await eventually(lambda: server.sent("subscribe", len(server.connections)) == [CANDLE_BTC])
    assert rng.ceilings[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]


async def test_bad_frames_and_failing_handlers_are_logged_counted_and_skipped(
    server: ScriptedHlWs, caplog: pytest.LogCaptureFixture
) -> None:
    ws = HlWebSocket(server.url, make_config(server.url))
    got: list[Any] = []
    calls = 0

    def flaky(data: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("handler bug")

    await ws.subscribe(CANDLE_BTC, flaky)
    await ws.subscribe(CANDLE_BTC, got.append)
    caplog.set_level(logging.WARNING, logger="algotrade.venues.hyperliquid.ws")
    async with running(ws):
        await server.push("not json {" + "x" * 5000)
        await server.push("[1, 2, 3]")
        await server.push({"data": {"no": "channel"}})
        await server.push({"channel": "candle", "data": {"t": 1}})  # no coin/interval
        await server.push({"channel": "candle", "data": "text"})
        await server.push({"channel": "brandNew", "data": {}})
        await server.push({"channel": "error", "data": "Invalid subscription"})
        await server.push(candle_msg(c="1"))  # the first handler raises on this one
        await server.push(candle_msg(c="2"))
        await eventually(lambda: len(got) == 2)
        assert ws.connected
        assert ws.stats.connects == 1
    assert [data["c"] for data in got] == ["1", "2"]
    assert calls == 2
    stats = ws.stats
    assert (stats.malformed, stats.unknown_channel, stats.handler_errors) == (5, 1, 1)
    assert stats.server_errors == 1
    assert stats.messages >= 9
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 8
    assert all(len(message) < 400 for message in warnings)
    assert any("not JSON" in message for message in warnings)
    assert any("brandNew" in message for message in warnings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_start_raises_after_a_bounded_first_attempt() -> None:
    url = f"ws://127.0.0.1:{_free_port()}/ws"
    ws = HlWebSocket(url, make_config(url))
    started = time.monotonic()
    with pytest.raises(HlRequestFailed, match=r"within 0\.3s"):
        await ws.start(timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert not ws.connected


async def test_start_without_waiting_connects_in_the_background() -> None:
    fake = ScriptedHlWs()
    port = _free_port()
    url = f"ws://127.0.0.1:{port}/ws"
    ws = HlWebSocket(url, make_config(url))
    await ws.start(wait=False)
    assert not await ws.wait_connected(0.05)
    await fake.start(port)
    try:
        assert await ws.wait_connected(3.0)
        await ws.stop()
        assert not ws.connected
    finally:
        await fake.close()


async def test_a_server_that_greets_and_drops_is_not_dialled_past_the_connection_cap() -> None:
    """Defect: any frame (even the plain-text greeting) reset the back-off, so a server that
    greets and closes at once was dialled about four times a second; the docs allow at most
    30 new connections a minute."""
    accepted: list[float] = []

    async def greet_and_close(conn: ServerConnection) -> None:
        accepted.append(time.monotonic())
        await conn.send(VENUE_GREETING)
        await conn.close()

    async with serve(greet_and_close, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = HlWebSocket(config=make_config(f"ws://127.0.0.1:{port}/ws", ws_connects_per_minute=4))
        task = asyncio.get_running_loop().create_task(ws.start(timeout=1.5))
        with contextlib.suppress(Exception):
            await task
        await asyncio.sleep(0.5)  # the back-off alone would have dialled dozens of times
        assert len(accepted) == 4
        await ws.stop()
