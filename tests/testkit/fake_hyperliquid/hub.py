"""WebSocket side of the fake Hyperliquid: connections, subscriptions and pushes.

Pushes are published while ``ExchangeState.lock`` is held (from the test thread or the server's
loop); each connection's outgoing queue lives on the server's loop and is fed with
``call_soon_threadsafe``, so messages keep the order in which the state changed. Subscribers are
chosen when a message is published, so a ``userFills`` snapshot never overlaps a later push.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.websockets import WebSocket

from testkit.threaded_server import QueuedSocket

from .state import ExchangeState
from .wire import INTERVAL_MS

__all__ = ["Connection", "Hub", "subscription_key"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_USER_CHANNELS = ("orderUpdates", "userFills", "userEvents")
_SNAPSHOT_FILLS = 2000


def subscription_key(sub: Any) -> tuple[str, ...] | None:
    """The routing key of a subscription, or None when the venue would refuse it."""
    if not isinstance(sub, dict):
        return None
    kind = sub.get("type")
    if kind == "allMids":
        return ("allMids",)
    if kind in ("trades", "l2Book") and isinstance(sub.get("coin"), str):
        return (kind, sub["coin"])
    if kind == "candle" and isinstance(sub.get("coin"), str) and sub.get("interval") in INTERVAL_MS:
        return ("candle", sub["coin"], sub["interval"])
    user = sub.get("user")
    if kind in _USER_CHANNELS and isinstance(user, str) and _ADDRESS.match(user):
        return (kind, user.lower())
    return None


class Connection(QueuedSocket):
    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(websocket, loop)
        self.subscriptions: dict[tuple[str, ...], dict[str, Any]] = {}


class Hub:
    def __init__(self, state: ExchangeState) -> None:
        self.state = state
        self.connections: set[Connection] = set()
        self.silenced = False

    def publish(self, key: tuple[str, ...], message: dict[str, Any]) -> None:
        """Deliver a push to this key's subscribers (called with the state lock held)."""
        if self.silenced:
            return
        targets = [c for c in self.connections if key in c.subscriptions]
        if targets:
            text = json.dumps(message)
            for connection in targets:
                connection.send(text)

    def broadcast_raw(self, text: str) -> None:
        with self.state.lock:
            for connection in self.connections:
                connection.send(text)

    def add(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections.add(connection)

    def remove(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections.discard(connection)

    def subscriptions(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(s) for c in self.connections for s in c.subscriptions.values()]

    # ------------------------------------------------------------------ client frames

    def on_text(self, connection: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        method = message.get("method") if isinstance(message, dict) else None
        if method == "ping":
            connection.send({"channel": "pong"})
        elif method in ("subscribe", "unsubscribe"):
            assert isinstance(message, dict)
            self._subscription(connection, method, message.get("subscription"))
        else:
            connection.send(
                {
                    "channel": "error",
                    "data": f"Error parsing JSON into valid websocket request: {text}",
                }
            )

    def _subscription(self, connection: Connection, method: str, sub: Any) -> None:
        key = subscription_key(sub)
        if key is None:
            connection.send({"channel": "error", "data": f"Invalid subscription {json.dumps(sub)}"})
            return
        ack = {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
        state = self.state
        with state.lock:
            if method == "unsubscribe":
                if connection.subscriptions.pop(key, None) is None:
                    connection.send(
                        {"channel": "error", "data": f"Already unsubscribed: {json.dumps(sub)}"}
                    )
                else:
                    connection.send(ack)
                return
            if key in connection.subscriptions:
                connection.send(
                    {"channel": "error", "data": f"Already subscribed: {json.dumps(sub)}"}
                )
                return
            connection.subscriptions[key] = sub
            connection.send(ack)
            kind = key[0]
            if kind == "allMids":
                connection.send({"channel": "allMids", "data": {"mids": state.all_mids()}})
            elif kind == "l2Book" and key[1] in state.index:
                connection.send({"channel": "l2Book", "data": state.book(key[1])})
            elif kind == "userFills":
                fills = state.account(key[1]).fills[-_SNAPSHOT_FILLS:]
                data = {"isSnapshot": True, "user": key[1], "fills": list(fills)}
                connection.send({"channel": "userFills", "data": data})
