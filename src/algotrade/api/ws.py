"""``/ws``: live events (status, orders, fills, logs, bars, summary, risk, venues) with a
snapshot on subscribe.

Protocol (JSON text frames):

- client → ``{"op": "subscribe", "topics": [...], "bot_id": "*" | "<id>"}``; ``"unsubscribe"``
  with the same fields; ``{"op": "ping"}``.
- server → ``{"type": "subscribed", "topics", "bot_id"}``, then one
  ``{"type": "snapshot", "topic", "bot_id", "data": [...]}`` per topic, then
  ``{"type": "event", "topic", "bot_id", "data": {...}}`` as they happen;
  ``{"type": "unsubscribed", ...}``; ``{"type": "pong"}``;
  ``{"type": "error", "error": {"code", "message"}}`` for a bad message (the socket stays open).
- close codes: 4401 bad/missing key or session (or a session cookie from another origin),
  4429 too many wrong keys from this address, 1013 "too slow" when the client fell behind the
  stream, 1009 "message too big" for a client message over ``MAX_MESSAGE_BYTES`` (the server
  closes it).

Each connection has one bus subscription, a sender task draining it and a receiver task for
client messages. Publishing never waits for a client: the bus drops a subscriber whose queue is
full, and this module then closes that socket with 1013. A client that fell behind (events
queued) is sent the backlog in chunks, with a bot's status snapshots in one state coalesced to
the newest (``coalesce_statuses``: every state change and every other event is still sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, WebSocket
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette import websockets as starlette_websockets
from starlette.websockets import WebSocketDisconnect

from algotrade.api.auth import authorize_connection
from algotrade.api.deps import ApiContext, get_context
from algotrade.api.errors import (
    ApiHttpError,
    json_nesting_exceeds,
    service_error_message,
)
from algotrade.api.routes_backtests import recent_jobs
from algotrade.core.validation import format_validation_errors
from algotrade.daemon.bot_config import BOT_ID_PATTERN
from algotrade.daemon.bus import ALL_BOTS, BusMessage, Subscription, Topic
from algotrade.daemon.service_api import Page, ServiceError

logger = logging.getLogger("algotrade.api")

# Starlette 0.47+; older versions raise a plain RuntimeError there.
_SOCKET_CLOSED: type[Exception] | None = getattr(
    starlette_websockets, "WebSocketDisconnected", None
)

CLOSE_UNAUTHORIZED = 4401  # no or bad key or session, or a session from another origin
CLOSE_THROTTLED = 4429  # too many wrong keys from this address: try later
_MAX_CLOSE_REASON = 123  # bytes a close frame's reason may hold (ASCII here)
CLOSE_TOO_SLOW = 1013  # "try again later"
SNAPSHOT_LIMIT = 100
# The bus sets ``Subscription.dropped`` without waking anyone, so the supervisor polls it: often
# enough to close a stalled client promptly, rarely enough to cost nothing with many clients.
DROP_CHECK_SECONDS = 0.25
CLOSE_TIMEOUT_SECONDS = 5.0
# A sender takes at most this many queued events at a time, and yields the loop after this
# long sending them.
SEND_CHUNK = 256
SEND_SLICE_SECONDS = 0.004
# Client messages are small commands; the server (api.server) refuses larger frames with 1009.
MAX_MESSAGE_BYTES = 64 * 1024
# How a vanished client shows up: Starlette turns the server's OSError into WebSocketDisconnect,
# and answers any later send or receive on that socket with WebSocketDisconnected (the sender and
# the receiver both write, so one of them usually meets the socket already marked closed).
_DISCONNECTED: tuple[type[BaseException], ...] = (WebSocketDisconnect, OSError)
if _SOCKET_CLOSED is not None:
    _DISCONNECTED += (_SOCKET_CLOSED,)

router = APIRouter()


class WsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["subscribe", "unsubscribe", "ping"]
    topics: list[Topic] = Field(default_factory=list)
    bot_id: str = ALL_BOTS

    @field_validator("bot_id")
    @classmethod
    def _bot_id(cls, value: str) -> str:
        if value != ALL_BOTS and not re.fullmatch(BOT_ID_PATTERN, value):
            raise ValueError('expected "*" or a bot id (letters, digits, _ . -)')
        return value

    @model_validator(mode="after")
    def _topics_needed(self) -> WsRequest:
        if self.op != "ping" and not self.topics:
            raise ValueError(f"{self.op} needs a non-empty 'topics' list")
        self.topics = list(dict.fromkeys(self.topics))  # drop duplicates, keep order
        return self


@router.websocket("/ws")
async def websocket_endpoint(
    websocket: WebSocket, ctx: Annotated[ApiContext, Depends(get_context)]
) -> None:
    # The header suits programs; ?token= and the session cookie (same origin only) are for
    # browsers, which cannot set WebSocket headers.
    try:
        authorize_connection(websocket, ctx)
    except ApiHttpError as exc:
        client = websocket.client.host if websocket.client else "?"
        logger.info("WebSocket from %s: %s", client, exc.code)
        await websocket.accept()
        # Accept-then-close: a 44xx code tells the client why, a refused handshake would not.
        code = CLOSE_THROTTLED if exc.status == 429 else CLOSE_UNAUTHORIZED
        await websocket.close(code, f"{exc.code}: {exc.message}"[:_MAX_CLOSE_REASON])
        return
    await websocket.accept()
    await _Connection(websocket, ctx).run()


def _still_authorized(websocket: WebSocket, ctx: ApiContext) -> bool:
    try:
        authorize_connection(websocket, ctx)
    except ApiHttpError:
        return False
    return True


class _Connection:
    def __init__(self, websocket: WebSocket, ctx: ApiContext) -> None:
        self.websocket = websocket
        self.ctx = ctx
        self.keys_generation = ctx.keys_generation
        self.service = ctx.service
        self.metrics = ctx.metrics
        # topic → bot ids ("*" for all) this client asked for; events are filtered on send.
        self.interests: dict[Topic, set[str]] = {}
        # One subscription for the connection's life, retargeted on (un)subscribe: its queue
        # (and the order of pending events) survives changes of interest.
        self.subscription: Subscription = ctx.service.bus.subscribe((), ALL_BOTS)
        # One writer at a time; a subscribe holds it from retargeting until its snapshots are
        # out, so every event queued meanwhile reaches the client after the snapshot.
        self.send_lock = asyncio.Lock()

    async def run(self) -> None:
        self.metrics.ws_connections.inc()
        receiver = asyncio.create_task(self._receive_loop(), name="ws-receive")
        sender = asyncio.create_task(self._send_loop(), name="ws-send")
        try:
            await self._supervise(receiver, sender)
        finally:
            # Synchronous bookkeeping first: the await below may be cancelled (server shutdown).
            self.service.bus.unsubscribe(self.subscription)
            self.metrics.ws_connections.dec()
            await _cancel_and_wait(receiver, sender)

    async def _supervise(self, receiver: asyncio.Task[None], sender: asyncio.Task[None]) -> None:
        while True:
            done, _ = await asyncio.wait(
                {receiver, sender}, timeout=DROP_CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if self.subscription.dropped:
                # Checked before `done`: the sender also stops when it sees the flag. The sender
                # may be stuck writing to a full socket, so cancel it before closing.
                for task in (receiver, sender):
                    task.cancel()
                await asyncio.wait({receiver, sender})  # errors are logged by run()'s finally
                self.metrics.ws_dropped.inc()
                client = self.websocket.client
                logger.warning(
                    "closing WebSocket of %s: too slow for the event stream",
                    client.host if client else "?",
                )
                await self._close(CLOSE_TOO_SLOW, "too slow")
                return
            if done:
                return  # the client left (receiver) or the socket broke (sender)
            if self.ctx.keys_generation != self.keys_generation:
                # The keys were rotated (a reload): a socket opened with a removed key, or by a
                # session of one, is closed as a new connection with it would be refused.
                self.keys_generation = self.ctx.keys_generation
                if not _still_authorized(self.websocket, self.ctx):
                    for task in (receiver, sender):
                        task.cancel()
                    await asyncio.wait({receiver, sender})
                    await self._close(CLOSE_UNAUTHORIZED, "unauthorized: the API key was removed")
                    return

    async def _close(self, code: int, reason: str) -> None:
        # RuntimeError: Starlette's answer when the socket is already closed.
        with contextlib.suppress(*_DISCONNECTED, RuntimeError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                await self.websocket.close(code, reason)

    # -- receiving -------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.websocket.receive()
            except _DISCONNECTED:
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    await self._send_error("invalid_json", "messages must be UTF-8 JSON text")
                    continue
            try:
                await self._handle(text)
            except _DISCONNECTED:
                return

    async def _handle(self, text: str) -> None:
        if json_nesting_exceeds(text.encode()):
            await self._send_error("invalid_json", "message is nested too deeply")
            return
        try:
            payload = json.loads(text)
        except RecursionError:
            # '[[[[…' a few thousand deep exhausts the parser's stack: a bad message like any other.
            await self._send_error("invalid_json", "message is nested too deeply")
            return
        except ValueError:
            await self._send_error("invalid_json", "message is not valid JSON")
            return
        if not isinstance(payload, dict):
            await self._send_error("invalid_message", "a message must be a JSON object")
            return
        try:
            request = WsRequest.model_validate(payload)
        except ValidationError as exc:
            message = format_validation_errors(exc.errors(), "message")
            await self._send_error("invalid_message", message)
            return
        try:
            if request.op == "subscribe":
                await self._subscribe(request.topics, request.bot_id)
            elif request.op == "unsubscribe":
                await self._unsubscribe(request.topics, request.bot_id)
            else:
                await self._send({"type": "pong"})
        except ServiceError as exc:
            await self._send_error(exc.code, service_error_message(exc))
        except _DISCONNECTED:
            raise
        except Exception:
            logger.exception("WebSocket %s failed", request.op)
            await self._send_error("internal_error", "internal error; see the daemon log")

    async def _subscribe(self, topics: list[Topic], bot_id: str) -> None:
        async with self.send_lock:
            if bot_id != ALL_BOTS:
                await self.service.get_bot(bot_id)  # BotNotFound → error, nothing subscribed
            before = {topic: set(ids) for topic, ids in self.interests.items()}
            for topic in topics:
                self.interests.setdefault(topic, set()).add(bot_id)
            # Subscribe before reading snapshots, so no event falls between the two.
            self._retarget()
            try:
                snapshots = [(topic, await self._snapshot(topic, bot_id)) for topic in topics]
            except BaseException:
                self.interests = before
                self._retarget()
                raise
            await self._send_unlocked({"type": "subscribed", "topics": topics, "bot_id": bot_id})
            for topic, data in snapshots:
                await self._send_unlocked(
                    {"type": "snapshot", "topic": topic, "bot_id": bot_id, "data": data}
                )

    async def _unsubscribe(self, topics: list[Topic], bot_id: str) -> None:
        async with self.send_lock:
            for topic in topics:
                ids = self.interests.get(topic)
                if ids is not None:
                    ids.discard(bot_id)
                    if not ids:
                        del self.interests[topic]
            self._retarget()
            await self._send_unlocked({"type": "unsubscribed", "topics": topics, "bot_id": bot_id})

    def _retarget(self) -> None:
        all_ids = set().union(*self.interests.values())
        # The bus filters by one bot id per subscription; for several ids it is widened to all
        # bots and `_wanted` filters exactly. The bus reads these fields at publish time.
        self.subscription.topics = frozenset(self.interests)
        self.subscription.bot_id = next(iter(all_ids)) if len(all_ids) == 1 else ALL_BOTS

    async def _snapshot(self, topic: Topic, bot_id: str) -> list[Any]:
        if topic is Topic.STATUS:
            if bot_id == ALL_BOTS:
                return [s.model_dump(mode="json") for s in await self.service.list_bots()]
            _, status = await self.service.get_bot(bot_id)
            return [status.model_dump(mode="json")]
        if topic is Topic.SUMMARY:
            return [await self.service.summary()]
        if topic is Topic.BACKTESTS:
            return recent_jobs(self.websocket.app, SNAPSHOT_LIMIT)
        if bot_id == ALL_BOTS:
            return []  # one bot's history only: every bot's orders or bars would be unbounded
        if topic is Topic.BARS:
            return await self.service.bars(bot_id, SNAPSHOT_LIMIT)
        # The newest records, oldest first (the order events then continue in).
        page: Page[dict[str, Any]]
        if topic is Topic.LOGS:
            page = await self.service.logs(bot_id, 0, SNAPSHOT_LIMIT)
        elif topic in (Topic.ORDERS, Topic.FILLS):
            fetch = self.service.orders if topic is Topic.ORDERS else self.service.fills
            page = await fetch(bot_id, 0, SNAPSHOT_LIMIT, True)
        else:
            return []  # risk and venues have no history here
        return page.items[::-1]

    # -- sending ---------------------------------------------------------------------------

    def _wanted(self, message: BusMessage) -> bool:
        ids = self.interests.get(message.topic)
        if not ids:
            return False
        return message.bot_id is None or ALL_BOTS in ids or message.bot_id in ids

    async def _send_loop(self) -> None:
        queue = self.subscription.queue
        while not self.subscription.dropped:
            messages = [await queue.get()]
            # A client that fell behind gets what piled up in one go, a bot's status
            # snapshots coalesced (see ``coalesce_statuses``); the loop is given back
            # every SEND_SLICE_SECONDS, so a long backlog never holds it.
            while len(messages) < SEND_CHUNK and not queue.empty():
                messages.append(queue.get_nowait())
            if self.subscription.dropped:
                return  # the supervisor closes with 1013
            started = time.perf_counter()
            for message in coalesce_statuses(messages):
                async with self.send_lock:
                    if self._wanted(message):  # interests may have changed while queued
                        await self._send_unlocked(
                            {
                                "type": "event",
                                "topic": message.topic,
                                "bot_id": message.bot_id,
                                "data": message.data,
                            }
                        )
                if time.perf_counter() - started >= SEND_SLICE_SECONDS:
                    await asyncio.sleep(0)
                    started = time.perf_counter()

    async def _send(self, payload: dict[str, Any]) -> None:
        async with self.send_lock:
            await self._send_unlocked(payload)

    async def _send_error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "error": {"code": code, "message": message}})

    async def _send_unlocked(self, payload: dict[str, Any]) -> None:
        # default=str: records may carry Decimal or datetime; exact text is what clients want.
        await self.websocket.send_text(json.dumps(payload, separators=(",", ":"), default=str))


def coalesce_statuses(messages: list[BusMessage]) -> list[BusMessage]:
    """``messages`` without the status snapshots a later status of the same bot, in the same
    state, makes redundant (a status is the bot's whole state; only its newest is worth
    sending). Every change of state is kept, and everything else is sent as it came."""
    newest: dict[str | None, int] = {}
    redundant: set[int] = set()
    for index, message in enumerate(messages):
        if message.topic is not Topic.STATUS:
            continue
        earlier = newest.get(message.bot_id)
        if earlier is not None and messages[earlier].data.get("state") == message.data.get("state"):
            redundant.add(earlier)
        newest[message.bot_id] = index
    if not redundant:
        return messages
    return [message for index, message in enumerate(messages) if index not in redundant]


async def _cancel_and_wait(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    # asyncio.wait, not gather: if this coroutine is itself cancelled meanwhile, the
    # CancelledError keeps its message, which anyio's cancel scopes (TestClient) rely on.
    await asyncio.wait(tasks)
    for task in tasks:
        if task.cancelled():
            continue
        error = task.exception()
        if error is not None and not isinstance(error, _DISCONNECTED):
            logger.error("WebSocket task %s failed", task.get_name(), exc_info=error)
