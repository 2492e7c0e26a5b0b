"""WebSocket side of the fake Bybit (docs/v5/ws/connect): public and private streams.

Public (``/v5/public/linear``): ``{"op": "subscribe", "args": ["kline.1.BTCUSDT"]}``, pushes
``{"topic", "data", "ts", "type": "snapshot"}``; ping answers
``{"success": true, "ret_msg": "pong", "conn_id", "req_id", "op": "ping"}``.

Private (``/v5/private``): ``{"op": "auth", "args": [apiKey, expires, signature]}`` first, then
subscribe to ``order``/``execution``/``position``/``wallet`` (or the ``.linear`` categorised
topics; all-in-one and categorised topics cannot share one request). Ping answers
``{"req_id", "op": "pong", "args": [ts], "conn_id"}``.

Pushes are published with ``ExchangeState.lock`` held; each connection's queue lives on the
server's loop and is fed with ``call_soon_threadsafe``, so messages keep the state's order.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

from starlette.websockets import WebSocket

from testkit.threaded_server import QueuedSocket

from .auth import verify_ws_auth
from .state import ExchangeState
from .wire import INTERVAL_MS

__all__ = ["PRIVATE_TOPICS", "Connection", "Hub"]

_KLINE = re.compile(r"^kline\.([0-9A-Z]+)\.([A-Z0-9]+)$")
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")


class Connection(QueuedSocket):
    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop, kind: str) -> None:
        super().__init__(websocket, loop)
        self.kind = kind  # "public" | "private"
        self.conn_id = str(uuid.uuid4())
        self.topics: set[str] = set()  # as subscribed (e.g. "order" or "order.linear")
        self.uid: str | None = None  # set by a successful auth

    def wants(self, topic: str) -> bool:
        return topic in self.topics or f"{topic}.linear" in self.topics


class Hub:
    def __init__(self, state: ExchangeState) -> None:
        self.state = state
        self.connections: set[Connection] = set()
        self.silenced = False
        self.refusing_auth = False
        # The docs' reply samples for auth and private subscribe carry no req_id (it is
        # optional); this fake echoes it unless told to answer like those samples.
        self.echoing_req_id = True

    def publish(self, key: tuple[str, ...], message: dict[str, Any]) -> None:
        """Deliver a push (called with the state lock held)."""
        if self.silenced:
            return
        texts: dict[str, str] = {}
        for connection in self.connections:
            if key[0] == "public":
                if connection.kind == "public" and key[1] in connection.topics:
                    topic = key[1]
                else:
                    continue
            elif (
                connection.kind == "private"
                and connection.uid == key[1]
                and connection.wants(key[2])
            ):
                # a categorised subscriber ("order.linear") gets that topic name back; the
                # docs only show all-in-one examples, so this is an inference
                topic = key[2] if key[2] in connection.topics else f"{key[2]}.linear"
            else:
                continue
            if topic not in texts:
                texts[topic] = json.dumps({**message, "topic": topic})
            connection.send(texts[topic])

    def add(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections.add(connection)

    def remove(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections.discard(connection)

    # ------------------------------------------------------------------ client frames

    def on_text(self, connection: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            connection.send(self._reply(connection, "", "", False, f"error:invalid json: {text}"))
            return
        op = message.get("op")
        req_id = message.get("req_id", "")
        if op == "ping":
            if connection.kind == "public":
                connection.send(self._reply(connection, req_id, "ping", True, "pong"))
            else:
                connection.send(
                    {
                        "req_id": req_id,
                        "op": "pong",
                        "args": [str(self.state.clock())],
                        "conn_id": connection.conn_id,
                    }
                )
        elif op == "auth" and connection.kind == "private":
            self._auth(connection, req_id, message.get("args"))
        elif op in ("subscribe", "unsubscribe"):
            self._subscription(connection, req_id, op, message.get("args"))
        else:
            connection.send(
                self._reply(connection, req_id, str(op), False, f"error:unsupported op: {op!r}")
            )

    def _reply(
        self, connection: Connection, req_id: Any, op: str, success: bool, ret_msg: str
    ) -> dict[str, Any]:
        reply = {"success": success, "ret_msg": ret_msg, "conn_id": connection.conn_id, "op": op}
        if self.echoing_req_id:
            reply["req_id"] = req_id
        elif connection.kind == "public":
            reply["req_id"] = ""  # as the docs' public subscribe sample shows it
        return reply

    def _auth(self, connection: Connection, req_id: Any, args: Any) -> None:
        with self.state.lock:
            if self.refusing_auth:
                uid, reason = None, "Invalid apikey"  # the test refuses every auth
            else:
                api_key, reason = verify_ws_auth(args, self.state.secrets, self.state.clock())
                uid = self.state.by_key.get(api_key) if api_key else None
            if connection.uid is not None and uid is not None:
                uid, reason = None, "Repeat auth"
            if uid is not None:
                connection.uid = uid
        connection.send(self._reply(connection, req_id, "auth", uid is not None, reason))

    def _valid_topic(self, connection: Connection, topic: Any) -> bool:
        if not isinstance(topic, str):
            return False
        if connection.kind == "private":
            return topic in PRIVATE_TOPICS or topic.removesuffix(".linear") in PRIVATE_TOPICS
        match = _KLINE.match(topic)
        return bool(match and match[1] in INTERVAL_MS and match[2] in self.state.instruments)

    def _subscription(self, connection: Connection, req_id: Any, op: str, args: Any) -> None:
        if not isinstance(args, list) or not args:
            connection.send(self._reply(connection, req_id, op, False, "error:args is required"))
            return
        if connection.kind == "private":
            if connection.uid is None:
                connection.send(
                    self._reply(connection, req_id, op, False, "Request not authorized")
                )
                return
            # docs: "All-In-One topic and Categorised topic cannot be in the same subscription
            # request" (docs/v5/websocket/private/order)
            names = [a for a in args if isinstance(a, str)]
            if any(a in PRIVATE_TOPICS for a in names) and any(
                a.endswith(".linear") for a in names
            ):
                connection.send(
                    self._reply(
                        connection,
                        req_id,
                        op,
                        False,
                        "error:all-in-one and categorised topics cannot be in the same request",
                    )
                )
                return
        bad = [a for a in args if not self._valid_topic(connection, a)]
        if bad:
            connection.send(
                self._reply(
                    connection, req_id, op, False, f"error:handler not found,topic:{bad[0]}"
                )
            )
            return
        with self.state.lock:
            if op == "subscribe":
                connection.topics.update(args)
            else:
                connection.topics.difference_update(args)
        connection.send(self._reply(connection, req_id, op, True, ""))

    def subscriptions(self) -> list[tuple[str, str]]:
        """(connection kind, topic) for every live subscription."""
        with self.state.lock:
            return sorted((c.kind, t) for c in self.connections for t in c.topics)
