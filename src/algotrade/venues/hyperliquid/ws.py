"""One Hyperliquid WebSocket connection carrying many subscriptions.

``HlWebSocket`` keeps a single ``/ws`` connection open for as long as it runs:

- ``subscribe(subscription, handler)`` registers a handler for a subscription such as
  ``{"type": "candle", "coin": "BTC", "interval": "1m"}``; it is sent at once when connected,
  else on the next connect. Several handlers may share one subscription (sent once); the
  channel is unsubscribed when its last handler goes.
- Pushed messages are routed by channel and coin/interval/user to the handlers, which get the
  message's ``data``. ``orderUpdates`` and ``user`` (userEvents) pushes carry no user, so they go
  to every subscription of that type: use one connection per user for those.
- Pings (``{"method": "ping"}``) go out every ``ping_interval_s``; a connection that answered
  nothing (not even a pong) for a whole ping interval is considered dead and replaced.
- A lost connection is retried forever with exponential backoff (``reconnect_min_s`` doubling up
  to ``reconnect_max_s``) and full jitter. After a reconnect every subscription is re-sent, then
  the ``on_reconnect`` hooks are awaited with ``(gap_started_ms, reconnected_at_ms)`` *before*
  any further message is read, so owners fill the gap (candles via ``candleSnapshot``, fills via
  ``userFills``) before live data resumes. ``on_disconnect`` hooks (sync) run when a connection
  is lost (not on ``stop()``).
- The venue greets every connection with the plain-text frame ``Websocket connection
  established.`` (not JSON); it is expected and skipped, not counted as malformed.
- A malformed frame, an unknown channel or a handler that raises is logged (with an excerpt of
  the frame) and counted in ``stats``; the connection keeps running.

``start()`` spawns the connection task and by default waits for the first connection: if none
is made within ``timeout`` it stops the task and raises ``HlRequestFailed``. With
``wait=False`` it returns at once and the task keeps trying in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from algotrade.venues.hyperliquid.config import HyperliquidConfig
from algotrade.venues.hyperliquid.errors import HlPayloadError, HlRequestFailed
from algotrade.venues.hyperliquid.ws_subscriptions import (
    CHANNEL_TYPES,
    VENUE_GREETING,
    MessageHandler,
    SubKey,
    Subscription,
    is_greeting,
    route,
    subscription_key,
)
from algotrade.venues.live.websocket import close_and_join

__all__ = [
    "CHANNEL_TYPES",
    "VENUE_GREETING",
    "ConnectFn",
    "DisconnectHook",
    "HlWebSocket",
    "HlWsStats",
    "MessageHandler",
    "ReconnectHook",
    "WsConnection",
    "subscription_key",
]

_log = logging.getLogger("algotrade.venues.hyperliquid.ws")

ReconnectHook = Callable[[int, int], Awaitable[None]]  # (gap_started_ms, reconnected_at_ms)
DisconnectHook = Callable[[int], None]  # (disconnected_at_ms)
_EXCERPT_CHARS = 200
_CONNECT_WINDOW_S = 60.0
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # l2Book and userFills snapshots can be large
_STOP_TIMEOUT_S = 5.0


class WsConnection(Protocol):
    """What ``HlWebSocket`` needs of a connection (websockets' ``ClientConnection``)."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


#: ``connect(url, *, open_timeout, ping_interval, max_size)`` → an open ``WsConnection``.
ConnectFn = Callable[..., Awaitable[Any]]


@dataclass(slots=True)
class HlWsStats:
    """Counters of one ``HlWebSocket`` (since construction)."""

    messages: int = 0  # frames received, of any kind
    greetings: int = 0  # the venue's plain-text hello on each connection (expected)
    malformed: int = 0  # not JSON, not an object, no channel, unroutable data
    unknown_channel: int = 0
    handler_errors: int = 0
    unrouted: int = 0  # a known channel nobody subscribes to (e.g. just unsubscribed)
    server_errors: int = 0  # {"channel": "error"} messages
    connects: int = 0
    reconnects: int = 0
    pings_sent: int = 0
    pongs: int = 0
    last_message_ns: int = 0  # wall clock of the last frame received; 0 = none yet


def _excerpt(raw: object) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


class HlWebSocket:
    def __init__(
        self,
        url: str | None = None,
        config: HyperliquidConfig | None = None,
        *,
        connect: ConnectFn = ws_connect,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config or HyperliquidConfig()
        self.url = url or self._config.websocket_url
        self._connect = connect
        self._rng = rng or random.Random()
        self._clock = clock
        self.stats = HlWsStats()
        self._subs: dict[SubKey, Subscription] = {}
        self._sent: set[SubKey] = set()  # subscriptions sent on the current connection
        self._conn: WsConnection | None = None
        self._connected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reconnect_hooks: list[ReconnectHook] = []
        self._disconnect_hooks: list[DisconnectHook] = []
        self._last_error: BaseException | None = None
        self._last_rx = 0.0  # monotonic time of the last frame on the current connection
        self._in_hooks = False
        self._connect_times: deque[float] = deque()  # monotonic times of recent attempts

    # ------------------------------------------------------------------ state and hooks

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """True once connected (and subscribed); False when ``timeout`` passes first."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def on_reconnect(self, hook: ReconnectHook) -> Callable[[], None]:
        """Await ``hook(gap_started_ms, reconnected_at_ms)`` after each re-subscription.
        Returns a function that removes the hook."""
        self._reconnect_hooks.append(hook)
        return lambda: self._remove(self._reconnect_hooks, hook)

    def on_disconnect(self, hook: DisconnectHook) -> Callable[[], None]:
        """Call ``hook(disconnected_at_ms)`` when a connection is lost. Returns a remover."""
        self._disconnect_hooks.append(hook)
        return lambda: self._remove(self._disconnect_hooks, hook)

    @staticmethod
    def _remove(hooks: list[Any], hook: object) -> None:
        with contextlib.suppress(ValueError):
            hooks.remove(hook)

    def subscriptions(self) -> list[dict[str, Any]]:
        return [dict(sub.subscription) for sub in self._subs.values()]

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, subscription: dict[str, Any], handler: MessageHandler) -> None:
        """Add ``handler`` for ``subscription``; sent now if connected, else on connect."""
        key = subscription_key(subscription)
        sub = self._subs.get(key)
        if sub is None:
            sub = self._subs[key] = Subscription(dict(subscription), key)
        elif sub.subscription != subscription:
            raise ValueError(
                f"already subscribed to {sub.subscription} (cannot also use {subscription})"
            )
        sub.handlers.append(handler)
        await self._send_subscription(sub, "subscribe")

    async def unsubscribe(
        self, subscription: dict[str, Any], handler: MessageHandler | None = None
    ) -> None:
        """Remove ``handler`` (all handlers when ``None``); the channel is unsubscribed at the
        venue when no handler remains."""
        key = subscription_key(subscription)
        sub = self._subs.get(key)
        if sub is None:
            return
        if handler is None:
            sub.handlers.clear()
        else:
            with contextlib.suppress(ValueError):
                sub.handlers.remove(handler)
        if sub.handlers:
            return
        del self._subs[key]
        await self._send_subscription(sub, "unsubscribe")

    async def _send_subscription(self, sub: Subscription, method: str) -> None:
        conn = self._conn
        if conn is None:
            return  # queued: the next connection sends every subscription
        if method == "subscribe":
            if sub.key in self._sent or self._subs.get(sub.key) is not sub:
                return  # already sent on this connection, or unsubscribed meanwhile
            self._sent.add(sub.key)  # before awaiting, so no other path sends it again
        elif sub.key in self._sent:
            self._sent.discard(sub.key)
        else:
            return
        try:
            await self._send(conn, {"method": method, "subscription": sub.subscription})
        except (ConnectionClosed, OSError) as exc:
            _log.debug("%s %s not sent (%s); the reconnect re-sends", method, sub.key, exc)

    async def _send(self, conn: WsConnection, message: dict[str, Any]) -> None:
        await conn.send(json.dumps(message, separators=(",", ":")))

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Spawn the connection task. With ``wait`` (default), return once connected, or stop
        and raise ``HlRequestFailed`` after ``timeout`` s (default: the config's
        ``request_timeout_s``). With ``wait=False``, return at once."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"hyperliquid-ws:{self.url}"
            )
            self._task.add_done_callback(_log_task_exit)
        if not wait:
            return
        limit = self._config.request_timeout_s if timeout is None else timeout
        if not await self.wait_connected(limit):
            error = self._last_error
            await self.stop()
            reason = f": {error}" if error else ""
            raise HlRequestFailed(f"no WebSocket connection to {self.url} within {limit}s{reason}")

    async def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Close the connection cleanly, then wait up to ``timeout`` s for the task; cancel it
        if it is still running."""
        self._stopping.set()
        task, self._task = self._task, None
        await close_and_join(self._conn, task, timeout)

    def _connect_budget_wait(self) -> float:
        """Seconds until one more connection stays within the documented "maximum of 30 new
        websocket connections per minute" (a server that greets and drops at once would
        otherwise be dialled again within a second, each time)."""
        now = time.monotonic()
        while self._connect_times and now - self._connect_times[0] >= _CONNECT_WINDOW_S:
            self._connect_times.popleft()
        if len(self._connect_times) < self._config.ws_connects_per_minute:
            return 0.0
        return _CONNECT_WINDOW_S - (now - self._connect_times[0])

    def _backoff(self, failures: int) -> float:
        cfg = self._config
        cap = min(cfg.reconnect_max_s, cfg.reconnect_min_s * 2 ** max(failures - 1, 0))
        return self._rng.uniform(0, cap)

    async def _run(self) -> None:
        failures = 0
        gap_started_ms: int | None = None
        while not self._stopping.is_set():
            wait = self._connect_budget_wait()
            if wait > 0:
                _log.warning(
                    "Hyperliquid WebSocket %s: %d connections in a minute; next in %.1fs",
                    self.url,
                    len(self._connect_times),
                    wait,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
                continue
            self._connect_times.append(time.monotonic())
            try:
                conn = await self._connect(
                    self.url,
                    open_timeout=self._config.request_timeout_s,
                    ping_interval=None,  # Hyperliquid wants its own JSON ping (see _ping_loop)
                    max_size=_MAX_MESSAGE_BYTES,
                )
            except Exception as exc:
                self._last_error = exc
                failures += 1
                delay = self._backoff(failures)
                _log.warning(
                    "Hyperliquid WebSocket %s: connect failed (%s); retry %d in %.2fs",
                    self.url,
                    _excerpt(exc) or type(exc).__name__,
                    failures,
                    delay,
                )
            else:
                served = await self._serve(conn, gap_started_ms)
                if self._stopping.is_set():
                    break
                gap_started_ms = self._now_ms()
                failures = 1 if served else failures + 1
                delay = self._backoff(failures)
                _log.info("Hyperliquid WebSocket %s: reconnecting in %.2fs", self.url, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _serve(self, conn: WsConnection, gap_started_ms: int | None) -> bool:
        """Run one connection until it closes; True if it delivered any frame."""
        self._conn = conn
        self._sent = set()
        self._last_rx = time.monotonic()
        received_at_start = self.stats.messages
        ping_task: asyncio.Task[None] | None = None
        try:
            for sub in list(self._subs.values()):
                await self._send_subscription(sub, "subscribe")
            self.stats.connects += 1
            self._connected.set()
            _log.info("Hyperliquid WebSocket %s connected (%d subs)", self.url, len(self._subs))
            ping_task = asyncio.get_running_loop().create_task(
                self._ping_loop(conn), name=f"hyperliquid-ws-ping:{self.url}"
            )
            ping_task.add_done_callback(_log_task_exit)
            if gap_started_ms is not None:
                self.stats.reconnects += 1
                await self._run_reconnect_hooks(gap_started_ms, self._now_ms())
            while True:
                self._on_frame(await conn.recv())
        except ConnectionClosed as exc:
            if not self._stopping.is_set():
                _log.warning("Hyperliquid WebSocket %s closed: %s", self.url, _excerpt(exc))
        except Exception as exc:
            self._last_error = exc
            _log.warning("Hyperliquid WebSocket %s failed", self.url, exc_info=True)
        finally:
            was_connected = self.connected
            self._connected.clear()
            self._conn = None
            self._sent = set()
            if ping_task is not None:
                ping_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ping_task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)
            if was_connected and not self._stopping.is_set():
                self._run_disconnect_hooks(self._now_ms())
        return self.stats.messages > received_at_start

    async def _run_reconnect_hooks(self, gap_started_ms: int, reconnected_ms: int) -> None:
        hooks = list(self._reconnect_hooks)
        if not hooks:
            return
        self._in_hooks = True
        try:
            results = await asyncio.gather(
                *(hook(gap_started_ms, reconnected_ms) for hook in hooks), return_exceptions=True
            )
        finally:
            self._in_hooks = False
            self._last_rx = time.monotonic()
        for hook, result in zip(hooks, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                _log.error("on_reconnect hook %r failed", hook, exc_info=result)

    def _run_disconnect_hooks(self, at_ms: int) -> None:
        for hook in list(self._disconnect_hooks):
            try:
                hook(at_ms)
            except Exception:
                _log.exception("on_disconnect hook %r failed", hook)

    async def _ping_loop(self, conn: WsConnection) -> None:
        interval = self._config.ping_interval_s
        last_ping = 0.0
        while True:
            await asyncio.sleep(interval)
            if last_ping and not self._in_hooks and self._last_rx < last_ping:
                _log.warning(
                    "Hyperliquid WebSocket %s: no answer for %.1fs; reconnecting",
                    self.url,
                    time.monotonic() - self._last_rx,
                )
                await conn.close(code=1011, reason="no pong")
                return
            try:
                await self._send(conn, {"method": "ping"})
            except (ConnectionClosed, OSError):
                return  # the reader sees the closed connection and reconnects
            last_ping = time.monotonic()
            self.stats.pings_sent += 1

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # ------------------------------------------------------------------ incoming frames

    def _on_frame(self, raw: str | bytes) -> None:
        self._last_rx = time.monotonic()
        self.stats.messages += 1
        self.stats.last_message_ns = time.time_ns()
        if is_greeting(raw):
            self.stats.greetings += 1
            _log.debug("Hyperliquid WebSocket %s: greeted", self.url)
            return
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self._malformed(raw, "not JSON")
            return
        if not isinstance(message, dict):
            self._malformed(raw, "not a JSON object")
            return
        channel = message.get("channel")
        if not isinstance(channel, str):
            self._malformed(raw, "no channel")
            return
        data = message.get("data")
        if channel == "pong":
            self.stats.pongs += 1
        elif channel == "subscriptionResponse":
            _log.debug("Hyperliquid WebSocket ack: %s", _excerpt(raw))
        elif channel == "error":
            self.stats.server_errors += 1
            _log.warning("Hyperliquid WebSocket error message: %s", _excerpt(raw))
        elif channel not in CHANNEL_TYPES:
            self.stats.unknown_channel += 1
            _log.warning("Hyperliquid WebSocket: unknown channel, skipped: %s", _excerpt(raw))
        else:
            try:
                subs = self._route(CHANNEL_TYPES[channel], channel, data)
            except HlPayloadError as exc:
                self._malformed(raw, str(exc))
                return
            if not subs:
                self.stats.unrouted += 1
                _log.debug("Hyperliquid WebSocket: no subscriber for %s", _excerpt(raw))
            for sub in subs:
                self._dispatch(sub, data, raw)

    def _route(self, kind: str, channel: str, data: Any) -> list[Subscription]:
        return route(self._subs, kind, channel, data)

    def _dispatch(self, sub: Subscription, data: Any, raw: str | bytes) -> None:
        for handler in list(sub.handlers):
            try:
                handler(data)
            except Exception:
                self.stats.handler_errors += 1
                _log.warning(
                    "Hyperliquid WebSocket handler %r failed on %s; skipped",
                    handler,
                    _excerpt(raw),
                    exc_info=True,
                )

    def _malformed(self, raw: str | bytes, why: str) -> None:
        self.stats.malformed += 1
        _log.warning("Hyperliquid WebSocket: malformed frame (%s), skipped: %s", why, _excerpt(raw))


def _log_task_exit(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        _log.error("task %s died", task.get_name(), exc_info=exc)
