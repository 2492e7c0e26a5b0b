"""The fake ProjectX served over loopback: REST, SignalR hubs, uvicorn thread, test controls.

``FakeProjectX`` serves ``POST /api/...`` (bearer JWT), ``POST /hubs/{user,market}/negotiate``
and the WebSockets ``/hubs/user`` and ``/hubs/market`` on one port of 127.0.0.1 from a
background thread, so the client under test may live in the test process or a subprocess.

    with FakeProjectX() as venue:
        venue.add_user("trader", "key-123")
        account = venue.add_account("trader", "TEST_ACCOUNT_1", balance=50_000)
        ...  # point the client at venue.base_url / venue.rtc_url
        venue.web.place_order(account, "CON.F.US.EP.Z25", "limit", "buy", 1, limit_price=5990)
        venue.set_price("CON.F.US.EP.Z25", 5990)  # the resting buy fills
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from testkit.threaded_server import ThreadedServer, close_sockets

from .auth import DAY_S, RateLimiter, Tokens
from .controls import Controls
from .rest import HANDLERS, BadField
from .signalr import Connection, Hubs
from .state import Refused, VenueState
from .wire import DEFAULT_CONTRACTS, ContractSpec, ErrorCode, fail, ok

__all__ = ["BARS_LIMIT", "GENERAL_LIMIT", "FakeProjectX"]

#: getting-started/rate-limits: (requests, window seconds)
BARS_LIMIT = (30, 30.0)
GENERAL_LIMIT = (200, 60.0)
_BARS_PATH = "/api/history/retrievebars"


class FakeProjectX(ThreadedServer, Controls):
    """A ProjectX Gateway (REST + realtime hubs) on 127.0.0.1, driven by the test."""

    _label = "fake ProjectX"

    def __init__(
        self,
        *,
        contracts: Sequence[ContractSpec] = DEFAULT_CONTRACTS,
        token_lifetime_s: float = DAY_S,
        bars_limit: tuple[int, float] = BARS_LIMIT,
        general_limit: tuple[int, float] = GENERAL_LIMIT,
        keepalive_s: float = 15.0,
        client_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        self.state = VenueState(contracts, clock)
        self.tokens = Tokens(clock, token_lifetime_s)
        self.limiter = RateLimiter({"bars": bars_limit, "general": general_limit})
        self.hubs = Hubs(self.state)
        self.state.emit = self.hubs.publish
        self.keepalive_s = keepalive_s
        self.client_timeout_s = client_timeout_s
        self.refusing_websockets = False
        #: every REST request: (path, body or None, HTTP status)
        self.requests: list[tuple[str, Any, int]] = []
        self._failures: list[list[Any]] = []  # [remaining, status, lower-cased path or None]
        # applied, then the reply is lost: [remaining, status or None, delay s, path or None]
        self._after: list[list[Any]] = []
        self._port = port
        super().__init__()
        self.app = self._build_app()

    # ------------------------------------------------------------------ app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="fake-projectx", openapi_url=None, docs_url=None, redoc_url=None)

        @app.post("/api/{path:path}")
        async def api(path: str, request: Request) -> Response:
            return await self._rest("/api/" + path, request)

        @app.post("/hubs/{hub}/negotiate")
        async def negotiate(hub: str, request: Request) -> Response:
            return self._negotiate(hub, request)

        @app.websocket("/hubs/{hub}")
        async def hub_socket(hub: str, websocket: WebSocket) -> None:
            await self._websocket(hub, websocket)

        return app

    async def _rest(self, path: str, request: Request) -> Response:
        key = path.lower().rstrip("/")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        await self._gate()  # hold_replies(): received, not handled until released
        status, reply = self._dispatch(key, body, request.headers.get("authorization"))
        with self.state.lock:
            self.requests.append((path, body, status))
            after = self._take_after(key)
        if after is not None:  # the venue acted; the client gets no (usable) reply
            after_status, delay_s = after
            if delay_s:
                await asyncio.sleep(delay_s)
            if after_status is not None:
                return Response(status_code=after_status)
        if reply is None:
            return Response(status_code=status)
        return JSONResponse(reply, status_code=status)

    def _dispatch(self, key: str, body: Any, authorization: str | None) -> tuple[int, Any]:
        with self.state.lock:
            injected = self._take_failure(key)
        if injected is not None:
            return injected, None
        if key == "/api/auth/loginkey":
            return 200, self._login(body)
        bearer = (
            authorization[7:].strip()
            if authorization and authorization[:7].lower() == "bearer "
            else None
        )
        session = self.tokens.lookup(bearer, allow_expired=key == "/api/auth/validate")
        if session is None:
            return 401, None  # the docs: "Error: response status is 401"
        bucket = "bars" if key == _BARS_PATH else "general"
        if not self.limiter.allow(session.user, bucket):
            return 429, None
        if key == "/api/auth/validate":
            return 200, ok(newToken=self.tokens.issue(session.user))
        handler = HANDLERS.get(key)
        if handler is None or (key == "/api/contract/available" and self.state.search_only):
            return 404, None
        if not isinstance(body, dict):
            return 400, BadField("body", "A non-empty JSON object body is required.").problem()
        try:
            return 200, handler(self.state, session.user, body)
        except BadField as exc:
            return 400, exc.problem()
        except Refused as exc:
            return 200, fail(exc.code, exc.message)

    def contracts_by_search(self, only: bool = True) -> None:
        """Answer only what the docs promise of contract listings: ``Contract/search`` by
        name (up to 20 a reply, nothing for an empty text) and ``searchById``; no
        ``Contract/available`` (404)."""
        with self.state.lock:
            self.state.search_only = only

    def refuse_places(self, code: int, message: str, *, created: bool) -> None:
        """The next ``Order/place`` answers ``success: false`` with ``code`` and an
        ``orderId`` (a placement the gateway calls pending, say); ``created``: the order
        exists and works all the same, else no order has that id."""
        with self.state.lock:
            self.state.refusals_naming_orders.append((code, message, created))

    def _login(self, body: Any) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        name, key = body.get("userName"), body.get("apiKey")
        with self.state.lock:
            user = self.state.users.get(name) if isinstance(name, str) else None
            if user is None or user.api_key != key:
                return fail(ErrorCode.INVALID_CREDENTIALS, "Invalid userName or apiKey", token=None)
            return ok(token=self.tokens.issue(user.name))

    def _take_failure(self, key: str) -> int | None:
        for entry in self._failures:
            if entry[2] is None or entry[2] == key:
                entry[0] -= 1
                if entry[0] <= 0:
                    self._failures.remove(entry)
                return int(entry[1])
        return None

    def _take_after(self, key: str) -> tuple[int | None, float] | None:
        for entry in self._after:
            if entry[3] is None or entry[3] == key:
                entry[0] -= 1
                if entry[0] <= 0:
                    self._after.remove(entry)
                return entry[1], float(entry[2])
        return None

    def _hub_user(self, request_token: str | None) -> str | None:
        with self.state.lock:
            session = self.tokens.lookup(request_token)
            return None if session is None else session.user

    def _negotiate(self, hub: str, request: Request) -> Response:
        if hub not in ("user", "market"):
            return Response(status_code=404)
        authorization = request.headers.get("authorization", "")
        token = request.query_params.get("access_token") or (
            authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        )
        if self._hub_user(token) is None:
            return Response(status_code=401)
        try:
            version = int(request.query_params.get("negotiateVersion", "0"))
        except ValueError:
            return JSONResponse({"error": "negotiateVersion must be an integer"}, status_code=400)
        return JSONResponse(self.hubs.negotiate(hub, version))

    async def _websocket(self, hub: str, websocket: WebSocket) -> None:
        user = self._hub_user(websocket.query_params.get("access_token"))
        connection_token = websocket.query_params.get("id")
        if hub not in ("user", "market"):
            await websocket.send_denial_response(Response(status_code=404))
            return
        if self.refusing_websockets:
            await websocket.send_denial_response(Response(status_code=503))
            return
        if user is None:
            await websocket.send_denial_response(Response(status_code=401))
            return
        if connection_token is not None and not self.hubs.take_negotiated(hub, connection_token):
            await websocket.send_denial_response(Response(status_code=404))
            return
        await websocket.accept()
        connection = Connection(
            hub, user, websocket, asyncio.get_running_loop(), connection_token or "skip-negotiation"
        )
        self.hubs.add(connection)
        writer = asyncio.create_task(connection.write_loop())
        pinger = asyncio.create_task(self._keepalive(connection))
        try:
            await self._read_loop(connection)
        finally:
            self.hubs.remove(connection)
            pinger.cancel()
            # after (FIFO) any send still scheduled: a queued Close or handshake error leaves
            connection.loop.call_soon(connection.queue.put_nowait, None)
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(writer), 1.0)
            writer.cancel()
            for task in (pinger, writer):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _read_loop(self, connection: Connection) -> None:
        websocket = connection.websocket
        with contextlib.suppress(Exception):  # the socket died under us
            while True:
                try:
                    message = await asyncio.wait_for(websocket.receive(), self.client_timeout_s)
                except TimeoutError:
                    return  # ASP.NET's ClientTimeoutInterval: nothing heard, drop the connection
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode(errors="replace")
                if text is not None and not self.hubs.on_text(connection, text):
                    return

    async def _keepalive(self, connection: Connection) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            if connection.handshaken:
                connection.send({"type": 6})

    # ------------------------------------------------------------------ life cycle

    @property
    def rtc_url(self) -> str:
        """The realtime base: hubs are ``{rtc_url}/hubs/user`` and ``{rtc_url}/hubs/market``."""
        return f"http://127.0.0.1:{self.port}"

    def hub_url(self, hub: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/hubs/{hub}"

    async def _drop_websockets(self) -> None:
        await self._drop(None, abrupt=True)

    async def _drop(self, hub: str | None, abrupt: bool) -> int:
        with self.state.lock:
            victims = [c for c in self.hubs.connections if hub is None or c.hub == hub]
            for connection in victims:
                self.hubs.connections.discard(connection)
        await close_sockets(self, victims, abrupt)
        return len(victims)

    def drop_connections(self, hub: str | None = None, abrupt: bool = True) -> int:
        """Cut the hub WebSockets (of ``hub`` or both): abruptly, or with a close frame."""
        return int(self._on_loop(self._drop(hub, abrupt)))
