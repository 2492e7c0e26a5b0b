"""A client that stops reading, over real TCP: the daemon must not stall, and must close it."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import httpx

from testkit.api_harness import ADMIN, ADMIN_KEY, running_server
from testkit.fake_bot_service import FakeBotService, make_config


def _frame(payload: bytes) -> bytes:
    # A masked text frame, as every client frame must be (RFC 6455 §5.3); payload < 126 bytes.
    mask = os.urandom(4)
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def _open_stuck_client(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive buffer, set before connecting (it sizes the TCP window), so the path
    # fills after a few MB rather than the tens of MB loopback autotuning allows.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"X-API-Key: {ADMIN_KEY}\r\n\r\n".encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")
    subscribe = {"op": "subscribe", "topics": ["orders"], "bot_id": "alpha"}
    sock.sendall(_frame(json.dumps(subscribe).encode()))
    return sock


def test_client_that_never_reads_is_closed_with_1013() -> None:
    service = FakeBotService(bus_queue_size=8)
    service.add_bot(make_config("alpha"))
    with running_server(service) as server:
        stuck = _open_stuck_client(server.port)
        time.sleep(0.2)  # let the subscription land
        padding = "x" * 65536

        def batch() -> None:
            # Smaller than the queue (8): only a sender blocked on the socket can overflow it.
            for _ in range(4):
                service.add_order("alpha", {"pad": padding})

        started = time.monotonic()
        for _ in range(800):
            server.call(batch)
            if service.bus.dropped_total:
                break
            time.sleep(0.005)
        assert service.bus.dropped_total, "the stuck client was never dropped"

        # The daemon still answers while the stuck socket is being closed.
        with httpx.Client(base_url=server.base_url, headers=ADMIN, timeout=5) as http:
            assert http.put("/api/bots/alpha/start").json()["state"] == "running"
            deadline = time.monotonic() + 10
            while "algotrade_ws_clients_dropped_total 1.0" not in http.get("/metrics").text:
                assert time.monotonic() < deadline, "the drop was never counted"
                time.sleep(0.05)

        # Everything still buffered for the client ends with a close frame: 1013 "too slow".
        close_frame = b"\x88\x0a\x03\xf5too slow"
        stuck.settimeout(10)
        tail = b""
        while not tail.endswith(close_frame):
            chunk = stuck.recv(1 << 20)
            assert chunk, f"connection ended without the 1013 close frame: {tail[-20:]!r}"
            tail = (tail + chunk)[-64:]
        stuck.close()
        assert server.call(lambda: service.bus.subscriber_count) == 0
        assert time.monotonic() - started < 30
