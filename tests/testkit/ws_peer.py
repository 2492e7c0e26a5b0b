"""A scripted Hyperliquid WebSocket peer for the WebSocket client's own tests: acks
(un)subscriptions, answers pings (or not), pushes what the test says, drops on demand, and
records every message received as (connection number, message). The full fake venue is
``testkit.fake_hyperliquid``; this one gives a test control of every frame."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


class ScriptedHlWs:
    """See the module docstring. ``on_subscribe`` returns frames sent after each subscribe's
    ack (e.g. the venue's current candle)."""

    def __init__(self, *, answer_pings: bool = True) -> None:
        self.answer_pings = answer_pings
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.connections: list[ServerConnection] = []
        self.close_codes: list[int | None] = []
        self.ping_times: list[float] = []
        self.server: Server | None = None
        self.port = 0
        self.on_subscribe: Callable[[], list[dict[str, Any]]] = list

    async def start(self, port: int = 0) -> None:
        self.server = await serve(self._handle, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1] if port == 0 else port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        number = len(self.connections)
        try:
            async for raw in conn:
                message = json.loads(raw)
                self.received.append((number, message))
                method = message.get("method")
                if method == "ping":
                    self.ping_times.append(time.monotonic())
                    if self.answer_pings:
                        await conn.send(json.dumps({"channel": "pong"}))
                elif method in ("subscribe", "unsubscribe"):
                    ack = {"channel": "subscriptionResponse", "data": message}
                    await conn.send(json.dumps(ack))
                    if method == "subscribe":
                        for frame in self.on_subscribe():
                            await conn.send(json.dumps(frame))
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(conn.close_code)

    def sent(self, method: str, connection: int | None = None) -> list[dict[str, Any]]:
        return [
            m["subscription"]
            for n, m in self.received
            if m.get("method") == method and (connection is None or n == connection)
        ]

    async def push(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.connections[-1].send(text)

    def abort(self) -> None:
        transport = self.connections[-1].transport
        assert transport is not None
        transport.abort()
