"""``HubConnection``: one SignalR hub of the ProjectX gateway, kept connected.

pysignalr speaks the SignalR JSON hub protocol (handshake, invocations, pings, close). Two
things the gateway needs it does not do, so this class owns the connection's lifetime instead
of pysignalr's internal reconnect loop:

- the token rides on the hub URL (``?access_token=…``, as the gateway docs show); pysignalr
  fixes the URL at construction and would reconnect with a stale token, so every attempt builds
  a new ``SignalRClient`` with a URL carrying a token from ``GatewayTransport.token()`` (which
  renews it when due);
- after every (re)connect the subscriptions are sent again and, on a reconnect, the owner is
  told so it can fill the gap over REST (events sent while we were away are not replayed).

When the transport renews the session token before it expires, a connected hub closes and
reconnects at once with the new token instead of riding on the old one until the gateway may
drop it; the reconnect's resync fills the moment in between. (After a refusal — a 401 — the
token is replaced without that: the gateway has already shown what it does with the old one.)

Attempts back off exponentially with jitter (``reconnect_min_s`` … ``reconnect_max_s``). A
refused handshake (HTTP 401) renews the token before the next attempt. ``skip_negotiation``
(the docs' setting) connects straight over WebSocket; pysignalr only exposes it on its transport.
The token is never logged; hub URLs are logged without their query string.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pysignalr.client import SignalRClient
from pysignalr.messages import CompletionMessage, Message

from algotrade.venues.projectx.config import ProjectXConfig
from algotrade.venues.projectx.transport import GatewayTransport

__all__ = ["ClientFactory", "HubConnection", "Invocation", "hub_url_with_token"]

_log = logging.getLogger(__name__)

Invocation = tuple[str, list[Any]]
Handler = Callable[[list[Any]], Awaitable[None]]
ClientFactory = Callable[[str, str, int], SignalRClient]


def hub_url_with_token(url: str, token: str, *, websocket: bool) -> str:
    """``url`` with ``access_token`` in its query (and a ws/wss scheme when ``websocket``)."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    if websocket:
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    param = f"access_token={quote(token, safe='')}"
    query = f"{query}&{param}" if query else param
    return urlunsplit((scheme, netloc, path, query, fragment))


def _default_client(url: str, token: str, timeout_s: int) -> SignalRClient:
    return SignalRClient(url, access_token_factory=lambda: token, connection_timeout=timeout_s)


class HubConnection:
    """Keeps one hub connected, re-subscribing after every reconnect.

    ``subscriptions()`` is asked for the invocations to send on each connect (so it reflects
    what is subscribed now); ``on_resync`` is awaited after each *re*connect once subscribed.
    """

    def __init__(
        self,
        name: str,
        url: str,
        config: ProjectXConfig,
        transport: GatewayTransport,
        *,
        handlers: dict[str, Handler],
        subscriptions: Callable[[], Sequence[Invocation]],
        on_resync: Callable[[], Awaitable[None]] | None = None,
        client_factory: ClientFactory | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._config = config
        self._transport = transport
        self._handlers = handlers
        self._subscriptions = subscriptions
        self._on_resync = on_resync
        self._client_factory = client_factory or _default_client
        self._sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._client: SignalRClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._token_in_use: str | None = None
        self._rotate: asyncio.Event | None = None
        #: called with a reason when an open connection is lost (not on ``stop``)
        self.on_disconnect: Callable[[str], None] | None = None
        self.connects = 0
        self.failed_attempts = 0
        self.rotations = 0
        self.last_error: str | None = None
        add_listener = getattr(transport, "add_token_listener", None)
        if add_listener is not None:
            add_listener(self._on_new_token)

    # ------------------------------------------------------------------ lifecycle

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"projectx-{self.name}-hub")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected.clear()

    async def drop(self) -> None:
        """Close the current connection as if the network dropped it (tests, operators)."""
        client = self._client
        transport = getattr(client, "_transport", None)
        ws = getattr(transport, "_ws", None)
        if ws is not None:
            await ws.close()

    async def invoke(self, method: str, arguments: list[Any]) -> None:
        """Send ``method`` now if connected; otherwise it goes with the next connect's
        subscriptions (the caller records it in what ``subscriptions()`` returns)."""
        client = self._client
        if client is not None and self.connected:
            await client.send(method, arguments, on_invocation=self._completion(method))

    def _on_new_token(self) -> None:
        """The transport holds a new token: reconnect with it if we carry an older one."""
        current = getattr(self._transport, "current_token", None)
        if (
            self._rotate is not None
            and self.connected
            and current is not None
            and current != self._token_in_use
        ):
            self._rotate.set()

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._rotate = asyncio.Event()
            opened = await self._connect_once()
            if self._stopping:
                return
            if opened and self._rotate.is_set():
                continue  # a token rotation: reconnect at once with the new token
            attempt = 0 if opened else attempt + 1
            if not opened:
                self.failed_attempts += 1
            delay = self._delay(attempt)
            _log.info("projectx %s hub: reconnecting in %.2fs", self.name, delay)
            await self._sleep(delay)

    async def _connect_once(self) -> bool:
        """One connection from open to close; True when it was opened (and subscribed)."""
        try:
            token = await self._transport.token()
        except Exception as exc:
            self.last_error = f"token: {exc}"
            _log.warning("projectx %s hub: cannot get a session token: %s", self.name, exc)
            return False
        self._token_in_use = token
        url = hub_url_with_token(self._url, token, websocket=self._config.skip_negotiation)
        client = self._client_factory(url, token, self._config.hub_connect_timeout_s)
        if self._config.skip_negotiation:
            # pysignalr's SignalRClient does not take skip_negotiation; its transport does.
            client._transport._skip_negotiation = True
        opened, closed = asyncio.Event(), asyncio.Event()

        async def on_open() -> None:
            opened.set()

        async def on_close() -> None:
            closed.set()

        client.on_open(on_open)
        client.on_close(on_close)
        client.on_error(self._on_error)
        for event, handler in self._handlers.items():
            client.on(event, handler)
        self._client = client
        run = asyncio.create_task(client.run(), name=f"projectx-{self.name}-hub-run")
        try:
            await self._first(opened.wait(), run, timeout=self._config.hub_connect_timeout_s)
            if not opened.is_set():
                await self._failed(run, token)
                return False
            await self._subscribe(client)
            self._connected.set()
            self.connects += 1
            reconnect = self.connects > 1
            _log.info(
                "projectx %s hub: connected to %s%s",
                self.name,
                _safe(self._url),
                " (reconnect)" if reconnect else "",
            )
            if reconnect and self._on_resync is not None:
                try:
                    await self._on_resync()
                except Exception:
                    _log.exception("projectx %s hub: the resync callback failed", self.name)
            rotate = self._rotate
            assert rotate is not None
            if getattr(self._transport, "current_token", token) not in (None, token):
                rotate.set()  # renewed while we were connecting
            await self._first(self._either(closed, rotate), run, timeout=None)
            if rotate.is_set() and not closed.is_set() and not run.done():
                self.rotations += 1
                _log.info(
                    "projectx %s hub: the session token was renewed; reconnecting with it",
                    self.name,
                )
                return True
            failed = run.done() and not run.cancelled() and run.exception() is not None
            self.last_error = _describe(run.exception()) if failed else "closed by the server"
            _log.warning("projectx %s hub: connection lost (%s)", self.name, self.last_error)
            if self.on_disconnect is not None and not self._stopping:
                try:
                    self.on_disconnect(self.last_error or "closed")
                except Exception:
                    _log.exception("projectx %s hub: the disconnect callback failed", self.name)
            return True
        finally:
            self._connected.clear()
            self._client = None
            if not run.done():
                run.cancel()
            with contextlib.suppress(BaseException):
                await run

    async def _failed(self, run: asyncio.Task[None], token: str) -> None:
        error = run.exception() if run.done() and not run.cancelled() else None
        self.last_error = _describe(error) if error is not None else "connect timed out"
        _log.warning("projectx %s hub: cannot connect: %s", self.name, self.last_error)
        if error is not None and "401" in str(error):
            with contextlib.suppress(Exception):
                await self._transport.refresh(stale=token)

    async def _subscribe(self, client: SignalRClient) -> None:
        for method, arguments in self._subscriptions():
            await client.send(method, arguments, on_invocation=self._completion(method))

    def _completion(self, method: str) -> Callable[[Message], Awaitable[None]]:
        async def done(message: Message) -> None:
            error = getattr(message, "error", None)
            if error:
                _log.warning("projectx %s hub: %s failed: %s", self.name, method, error)

        return done

    async def _on_error(self, message: CompletionMessage) -> None:
        _log.warning("projectx %s hub: server error: %s", self.name, message.error)

    @staticmethod
    async def _either(first: asyncio.Event, second: asyncio.Event) -> None:
        waits = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    @staticmethod
    async def _first(
        waiter: Awaitable[Any], run: asyncio.Task[None], *, timeout: float | None
    ) -> None:
        wait = asyncio.ensure_future(waiter)
        try:
            await asyncio.wait({wait, run}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wait.cancel()

    def _delay(self, attempt: int) -> float:
        low, high = self._config.reconnect_min_s, self._config.reconnect_max_s
        ceiling = min(high, low * 2.0 ** max(attempt, 0))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


def _safe(url: str) -> str:
    scheme, netloc, path, _, _ = urlsplit(url)
    return urlunsplit((scheme, netloc, path, "", ""))


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "closed"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
