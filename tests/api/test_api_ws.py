"""/ws through Starlette's TestClient: auth, snapshot then deltas, bad messages, slow clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from algotrade.api import create_app
from algotrade.api import ws as ws_module
from algotrade.daemon.bus import Topic
from testkit.api_harness import (
    ADMIN,
    ADMIN_KEY,
    TRADER_KEY,
    VERSION,
    TestClient,
    make_keys,
    make_test_client,
    on_app_loop,
)
from testkit.fake_bot_service import FakeBotService, make_config

WS = f"/ws?token={TRADER_KEY}"


def _subscribe(ws: Any, topics: list[str], bot_id: str = "*") -> list[dict[str, Any]]:
    """Send a subscribe; answer the ``subscribed`` reply and one snapshot per topic."""
    ws.send_json({"op": "subscribe", "topics": topics, "bot_id": bot_id})
    replies = [ws.receive_json() for _ in range(1 + len(topics))]
    assert replies[0] == {"type": "subscribed", "topics": topics, "bot_id": bot_id}
    assert [r["type"] for r in replies[1:]] == ["snapshot"] * len(topics)
    assert [r["topic"] for r in replies[1:]] == topics
    return replies[1:]


def test_token_header_and_rejection(client: TestClient) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    # A copy: websocket_connect adds handshake headers to the dict it is given.
    with client.websocket_connect("/ws", headers=dict(ADMIN)) as ws:
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    refused: list[tuple[str, dict[str, str]]] = [
        ("/ws", {}),
        ("/ws?token=wrong-key-wrong-key", {}),
        ("/ws", {"X-API-Key": "wrong-key-wrong-key"}),
    ]
    for url, headers in refused:
        with (
            client.websocket_connect(url, headers=headers) as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 4401


def test_status_snapshot_then_deltas(client: TestClient, service: FakeBotService) -> None:
    with client.websocket_connect(WS) as ws:
        (snapshot,) = _subscribe(ws, ["status"])
        assert snapshot["bot_id"] == "*"
        assert [s["bot_id"] for s in snapshot["data"]] == ["alpha"]
        assert snapshot["data"][0]["state"] == "stopped"

        assert client.put("/api/bots/alpha/start", headers=ADMIN).status_code == 200
        event = ws.receive_json()
        assert event["type"] == "event"
        assert event["topic"] == "status"
        assert event["bot_id"] == "alpha"
        assert event["data"]["state"] == "running"

        body = {"bot_id": "b2", "symbol": "X", "strategy": "rsi"}
        assert client.post("/api/bots", json=body, headers=ADMIN).status_code == 201
        assert ws.receive_json()["data"]["bot_id"] == "b2"


def test_orders_snapshot_is_the_last_page(client: TestClient, service: FakeBotService) -> None:
    for i in range(150):
        service.add_order("alpha", {"id": i})
    with client.websocket_connect(WS) as ws:
        orders, fills = _subscribe(ws, ["orders", "fills"], "alpha")
        assert [o["id"] for o in orders["data"]] == list(range(50, 150))
        assert fills["data"] == []
        on_app_loop(client, service.add_fill, "alpha", {"trade_id": "t1"})
        event = ws.receive_json()
        assert (event["type"], event["topic"], event["bot_id"]) == ("event", "fills", "alpha")
        assert event["data"]["trade_id"] == "t1"


def test_all_bots_snapshots_of_records_are_empty(client: TestClient) -> None:
    with client.websocket_connect(WS) as ws:
        snapshots = _subscribe(ws, ["orders", "fills", "logs", "risk"])
        assert [s["data"] for s in snapshots] == [[], [], [], []]


def test_filters_per_topic_and_bot(client: TestClient, service: FakeBotService) -> None:
    service.add_bot(make_config("beta"))
    with client.websocket_connect(WS) as ws:
        _subscribe(ws, ["status"], "alpha")
        _subscribe(ws, ["orders"], "beta")

        def publish() -> None:
            service.add_order("alpha", {"n": 1})  # orders of alpha: not wanted
            service.log("alpha", "not wanted")  # logs: not subscribed
            service.bus.publish(Topic.STATUS, "beta", {"n": 2})  # status of beta: not wanted
            service.add_order("beta", {"n": 3})
            service.bus.publish(Topic.STATUS, "alpha", {"n": 4})
            service.bus.publish(Topic.STATUS, None, {"n": 5})  # daemon-wide: every subscriber

        on_app_loop(client, publish)
        received = [ws.receive_json() for _ in range(3)]
        assert [(m["topic"], m["bot_id"], m["data"]["n"]) for m in received] == [
            ("orders", "beta", 3),
            ("status", "alpha", 4),
            ("status", None, 5),
        ]
        # Still the only ones: a ping round-trip proves nothing else was queued before it.
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_unsubscribe(client: TestClient, service: FakeBotService) -> None:
    with client.websocket_connect(WS) as ws:
        _subscribe(ws, ["status", "logs"])
        ws.send_json({"op": "unsubscribe", "topics": ["logs"], "bot_id": "*"})
        assert ws.receive_json() == {"type": "unsubscribed", "topics": ["logs"], "bot_id": "*"}
        on_app_loop(client, service.log, "alpha", "dropped")
        client.put("/api/bots/alpha/start", headers=ADMIN)
        assert ws.receive_json()["topic"] == "status"


@pytest.mark.parametrize(
    ("message", "code", "needle"),
    [
        ("not json", "invalid_json", "JSON"),
        ('{"op": "dance"}', "invalid_message", "op"),
        ('{"op": "subscribe"}', "invalid_message", "message: subscribe needs a non-empty"),
        ('{"op": "subscribe", "topics": []}', "invalid_message", "topics"),
        ('{"op": "subscribe", "topics": ["weather"]}', "invalid_message", "topics.0"),
        ('{"op": "subscribe", "topics": ["status"], "bot_id": "a b"}', "invalid_message", "bot_id"),
        ('{"op": "subscribe", "topics": ["status"], "extra": 1}', "invalid_message", "extra"),
        ('["subscribe"]', "invalid_message", "object"),
        ('{"op": "subscribe", "topics": ["status"], "bot_id": "ghost"}', "not_found", "ghost"),
    ],
)
def test_bad_message_keeps_connection(
    client: TestClient, message: str, code: str, needle: str
) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_text(message)
        reply = ws.receive_json()
        assert reply["type"] == "error"
        assert reply["error"]["code"] == code
        assert needle in reply["error"]["message"]
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_binary_frames(client: TestClient) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_bytes(b"\xff\xfe")
        assert ws.receive_json()["error"]["code"] == "invalid_json"
        ws.send_bytes(b'{"op": "ping"}')  # UTF-8 JSON in a binary frame is fine
        assert ws.receive_json() == {"type": "pong"}


def test_subscribe_to_unknown_bot_subscribes_nothing(
    client: TestClient, service: FakeBotService
) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_json({"op": "subscribe", "topics": ["status"], "bot_id": "ghost"})
        assert ws.receive_json()["type"] == "error"
        on_app_loop(client, service.bus.publish, Topic.STATUS, "ghost", {"n": 1})
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}


@pytest.fixture
def tiny_queue_client() -> Iterator[tuple[TestClient, FakeBotService]]:
    service = FakeBotService(bus_queue_size=4)
    service.add_bot(make_config("alpha"))
    with make_test_client(create_app(service, make_keys(), version=VERSION)) as client:
        yield client, service


def test_slow_client_is_closed_with_1013(
    tiny_queue_client: tuple[TestClient, FakeBotService],
) -> None:
    client, service = tiny_queue_client
    with (
        client.websocket_connect(WS) as slow,
        client.websocket_connect(f"/ws?token={ADMIN_KEY}") as other,
    ):
        _subscribe(slow, ["orders"], "alpha")
        _subscribe(other, ["status"])

        def burst() -> None:
            # All at once on the loop: the sender cannot drain in between, so the queue of 4
            # overflows; publishing must neither block nor fail.
            for i in range(20):
                service.add_order("alpha", {"n": i})

        on_app_loop(client, burst)
        with pytest.raises(WebSocketDisconnect) as closed:  # noqa: PT012 (read until closed)
            while True:
                assert slow.receive_json()["type"] == "event"
        assert (closed.value.code, closed.value.reason) == (1013, "too slow")

        # Everyone else carries on: the service, REST, the other socket.
        assert client.put("/api/bots/alpha/start", headers=ADMIN).status_code == 200
        event = other.receive_json()
        assert (event["topic"], event["data"]["state"]) == ("status", "running")
        metrics = client.get("/metrics", headers=ADMIN).text
        assert "algotrade_ws_clients_dropped_total 1.0" in metrics
        assert service.bus.dropped_total >= 1
        assert service.bus.subscriber_count == 1


def test_internal_error_during_subscribe_keeps_connection(
    client: TestClient, service: FakeBotService
) -> None:
    service.fail_with = RuntimeError("hidden detail")
    with client.websocket_connect(WS) as ws:
        ws.send_json({"op": "subscribe", "topics": ["status"]})
        reply = ws.receive_json()
        assert reply["error"]["code"] == "internal_error"
        assert "hidden" not in reply["error"]["message"]
        service.fail_with = None
        _subscribe(ws, ["status"])


async def test_sends_on_a_socket_the_client_broke_are_not_logged_as_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A client that vanishes while both the sender (events) and the receiver (a snapshot) are
    # writing: the first write fails with the server's OSError, which Starlette turns into
    # WebSocketDisconnect; the second meets a socket Starlette already marked closed and gets
    # WebSocketDisconnected instead. Both are the client leaving, not a daemon failure.
    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        raise OSError("connection reset by peer")

    socket = WebSocket({"type": "websocket", "path": "/ws", "headers": []}, receive, send)
    socket.client_state = socket.application_state = WebSocketState.CONNECTED
    first = asyncio.create_task(socket.send_text("event"), name="ws-send")
    second = asyncio.create_task(socket.send_text("snapshot"), name="ws-receive")
    await asyncio.wait({first, second})
    with caplog.at_level(logging.ERROR, logger="algotrade.api"):
        await ws_module._cancel_and_wait(first, second)
    assert caplog.records == []
