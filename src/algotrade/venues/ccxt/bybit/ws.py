"""One Bybit v5 WebSocket (public linear or private), with its own reconnect and gap hooks.

Written on ``websockets`` rather than ccxt.pro: ccxt.pro's ``watch_*`` calls reconnect inside
the library and resume without telling the caller what was missed, merge unconfirmed klines
into its cache (a bot must only see ``confirm: true`` bars) and turn amounts into floats. Here:

- private connections authenticate first (docs/v5/ws/connect#authentication: ``{"op":
  "auth", "args": [apiKey, expires, hex HMAC_SHA256(secret, "GET/realtime" + expires)]}``);
  a refused auth closes the connection and is retried with back-off;
- topics are (re)subscribed on every connection, at most 10 per request, and the
  ``on_reconnect`` hooks run only once the venue acknowledged them, before any further push is
  handed out (pushes received meanwhile wait), so an owner fills the gap over REST first;
- ``{"op": "ping"}`` goes out every ``ping_interval_s`` (the docs ask for 20 s); a connection
  that sent nothing for a whole interval is dropped and replaced;
- a lost connection is retried forever with exponential back-off and full jitter;
- a malformed frame or a handler that raises is logged, counted and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from algotrade.venues.ccxt.bybit.config import BybitConfig
from algotrade.venues.ccxt.credentials import ApiCredentials
from algotrade.venues.ccxt.errors import OutcomeUnknown, PayloadError
from algotrade.venues.live.websocket import close_and_join

__all__ = ["BybitWebSocket", "auth_args"]

_log = logging.getLogger("algotrade.venues.bybit.ws")
Handler = Callable[[dict[str, Any]], None]
ReconnectHook = Callable[[int, int], Awaitable[None]]
DisconnectHook = Callable[[int], None]
_ARGS_PER_REQUEST = 10
_ACK_TIMEOUT_S = 10.0
_AUTH_EXPIRES_MS = 10_000
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_EXCERPT = 200


def auth_args(credentials: ApiCredentials, now_ms: int) -> list[Any]:
    expires = now_ms + _AUTH_EXPIRES_MS
    signature = hmac.new(
        credentials.api_secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
    ).hexdigest()
    return [credentials.api_key, expires, signature]


def _excerpt(raw: object) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


class _AuthRefused(Exception):
    pass


class BybitWebSocket:
    def __init__(
        self,
        url: str,
        config: BybitConfig,
        *,
        credentials: ApiCredentials | None = None,
        name: str = "public",
        connect: Callable[..., Awaitable[Any]] = ws_connect,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self._config = config
        self._credentials = credentials
        self._connect = connect
        self._rng = rng or random.Random()
        self._handlers: dict[str, Handler] = {}
        self._conn: Any = None
        self._connected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reconnect_hooks: list[ReconnectHook] = []
        self._disconnect_hooks: list[DisconnectHook] = []
        self._req_ids = itertools.count(1)
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._last_error: str = ""
        self._last_rx = 0.0
        self._backlog: list[dict[str, Any]] | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "messages",
                "connects",
                "reconnects",
                "auth_failures",
                "subscribe_failures",
                "malformed",
                "handler_errors",
                "pings",
                "pongs",
            ),
            0,
        )

    # ------------------------------------------------------------------ state
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def last_error(self) -> str:
        return self._last_error

    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    def on_reconnect(self, hook: ReconnectHook) -> Callable[[], None]:
        self._reconnect_hooks.append(hook)
        return lambda: _remove(self._reconnect_hooks, hook)

    def on_disconnect(self, hook: DisconnectHook) -> Callable[[], None]:
        self._disconnect_hooks.append(hook)
        return lambda: _remove(self._disconnect_hooks, hook)

    # ------------------------------------------------------------------ topics
    async def subscribe(self, topic: str, handler: Handler) -> None:
        """Deliver pushes of ``topic`` to ``handler``; sent now if connected."""
        known = topic in self._handlers
        self._handlers[topic] = handler
        conn = self._conn
        if not known and conn is not None and self.connected:
            try:
                await self._request(conn, "subscribe", [topic], wait=True)
            except (ConnectionError, ConnectionClosed, OSError, TimeoutError) as exc:
                _log.info("Bybit %s: subscribe %s not acknowledged (%s)", self.name, topic, exc)

    async def unsubscribe(self, topic: str) -> None:
        if self._handlers.pop(topic, None) is None:
            return
        conn = self._conn
        if conn is not None and self.connected:
            with contextlib.suppress(Exception):
                await self._request(conn, "unsubscribe", [topic], wait=False)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, wait: bool = True) -> None:
        """Spawn the connection task; with ``wait``, return once connected (authenticated and
        subscribed) or stop and raise ``OutcomeUnknown`` after ``request_timeout_s``."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"bybit-ws-{self.name}"
            )
        if not wait:
            return
        limit = max(self._config.request_timeout_s, 1.0)
        try:
            await asyncio.wait_for(self._connected.wait(), limit)
        except TimeoutError:
            error = self._last_error
            await self.stop()
            raise OutcomeUnknown(
                f"Bybit {self.name} WebSocket {self.url}: not connected within {limit}s"
                + (f" ({error})" if error else "")
            ) from None

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        await close_and_join(self._conn, task, timeout)

    def _backoff(self, failures: int) -> float:
        cfg = self._config
        cap = min(cfg.reconnect_max_s, cfg.reconnect_min_s * 2 ** max(failures - 1, 0))
        return self._rng.uniform(cap / 2, cap)

    async def _run(self) -> None:
        failures = 0
        gap_started: int | None = None
        while not self._stopping.is_set():
            try:
                conn = await self._connect(
                    self.url,
                    open_timeout=self._config.request_timeout_s,
                    ping_interval=None,  # Bybit's own JSON ping (see _ping_loop)
                    max_size=_MAX_MESSAGE_BYTES,
                )
            except Exception as exc:
                self._last_error = f"{type(exc).__name__}: {_excerpt(exc)}"
                failures += 1
                _log.warning("Bybit %s WebSocket: connect failed (%s)", self.name, self._last_error)
            else:
                served = await self._serve(conn, gap_started)
                if self._stopping.is_set():
                    break
                if served:
                    gap_started = _now_ms()
                    failures = 1
                else:
                    failures += 1
            delay = self._backoff(failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _serve(self, conn: Any, gap_started: int | None) -> bool:
        """Run one connection; True when it got as far as subscribing."""
        self._conn = conn
        self._last_rx = time.monotonic()
        reader = asyncio.get_running_loop().create_task(self._read_loop(conn))
        backlog: list[dict[str, Any]] = []
        self._backlog = backlog
        ping: asyncio.Task[None] | None = None
        served = False
        try:
            if self._credentials is not None:
                reply = await self._request(
                    conn, "auth", auth_args(self._credentials, _now_ms()), wait=True
                )
                if not reply.get("success"):
                    self.counts["auth_failures"] += 1
                    raise _AuthRefused(str(reply.get("ret_msg") or "auth refused"))
            topics = list(self._handlers)
            for start in range(0, len(topics), _ARGS_PER_REQUEST):
                await self._request(
                    conn, "subscribe", topics[start : start + _ARGS_PER_REQUEST], wait=True
                )
            served = True
            self.counts["connects"] += 1
            self._connected.set()
            ping = asyncio.get_running_loop().create_task(self._ping_loop(conn))
            _log.info("Bybit %s WebSocket connected (%d topics)", self.name, len(topics))
            if gap_started is not None:
                self.counts["reconnects"] += 1
                await self._run_reconnect_hooks(gap_started, _now_ms())
            self._backlog = None
            for message in backlog:
                self._dispatch(message)
            await reader
        except _AuthRefused as exc:
            self._last_error = f"auth refused: {exc}"
            _log.error("Bybit %s WebSocket: auth refused (%s)", self.name, exc)
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            self._last_error = f"{type(exc).__name__}: {_excerpt(exc)}"
            if not self._stopping.is_set():
                _log.warning("Bybit %s WebSocket closed: %s", self.name, self._last_error)
        except Exception as exc:
            self._last_error = f"{type(exc).__name__}: {_excerpt(exc)}"
            _log.warning("Bybit %s WebSocket failed", self.name, exc_info=True)
        finally:
            was_connected = self.connected
            self._connected.clear()
            self._conn = None
            self._backlog = None
            for task in (reader, ping):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            for future in self._acks.values():
                if not future.done():
                    future.cancel()
            self._acks.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)
            if was_connected and not self._stopping.is_set():
                at = _now_ms()
                for hook in list(self._disconnect_hooks):
                    try:
                        hook(at)
                    except Exception:
                        _log.exception("on_disconnect hook failed")
        return served

    async def _read_loop(self, conn: Any) -> None:
        try:
            while True:
                self._on_frame(await conn.recv())
        except BaseException as exc:
            for future in self._acks.values():  # a request waiting for its ack fails too
                if not future.done():
                    future.set_exception(ConnectionError(f"connection lost: {exc!r}"))
            raise

    async def _request(self, conn: Any, op: str, args: list[Any], *, wait: bool) -> dict[str, Any]:
        req_id = f"{op}-{next(self._req_ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if wait:
            self._acks[req_id] = future
        await conn.send(json.dumps({"req_id": req_id, "op": op, "args": args}))
        if not wait:
            return {}
        try:
            reply = await asyncio.wait_for(future, _ACK_TIMEOUT_S)
        finally:
            self._acks.pop(req_id, None)
        if op in ("subscribe", "unsubscribe") and not reply.get("success"):
            self.counts["subscribe_failures"] += 1
            _log.error("Bybit %s WebSocket: %s %s refused: %s", self.name, op, args, reply)
        return reply

    async def _run_reconnect_hooks(self, gap_started: int, now: int) -> None:
        hooks = list(self._reconnect_hooks)
        results = await asyncio.gather(
            *(h(gap_started, now) for h in hooks), return_exceptions=True
        )
        self._last_rx = time.monotonic()
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                _log.error("Bybit on_reconnect hook failed", exc_info=result)

    async def _ping_loop(self, conn: Any) -> None:
        interval = self._config.ping_interval_s
        while True:
            sent_at = time.monotonic()
            try:
                await conn.send(json.dumps({"req_id": f"ping-{next(self._req_ids)}", "op": "ping"}))
            except (ConnectionClosed, OSError):
                return
            self.counts["pings"] += 1
            await asyncio.sleep(interval)
            if self._last_rx < sent_at and self._backlog is None:
                _log.warning(
                    "Bybit %s WebSocket: silent for %.0fs; reconnecting", self.name, interval
                )
                await conn.close(code=1011, reason="no pong")
                return

    # ------------------------------------------------------------------ frames
    def _ack_for(self, message: dict[str, Any], op: str) -> asyncio.Future[dict[str, Any]] | None:
        """The request a reply answers: by its ``req_id``, which the docs call optional (their
        auth and private subscribe samples have none), else the oldest request of its ``op``
        still waiting (requests are awaited one at a time, so that one is unambiguous)."""
        req_id = message.get("req_id")
        if req_id:
            return self._acks.get(str(req_id))
        if op in ("pong", "ping"):
            return None  # pings are never awaited
        prefix = f"{op}-"
        for key, future in self._acks.items():
            if key.startswith(prefix) and not future.done():
                return future
        return None

    def _on_frame(self, raw: str | bytes) -> None:
        self._last_rx = time.monotonic()
        self.counts["messages"] += 1
        try:
            message = json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            self._malformed(raw, "not JSON")
            return
        if not isinstance(message, dict):
            self._malformed(raw, "not a JSON object")
            return
        op = message.get("op")
        if isinstance(op, str) and "topic" not in message:
            if op in ("pong", "ping"):
                self.counts["pongs"] += 1
            future = self._ack_for(message, op)
            if future is not None and not future.done():
                future.set_result(message)
            elif op not in ("pong", "ping") and not message.get("success", True):
                _log.warning("Bybit %s WebSocket: %s", self.name, _excerpt(raw))
            return
        if not isinstance(message.get("topic"), str):
            self._malformed(raw, "no topic")
            return
        if self._backlog is not None:
            self._backlog.append(message)
            return
        self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        topic = message["topic"]
        handler = self._handlers.get(topic) or self._handlers.get(topic.split(".")[0])
        if handler is None:
            return
        try:
            handler(message)
        except PayloadError as exc:
            self._malformed(json.dumps(message, default=str), str(exc))
        except Exception:
            self.counts["handler_errors"] += 1
            _log.warning(
                "Bybit %s WebSocket: handler of %s failed", self.name, topic, exc_info=True
            )

    def _malformed(self, raw: object, why: str) -> None:
        self.counts["malformed"] += 1
        _log.warning(
            "Bybit %s WebSocket: malformed frame (%s), skipped: %s", self.name, why, _excerpt(raw)
        )


def _remove(hooks: list[Any], hook: object) -> None:
    with contextlib.suppress(ValueError):
        hooks.remove(hook)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
