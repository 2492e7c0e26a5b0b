"""SignalR side of the fake ProjectX: the user and market hubs over WebSocket, JSON protocol.

Follows Microsoft's ASP.NET Core SignalR specs (TransportProtocols.md, HubProtocol.md):
``POST /hubs/<hub>/negotiate?negotiateVersion=1`` answers ``connectionId``, ``connectionToken``,
``negotiateVersion`` and ``availableTransports``; the WebSocket ``/hubs/<hub>`` takes the
token as ``access_token`` (and ``id=<connectionToken>`` after a negotiate; the ProjectX docs
connect with ``skipNegotiation``, so ``id`` is optional). Every message is JSON ended by the
record separator 0x1E: handshake ``{"protocol":"json","version":1}`` → ``{}``, then
Invocation (1), Completion (3), Ping (6) and Close (7).

ProjectX hub methods and events (gateway.docs.projectx.com/docs/realtime): the user hub has
SubscribeAccounts(), SubscribeOrders/Positions/Trades(accountId) (and Unsubscribe*) and pushes
GatewayUserAccount / GatewayUserOrder / GatewayUserPosition / GatewayUserTrade with one data
argument; the market hub has SubscribeContractQuotes/Trades/MarketDepth(contractId) (and
Unsubscribe*) and pushes GatewayQuote / GatewayTrade / GatewayDepth as (contractId, data).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from .state import VenueState

__all__ = ["RS", "Connection", "Hubs", "MessageType"]

RS = "\x1e"


class MessageType:
    INVOCATION = 1
    STREAM_ITEM = 2
    COMPLETION = 3
    STREAM_INVOCATION = 4
    CANCEL_INVOCATION = 5
    PING = 6
    CLOSE = 7


#: hub → method → (subscribe?, key kind). The user hub's SubscribeAccounts takes no argument.
METHODS: dict[str, dict[str, tuple[bool, str]]] = {
    "user": {
        "SubscribeAccounts": (True, "accounts"),
        "UnsubscribeAccounts": (False, "accounts"),
        "SubscribeOrders": (True, "orders"),
        "UnsubscribeOrders": (False, "orders"),
        "SubscribePositions": (True, "positions"),
        "UnsubscribePositions": (False, "positions"),
        "SubscribeTrades": (True, "trades"),
        "UnsubscribeTrades": (False, "trades"),
    },
    "market": {
        "SubscribeContractQuotes": (True, "quotes"),
        "UnsubscribeContractQuotes": (False, "quotes"),
        "SubscribeContractTrades": (True, "trades"),
        "UnsubscribeContractTrades": (False, "trades"),
        "SubscribeContractMarketDepth": (True, "depth"),
        "UnsubscribeContractMarketDepth": (False, "depth"),
    },
}


@dataclass(eq=False)
class Connection:
    hub: str
    user: str
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop
    connection_id: str
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    subscriptions: set[tuple[Any, ...]] = field(default_factory=set)
    handshaken: bool = False
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def client(self) -> tuple[str, int] | None:
        c = self.websocket.client
        return (c.host, c.port) if c else None

    def send(self, message: dict[str, Any]) -> None:
        """Queue one hub message (any thread)."""
        text = json.dumps(message, separators=(",", ":")) + RS
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped
            self.loop.call_soon_threadsafe(self.queue.put_nowait, text)

    async def write_loop(self) -> None:
        """Send queued messages until the ``None`` that ``finish`` queues (on the loop)."""
        with contextlib.suppress(Exception):  # the socket closed under us
            while (text := await self.queue.get()) is not None:
                await self.websocket.send_text(text)


class Hubs:
    """Both hubs' connections, negotiated tokens, subscriptions and what was exchanged."""

    def __init__(self, state: VenueState) -> None:
        self.state = state
        self.connections: set[Connection] = set()
        self.negotiated: dict[str, str] = {}  # connection token → hub
        self.silenced = False
        #: what clients invoked: (hub, user, target, arguments)
        self.invocations: list[tuple[str, str, str, list[Any]]] = []
        #: what the server pushed: (hub, target, arguments), once per receiving connection
        self.pushed: list[tuple[str, str, list[Any]]] = []

    # ------------------------------------------------------------------ negotiate

    def negotiate(self, hub: str, version: int) -> dict[str, Any]:
        connection_id = secrets.token_urlsafe(16)
        token = secrets.token_urlsafe(16) if version >= 1 else connection_id
        with self.state.lock:
            self.negotiated[token] = hub
        reply: dict[str, Any] = {
            "connectionId": connection_id,
            "negotiateVersion": 1 if version >= 1 else 0,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}
            ],
        }
        if version >= 1:
            reply["connectionToken"] = token
        return reply

    def take_negotiated(self, hub: str, token: str) -> bool:
        with self.state.lock:
            return self.negotiated.pop(token, None) == hub

    # ------------------------------------------------------------------ publish

    def publish(self, hub: str, key: tuple[Any, ...], target: str, arguments: list[Any]) -> None:
        """Deliver a server invocation to the subscribers of ``key`` (state lock held)."""
        if self.silenced:
            return
        message = {"type": MessageType.INVOCATION, "target": target, "arguments": arguments}
        for connection in self.connections:
            if connection.hub != hub or not connection.handshaken:
                continue
            if key not in connection.subscriptions or not self._may_see(connection, key):
                continue
            connection.send(message)
            self.pushed.append((hub, target, arguments))

    def _may_see(self, connection: Connection, key: tuple[Any, ...]) -> bool:
        if connection.hub == "market":
            return True
        account = self.state.accounts.get(key[1])
        return account is not None and account.user == connection.user

    # ------------------------------------------------------------------ protocol

    def on_text(self, connection: Connection, text: str) -> bool:
        """Handle every complete message in a frame; False once the connection must close."""
        connection.last_seen = time.monotonic()
        for raw in text.split(RS):
            if not raw.strip():
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                self._close(connection, f"Invalid JSON in a hub message: {raw[:80]!r}")
                return False
            if not connection.handshaken:
                if not self._handshake(connection, message):
                    return False
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == MessageType.INVOCATION:
                self._invoke(connection, message)
            elif kind == MessageType.STREAM_INVOCATION:
                self._complete(
                    connection, message.get("invocationId"), "Streaming is not supported"
                )
            elif kind == MessageType.CLOSE:
                return False
            elif kind in (MessageType.PING, MessageType.CANCEL_INVOCATION):
                pass
            else:
                self._close(connection, f"Unknown hub message type: {kind!r}")
                return False
        return True

    def _handshake(self, connection: Connection, message: Any) -> bool:
        if (
            not isinstance(message, dict)
            or message.get("protocol") != "json"
            or message.get("version") != 1
        ):
            connection.send({"error": f"Requested protocol is not supported: {message!r}"})
            return False
        connection.handshaken = True
        connection.send({})
        return True

    def _invoke(self, connection: Connection, message: dict[str, Any]) -> None:
        target, arguments = message.get("target"), message.get("arguments", [])
        invocation_id = message.get("invocationId")
        if not isinstance(arguments, list):
            arguments = []
        with self.state.lock:
            self.invocations.append((connection.hub, connection.user, str(target), arguments))
            method = METHODS[connection.hub].get(target) if isinstance(target, str) else None
            if method is None:
                error = f"Failed to invoke '{target}' because it does not exist."
                self._complete(connection, invocation_id, error)
                return
            subscribe, kind = method
            expected = 0 if kind == "accounts" else 1
            if len(arguments) != expected:
                error = (
                    f"Failed to invoke '{target}' due to an error on the server. "
                    f"Invocation provides {len(arguments)} argument(s) "
                    f"but target expects {expected}."
                )
                self._complete(connection, invocation_id, error)
                return
            keys = self._keys(connection, kind, arguments)
            if subscribe:
                connection.subscriptions.update(keys)
            else:
                connection.subscriptions.difference_update(keys)
            self._complete(connection, invocation_id, None)

    def _keys(
        self, connection: Connection, kind: str, arguments: list[Any]
    ) -> set[tuple[Any, ...]]:
        if kind == "accounts":
            owned = [a.id for a in self.state.accounts.values() if a.user == connection.user]
            return {("accounts", account_id) for account_id in owned}
        return {(kind, arguments[0])}

    def _complete(self, connection: Connection, invocation_id: Any, error: str | None) -> None:
        if invocation_id is None:  # a non-blocking send: no completion
            return
        message: dict[str, Any] = {"type": MessageType.COMPLETION, "invocationId": invocation_id}
        if error is None:
            message["result"] = None
        else:
            message["error"] = error
        connection.send(message)

    def _close(self, connection: Connection, error: str) -> None:
        connection.send({"type": MessageType.CLOSE, "error": error, "allowReconnect": False})

    # ------------------------------------------------------------------ registry

    def add(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections.add(connection)

    def remove(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections.discard(connection)

    def clear(self) -> None:
        with self.state.lock:
            self.negotiated.clear()
            self.invocations.clear()
            self.pushed.clear()
            self.silenced = False
