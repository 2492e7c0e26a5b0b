"""Serving the API with uvicorn under bounded connections.

Out of the box uvicorn keeps a connection for as long as the client likes until it has sent a
complete request: a connection that sends nothing, half a header or half a body is held
forever, and enough of them (no key needed) use up the process's file descriptors, after which
not even ``/api/health`` is answered. uvicorn has a keep-alive timeout but no header or body
timeout, and its ``limit_concurrency`` answers 503 to everyone (health probes included) once
the idle connections fill it. So each HTTP connection here is guarded:

- **head timeout**: from the moment a connection is opened (or its previous response is sent)
  the client has ``head_timeout_s`` to deliver a whole request head (request line + headers);
- **body timeout**: from the end of the head it has ``body_timeout_s`` to deliver the body;
- **keep-alive**: an idle connection between requests closes after ``keep_alive_s``;
- **connection cap**: past ``max_connections`` open connections, the one that has been waiting
  longest for a request head is closed to make room (a new connection is closed itself when
  every other one is busy with a request). A real request delivers its head within a round
  trip, so a flood of idle or slow connections evicts its own members, not the health probe.

A connection that overruns a timeout is closed without an answer (like nginx's
``client_header_timeout``): nothing is logged per connection, so a flood cannot flood the log.
WebSocket connections leave the guard once upgraded (the WebSocket protocol pings the peer).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from algotrade.api.ws import MAX_MESSAGE_BYTES

_log = logging.getLogger("algotrade.api")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long and how many connections the API server keeps (docs/api.md lists them)."""

    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0  # a 1 MiB body (the largest allowed) at 35 KB/s
    keep_alive_s: int = 5
    max_connections: int = 1024
    ws_max_message_bytes: int = MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        for name in ("head_timeout_s", "body_timeout_s", "keep_alive_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ConnectionLimits.{name} must be > 0")
        if self.max_connections < 1 or self.ws_max_message_bytes < 1:
            raise ValueError("ConnectionLimits: max_connections and ws_max_message_bytes >= 1")


class _Phase(enum.Enum):
    WAITING_HEAD = "waiting for a request head"
    READING_BODY = "reading a request body"
    HANDLING = "request received; the app is answering"
    GONE = "closed or upgraded to a WebSocket"


class ConnectionGuard:
    """The state shared by the connections of one server: the limits, and the connections
    waiting for a request head, longest-waiting first (the first to go at the cap)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._waiting: OrderedDict[GuardedHttpProtocol, None] = OrderedDict()
        # Closed by the guard but still in uvicorn's set until their connection_lost (the next
        # loop turn): not counted again when a burst of new connections arrives meanwhile.
        self._closing: set[GuardedHttpProtocol] = set()
        self.evicted = 0  # connections closed to make room (tests, metrics)

    def protocol_class(self) -> type[GuardedHttpProtocol]:
        """The protocol class to give ``uvicorn.Config(http=...)``, bound to this guard."""
        guard = self

        class BoundHttpProtocol(GuardedHttpProtocol):
            pass

        BoundHttpProtocol.guard = guard
        return BoundHttpProtocol

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _enter(self, connection: GuardedHttpProtocol, phase: _Phase) -> None:
        if phase is _Phase.WAITING_HEAD:
            self._waiting[connection] = None
            self._waiting.move_to_end(connection)
        else:
            self._waiting.pop(connection, None)

    def _make_room(self, newcomer: GuardedHttpProtocol, open_connections: int) -> None:
        excess = open_connections - len(self._closing) - self.limits.max_connections
        while excess > 0:
            oldest = next(iter(self._waiting), newcomer)
            if oldest is newcomer:
                break  # everyone else is busy with a request: refuse the newcomer
            oldest.drop()
            self.evicted += 1
            excess -= 1
        if excess > 0:
            newcomer.drop()
            self.evicted += 1


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard's timeouts and its place in the cap.

    It watches the request cycle uvicorn keeps (``cycle``: None before the first head,
    ``more_body`` False once the body is in, ``response_complete`` after the answer) after each
    event that can change it, and arms one timer for the phase it is in.
    """

    guard: ClassVar[ConnectionGuard]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._phase = _Phase.GONE
        self._phase_cycle: object = None
        self._deadline: asyncio.TimerHandle | None = None
        self._follow()
        self.guard._make_room(self, len(self.connections))

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._set_phase(_Phase.GONE)
        self.guard._closing.discard(self)

    def drop(self) -> None:
        """Close the connection without an answer."""
        if not self.transport.is_closing():
            self.transport.close()
            self.guard._closing.add(self)
        self._set_phase(_Phase.GONE)

    def _follow(self) -> None:
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            phase = _Phase.GONE  # closing, or handed over to the WebSocket protocol
        elif self.cycle is None or self.cycle.response_complete:
            phase = _Phase.WAITING_HEAD
        elif self.cycle.more_body:
            phase = _Phase.READING_BODY
        else:
            phase = _Phase.HANDLING
        if phase is not self._phase or (
            phase is not _Phase.WAITING_HEAD and self.cycle is not self._phase_cycle
        ):
            self._set_phase(phase)

    def _set_phase(self, phase: _Phase) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        self._phase_cycle = self.cycle
        self.guard._enter(self, phase)
        limits = self.guard.limits
        if phase is _Phase.WAITING_HEAD:
            self._deadline = self.loop.call_later(limits.head_timeout_s, self._overrun)
        elif phase is _Phase.READING_BODY:
            self._deadline = self.loop.call_later(limits.body_timeout_s, self._overrun)

    def _overrun(self) -> None:
        self._deadline = None
        _log.debug("closing a connection from %s: too slow %s", self.client, self._phase.value)
        self.drop()


def server_config(
    app: FastAPI,
    *,
    host: str,
    port: int,
    access_log: bool,
    limits: ConnectionLimits | None = None,
) -> tuple[uvicorn.Config, ConnectionGuard]:
    """The uvicorn configuration the daemon serves ``app`` with, and its connection guard."""
    guard = ConnectionGuard(limits or ConnectionLimits())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guard.protocol_class(),
        timeout_keep_alive=guard.limits.keep_alive_s,
        ws_max_size=guard.limits.ws_max_message_bytes,
        # The guard caps connections; uvicorn's own limit would answer 503 to health probes.
        limit_concurrency=None,
        log_config=None,
        lifespan="off",
        access_log=access_log,
    )
    return config, guard
