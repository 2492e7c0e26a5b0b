"""The API server's connection guard (api/server.py) over real TCP: slow, idle and flooding
clients are cut off, real requests keep being served."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from algotrade.api import create_app
from algotrade.api.server import ConnectionGuard, ConnectionLimits, server_config
from testkit.api_harness import ADMIN_KEY, VERSION, make_keys
from testkit.fake_bot_service import FakeBotService, make_config

SHORT = 0.3  # seconds: the timeouts under test
PATIENCE = 10.0  # how long a test waits for something that must happen well before


class GuardedServer:
    """``server_config``'s uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app: FastAPI, limits: ConnectionLimits) -> None:
        config, self.guard = server_config(
            app, host="127.0.0.1", port=0, access_log=False, limits=limits
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="guarded-uvicorn", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def open_connections(self) -> int:
        """Connections the server holds, counted on its own loop."""

        async def count() -> int:
            return len(self.server.server_state.connections)

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(PATIENCE)


@contextmanager
def guarded_server(limits: ConnectionLimits, app: FastAPI | None = None) -> Iterator[GuardedServer]:
    if app is None:
        service = FakeBotService()
        service.add_bot(make_config("alpha"))
        app = create_app(service, make_keys(), version=VERSION)
    server = GuardedServer(app, limits)
    server.thread.start()
    deadline = time.monotonic() + PATIENCE
    while not server.server.started:
        assert server.thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.server.should_exit = True
        server.thread.join(PATIENCE)
        if not server.thread.is_alive():
            server.loop.close()


def admin_headers() -> dict[str, str]:
    # A fresh dict: Starlette's TestClient.websocket_connect adds handshake headers to the dict
    # it is given, so the shared ADMIN may carry a stale Sec-WebSocket-Key from other tests.
    return {"X-API-Key": ADMIN_KEY}


def limits(**changes: float) -> ConnectionLimits:
    values: dict[str, float] = {"head_timeout_s": SHORT, "body_timeout_s": SHORT, **changes}
    return ConnectionLimits(**values)  # type: ignore[arg-type]


def connect(server: GuardedServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection. A server that keeps the
    connection fails the test with a socket timeout."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return data[: len(head) + 4] + body


def health_request() -> bytes:
    return b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n"


def test_silent_connection_is_closed_after_the_head_timeout() -> None:
    with guarded_server(limits()) as server:
        started = time.monotonic()  # before the server can start its timer
        with connect(server) as sock:
            received = read_until_closed(sock)
        took = time.monotonic() - started
    assert received == b""  # dropped without an answer: nothing to log, nothing to parse
    assert SHORT * 0.9 <= took < PATIENCE


def test_partial_head_is_closed_after_the_head_timeout() -> None:
    with guarded_server(limits()) as server:
        started = time.monotonic()
        with connect(server) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: test\r\n")  # no blank line
            received = read_until_closed(sock)
        took = time.monotonic() - started
    assert received == b""
    assert SHORT * 0.9 <= took < PATIENCE


def test_partial_head_after_a_kept_alive_request_is_closed() -> None:
    # uvicorn's keep-alive timer stops at the first byte of the next request; the head
    # timeout must still end a next request that never completes.
    with guarded_server(limits(keep_alive_s=60)) as server, connect(server) as sock:
        sock.sendall(health_request())
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHo")
        assert read_until_closed(sock) == b""


def test_partial_body_is_dropped_after_the_body_timeout() -> None:
    with guarded_server(limits()) as server:
        with connect(server) as sock:
            sock.sendall(
                b"POST /api/bots HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"X-API-Key: {ADMIN_KEY}\r\nContent-Length: 100\r\n\r\n".encode()
                + b'{"bot_id": '
            )
            started = time.monotonic()  # the body timer starts when the head has arrived
            received = read_until_closed(sock)
        took = time.monotonic() - started
    assert received == b""  # no answer: the request never completed
    assert took < PATIENCE


def test_a_request_the_app_takes_long_to_answer_is_not_cut() -> None:
    # The timeouts bound what the client sends, never how long the daemon works on an answer.
    app = FastAPI()

    @app.post("/slow")
    async def slow(request: Request) -> dict[str, int]:
        body = await request.body()
        await asyncio.sleep(SHORT * 3)
        return {"received": len(body)}

    with guarded_server(limits(), app) as server, connect(server) as sock:
        sock.sendall(b"POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nab")
        sock.sendall(b"cd")  # the rest of the body, well within the body timeout
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'{"received":4}')


def test_past_the_cap_the_longest_waiting_connections_go_and_health_answers() -> None:
    cap = 20
    with guarded_server(limits(head_timeout_s=PATIENCE * 6, max_connections=cap)) as server:
        idle = [connect(server) for _ in range(100)]
        try:
            started = time.monotonic()
            response = httpx.get(f"http://127.0.0.1:{server.port}/api/health", timeout=PATIENCE)
            assert response.status_code == 200
            assert time.monotonic() - started < PATIENCE / 2
            assert server.open_connections() <= cap
            assert server.guard.evicted >= 100 + 1 - cap
            # The oldest were closed; the newest are still open.
            assert read_until_closed(idle[0]) == b""
            idle[-1].setblocking(False)
            with pytest.raises(BlockingIOError):
                idle[-1].recv(1)
        finally:
            for sock in idle:
                sock.close()


def test_at_the_cap_busy_connections_stay_and_a_newcomer_is_refused() -> None:
    cap = 3
    busy_limits = limits(body_timeout_s=PATIENCE * 6, max_connections=cap)
    partial_body = (
        b"POST /api/bots HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {ADMIN_KEY}\r\nContent-Length: 100\r\n\r\n{{".encode()
    )
    with guarded_server(busy_limits) as server:
        busy = [connect(server) for _ in range(cap)]
        try:
            for sock in busy:
                sock.sendall(partial_body)
            deadline = time.monotonic() + PATIENCE
            # Until the server holds all of them and every one is reading its body.
            while server.open_connections() < cap or server.guard.waiting:
                assert time.monotonic() < deadline, "the server never got the requests"
                time.sleep(0.01)
            with connect(server) as newcomer:
                assert read_until_closed(newcomer) == b""
            assert server.open_connections() == cap
        finally:
            for sock in busy:
                sock.close()


def test_a_websocket_message_over_the_size_limit_is_closed_with_1009() -> None:
    small = limits(ws_max_message_bytes=1024)
    with guarded_server(small) as server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        with ws_connect(url, additional_headers=admin_headers()) as ws:
            ws.send("[" * 100_000)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=PATIENCE)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert closed.value.rcvd.reason  # says why
        # The daemon carries on.
        with ws_connect(url, additional_headers=admin_headers()) as ws:
            ws.send('{"op": "ping"}')
            assert ws.recv(timeout=PATIENCE) == '{"type":"pong"}'


@pytest.mark.parametrize(
    "message", ["[" * 100_000, '{"op": "ping", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"]
)
def test_a_websocket_message_nested_too_deep_gets_an_error_and_the_socket_stays(
    message: str,
) -> None:
    # Under the size limit but deeper than the JSON parser's stack: it raised RecursionError,
    # which ended the socket without a close frame.
    with guarded_server(limits(ws_max_message_bytes=1 << 20)) as server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        with ws_connect(url, additional_headers=admin_headers()) as ws:
            ws.send(message)
            reply = json.loads(ws.recv(timeout=PATIENCE))
            assert reply["type"] == "error"
            assert reply["error"]["code"] == "invalid_json"
            assert "nested too deeply" in reply["error"]["message"]
            ws.send('{"op": "ping"}')
            assert ws.recv(timeout=PATIENCE) == '{"type":"pong"}'


def test_upgraded_websockets_leave_the_guard() -> None:
    # A WebSocket is long-lived by design: the head timeout must not close it.
    with guarded_server(limits()) as server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        with ws_connect(url, additional_headers=admin_headers()) as ws:
            assert server.guard.waiting == 0
            time.sleep(SHORT * 3)  # longer than every guard timeout
            ws.send('{"op": "ping"}')
            assert ws.recv(timeout=PATIENCE) == '{"type":"pong"}'


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="head_timeout_s"):
        ConnectionLimits(head_timeout_s=0)
    with pytest.raises(ValueError, match="max_connections"):
        ConnectionLimits(max_connections=0)
    guard = ConnectionGuard(ConnectionLimits())
    assert guard.protocol_class().guard is guard
