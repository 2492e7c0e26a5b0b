"""The fake Bybit v5 served over loopback: FastAPI app, uvicorn thread and test controls.

``FakeBybit`` serves the REST API under ``/v5/...`` and the WebSockets ``/v5/public/linear`` and
``/v5/private`` on one port of 127.0.0.1 from a background thread, so the client under test may
live in the test process or in a subprocess. Every control and inspection method is
thread-safe.

    with FakeBybit() as venue:
        uid = venue.add_account("key", "secret", balance=10_000)
        ...  # point the client at venue.base_url / venue.public_ws_url / venue.private_ws_url
        venue.set_price("BTCUSDT", 64_000)  # resting orders that now cross fill
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from testkit.threaded_server import ThreadedServer, close_sockets, serve_texts

from .auth import DEFAULT_LIMITS, RateLimiter, verify_rest
from .hub import Connection, Hub
from .rest import PRIVATE_ROUTES, PUBLIC_ROUTES, Rest
from .state import DEFAULT_INSTRUMENTS, ExchangeState, wall_clock_ms
from .wire import ApiError, InstrumentSpec, RetCode, envelope, params_error, ret_msg

__all__ = ["FakeBybit"]

_D = Decimal | int | str


class _Failure:
    def __init__(
        self, remaining: int, status: int, path: str | None, apply: bool, ret_code: int = 0
    ) -> None:
        self.remaining, self.status, self.path, self.apply = remaining, status, path, apply
        self.ret_code = ret_code  # non-zero: an HTTP 200 reply with this retCode instead


class FakeBybit(ThreadedServer):
    """A Bybit v5 venue (linear USDT perpetuals) on 127.0.0.1, driven and inspected by the test."""

    _label = "fake Bybit"

    def __init__(
        self,
        *,
        instruments: Sequence[InstrumentSpec] = DEFAULT_INSTRUMENTS,
        taker_fee: _D = "0.00055",
        maker_fee: _D = "0.0002",
        rate_limits: dict[str, int] | None = None,
        rate_window_ms: int = 1000,
        idle_timeout_s: float = 600.0,
        clock: Callable[[], int] = wall_clock_ms,
        port: int = 0,
    ) -> None:
        self.state = ExchangeState(
            instruments, taker_fee=Decimal(taker_fee), maker_fee=Decimal(maker_fee), clock=clock
        )
        self.rest = Rest(self.state)
        self.hub = Hub(self.state)
        self.state.emit = self.hub.publish
        self.limiter = RateLimiter(
            DEFAULT_LIMITS if rate_limits is None else rate_limits, rate_window_ms
        )
        self.idle_timeout_s = idle_timeout_s
        self._port = port
        self._counts: Counter[str] = Counter()
        self._failures: list[_Failure] = []
        self._delays: dict[str, float] = {}
        self._refusing: set[str] = set()  # "public" / "private"
        self.app = self._build_app()

    # ------------------------------------------------------------------ app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="fake-bybit", openapi_url=None, docs_url=None, redoc_url=None)

        @app.websocket("/v5/public/linear")
        async def public_ws(websocket: WebSocket) -> None:
            await self._websocket(websocket, "public")

        @app.websocket("/v5/private")
        async def private_ws(websocket: WebSocket) -> None:
            await self._websocket(websocket, "private")

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def rest(request: Request, path: str) -> Response:
            return await self._http("/" + path, request)

        return app

    def _reply(
        self,
        result: Any,
        status: int = 200,
        code: int = 0,
        message: str = "OK",
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        body = envelope(result, self.state.clock(), code, message)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _http(self, path: str, request: Request) -> Response:
        with self.state.lock:
            self._counts[path] += 1
        public = PUBLIC_ROUTES.get(path)
        private = PRIVATE_ROUTES.get(path)
        if public is None and private is None:
            return self._reply({}, 404, RetCode.ROUTE, "Route not found.")
        method = "GET" if public is not None else private[0]  # type: ignore[index]
        if request.method != method:
            return self._reply({}, 400, RetCode.PARAMS, f"{path} takes {method} requests")
        raw = await request.body()
        payload = request.url.query if method == "GET" else raw.decode(errors="replace")
        if public is not None:
            failure = self._take_failure(path)
            if failure is not None and failure.ret_code:
                return self._reply({}, 200, failure.ret_code, ret_msg(failure.ret_code))
            if failure is not None and not failure.apply:
                return PlainTextResponse(f"injected HTTP {failure.status}", failure.status)
            try:
                result = getattr(self.rest, public)(dict(request.query_params))
            except ApiError as exc:
                return self._reply({}, exc.http_status, exc.code, exc.message)
            if failure is not None:
                return PlainTextResponse(f"injected HTTP {failure.status}", failure.status)
            return self._reply(result)
        return await self._private(path, request, private[1], payload)  # type: ignore[index]

    async def _private(self, path: str, request: Request, handler: str, payload: str) -> Response:
        now = self.state.clock()
        try:
            api_key = verify_rest(request.headers, payload, self.state.secrets, now)
        except ApiError as exc:
            return self._reply({}, exc.http_status, exc.code, exc.message)
        with self.state.lock:
            uid = self.state.by_key[api_key]
            limit, remaining, reset_ms, allowed = self.limiter.hit(uid, path, now)
        headers = {}
        if limit:
            headers = {
                "X-Bapi-Limit": str(limit),
                "X-Bapi-Limit-Status": str(remaining),
                "X-Bapi-Limit-Reset-Timestamp": str(reset_ms),
            }
        if not allowed:
            return self._reply({}, 200, RetCode.RATE_LIMIT, "Too many visits!", headers)
        failure = self._take_failure(path)
        if failure is not None and failure.ret_code:
            return self._reply({}, 200, failure.ret_code, ret_msg(failure.ret_code))
        if failure is not None and not failure.apply:
            return PlainTextResponse(f"injected HTTP {failure.status}", failure.status)
        try:
            if request.method == "POST":
                try:
                    params = json.loads(payload) if payload else {}
                except ValueError:
                    raise params_error("request body is not JSON") from None
                if not isinstance(params, dict):
                    raise params_error("request body must be a JSON object")
            else:
                params = dict(request.query_params)
            result = getattr(self.rest, handler)(uid, params)
            reply = self._reply(result, headers=headers)
        except ApiError as exc:
            reply = self._reply({}, exc.http_status, exc.code, exc.message, headers)
        with self.state.lock:
            delay = self._delays.pop(path, 0.0)
        await self._hold(delay)  # stop() cuts the delay short
        if failure is not None:  # applied at the venue, but the client sees an error
            return PlainTextResponse(f"injected HTTP {failure.status}", failure.status)
        return reply

    def _take_failure(self, path: str) -> _Failure | None:
        with self.state.lock:
            for failure in self._failures:
                if failure.path is None or failure.path == path:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    async def _websocket(self, websocket: WebSocket, kind: str) -> None:
        if kind in self._refusing:
            await websocket.close(code=1013)  # "try again later": the handshake is refused
            return
        await websocket.accept()
        connection = Connection(websocket, asyncio.get_running_loop(), kind)
        self.hub.add(connection)
        try:
            await serve_texts(
                connection, self.idle_timeout_s, lambda text: self.hub.on_text(connection, text)
            )
        finally:
            self.hub.remove(connection)

    # ------------------------------------------------------------------ life cycle

    @property
    def public_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/public/linear"

    @property
    def private_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/private"

    async def _drop_websockets(self) -> None:
        await self._drop(None, None)

    async def _drop(self, kind: str | None, code: int | None) -> int:
        with self.state.lock:
            connections = [c for c in self.hub.connections if kind in (None, c.kind)]
            for connection in connections:
                self.hub.connections.discard(connection)
        await close_sockets(self, connections, code in (None, 1006), code or 1011)
        return len(connections)

    def reset(self) -> None:
        """Forget accounts, orders, fills, klines, counters and injected faults; restore the
        initial prices and drop every WebSocket. The server keeps running."""
        if self._thread is not None and self._thread.is_alive():
            self.drop_websockets()
        with self.state.lock:
            self.state.reset()
            self.limiter.reset()
            self._counts.clear()
            self._failures.clear()
            self._delays.clear()
            self._refusing.clear()
            self.hub.silenced = False
            self.hub.refusing_auth = False

    # ------------------------------------------------------------------ market controls

    def set_price(self, symbol: str, price: _D) -> None:
        """New last price: resting limit orders it reaches fill (maker, at their price)."""
        self.state.set_price(symbol, Decimal(price))

    def price(self, symbol: str) -> Decimal:
        with self.state.lock:
            return self.state.prices[symbol]

    def push_kline(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        open: _D,
        high: _D,
        low: _D,
        close: _D,
        volume: _D = 1,
        *,
        confirm: bool = True,
        move_price: bool = True,
    ) -> dict[str, Any]:
        """Store a kline, push it on ``kline.{interval}.{symbol}`` (``confirm`` true = closed)
        and, unless ``move_price`` is false, make its close the last price (matching)."""
        d = Decimal
        values = {
            "open": d(open),
            "high": d(high),
            "low": d(low),
            "close": d(close),
            "volume": d(volume),
            "turnover": d(volume) * d(close),
        }
        return self.state.publish_kline(symbol, interval, start_ms, values, confirm, move_price)

    def add_klines(
        self, symbol: str, interval: str, rows: Iterable[tuple[int, _D, _D, _D, _D, _D]]
    ) -> None:
        """Store closed klines (start_ms, open, high, low, close, volume) for /v5/market/kline,
        without pushing them or moving the price."""
        d = Decimal
        with self.state.lock:
            for start, o, h, l, c, v in rows:  # noqa: E741 - the venue's own field names
                values = {
                    "open": d(o),
                    "high": d(h),
                    "low": d(l),
                    "close": d(c),
                    "volume": d(v),
                    "turnover": d(v) * d(c),
                }
                self.state.publish_kline(symbol, interval, start, values, True, False, False)

    def set_max_fill_qty(self, symbol: str, qty: _D | None) -> None:
        """Cap each fill (per order, per price event) to ``qty``: partial fills. None: no cap."""
        with self.state.lock:
            if qty is None:
                self.state.max_fill_qty.pop(symbol, None)
            else:
                self.state.max_fill_qty[symbol] = Decimal(qty)

    # ------------------------------------------------------------------ account controls

    def add_account(self, api_key: str, secret: str, balance: _D = 10_000) -> str:
        """Register an API key and secret for a new UNIFIED account holding ``balance`` USDT;
        returns its UID."""
        return self.state.add_account(api_key, secret, Decimal(balance))

    def set_balance(self, uid: str, balance: _D) -> None:
        with self.state.lock:
            self.state.account(uid).balance = Decimal(balance)

    def place_resting_order(
        self, uid: str, symbol: str, side: str, qty: _D, price: _D, order_link_id: str = ""
    ) -> str:
        """A GTC limit placed outside the client (side "buy"/"sell"), stamped the venue
        clock's time even when that is held in the past (no signed request's receive window
        to meet); returns its orderId."""
        validated = {
            "symbol": symbol,
            "side": side.capitalize(),
            "order_type": "Limit",
            "time_in_force": "GTC",
            "order_link_id": order_link_id,
            "qty": Decimal(qty),
            "price": Decimal(price),
            "reduce_only": False,
            "close_on_trigger": False,
        }
        return self.state.create_order(uid, {}, validated).order_id

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        n: int = 1,
        status: int = 502,
        path: str | None = None,
        *,
        apply: bool = False,
        ret_code: int = 0,
    ) -> None:
        """The next ``n`` requests (to ``path``, or any) are answered with HTTP ``status``:
        without processing them, or, with ``apply=True``, after processing them (an order is
        placed, yet the client sees the error). ``ret_code``: an HTTP 200 reply with that
        ``retCode`` and the docs' ``retMsg`` for it instead, without processing the request."""
        with self.state.lock:
            self._failures.append(_Failure(n, status, path, apply, ret_code))

    def clear_faults(self) -> None:
        """Forget every failure and delay injected and not used yet."""
        with self.state.lock:
            self._failures.clear()
            self._delays.clear()

    def delay_next(self, seconds: float, path: str = "/v5/order/create") -> None:
        """Process the next private request to ``path`` at once but hold its reply."""
        with self.state.lock:
            self._delays[path] = seconds

    def set_rate_limit(self, path: str, per_window: int, window_ms: int | None = None) -> None:
        """Allow ``per_window`` signed requests per UID to ``path`` per rolling window; more get
        retCode 10006. A long ``window_ms`` makes a test independent of the clock."""
        with self.state.lock:
            self.limiter.limits[path] = per_window
            if window_ms is not None:
                self.limiter.window_ms = window_ms

    def drop_websockets(self, kind: str | None = None, code: int | None = None) -> int:
        """Close the "public" or "private" WebSockets (or all): abruptly (no close frame, code
        None/1006) or with ``code``. Returns how many were closed."""
        return int(self._on_loop(self._drop(kind, code)))

    def refuse_websockets(self, refuse: bool = True, kind: str | None = None) -> None:
        """Refuse (or accept again) new "public"/"private" WebSocket connections (or both)."""
        with self.state.lock:
            kinds = {"public", "private"} if kind is None else {kind}
            if refuse:
                self._refusing |= kinds
            else:
                self._refusing -= kinds

    def echo_req_ids(self, echo: bool = True) -> None:
        """False: answer auth and subscribe without the request's ``req_id`` (the docs'
        samples), so a client must match the acknowledgement by its ``op``."""
        with self.state.lock:
            self.hub.echoing_req_id = echo

    def refuse_auth(self, refuse: bool = True) -> None:
        """Answer every private WebSocket ``auth`` with ``success: false``."""
        with self.state.lock:
            self.hub.refusing_auth = refuse

    def ws_silence(self, silent: bool = True) -> None:
        """Stop (or resume) pushes while connections stay open; acks and pongs still flow."""
        with self.state.lock:
            self.hub.silenced = silent

    # ------------------------------------------------------------------ inspection

    def create_requests(self, order_link_id: str | None = None) -> list[dict[str, Any]]:
        """Every signed /v5/order/create body received (accepted or refused), oldest first."""
        with self.state.lock:
            bodies = [body for _, body in self.state.create_requests]
        if order_link_id is None:
            return bodies
        return [b for b in bodies if b.get("orderLinkId") == order_link_id]

    def orders(self, uid: str) -> list[dict[str, Any]]:
        """Every order of ``uid`` (REST shape), oldest first."""
        with self.state.lock:
            return [o.rest() for o in self.state.orders.values() if o.uid == uid]

    def open_orders(self, uid: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [o.rest() for o in self.state.orders.values() if o.uid == uid and o.is_open]

    def executions(self, uid: str) -> list[dict[str, Any]]:
        """Every execution of ``uid`` (REST shape), oldest first."""
        with self.state.lock:
            return [e.rest() for u, e in self.state.executions if u == uid]

    def position(self, uid: str, symbol: str) -> tuple[Decimal, Decimal]:
        """(signed size, average entry price) of the one-way position."""
        with self.state.lock:
            pos = self.state.account(uid).position(symbol)
            return pos.size, pos.avg_price

    def balance(self, uid: str) -> Decimal:
        """The USDT wallet balance (realised PnL and fees included)."""
        with self.state.lock:
            return self.state.account(uid).balance

    def request_count(self, path: str) -> int:
        """Requests received on ``path``, refused and injected failures included."""
        with self.state.lock:
            return self._counts[path]

    def ws_connections(self, kind: str | None = None) -> int:
        with self.state.lock:
            return sum(1 for c in self.hub.connections if kind in (None, c.kind))

    def ws_subscriptions(self) -> list[tuple[str, str]]:
        """(kind, topic) of every live subscription over all connections."""
        return self.hub.subscriptions()
