"""The fake Hyperliquid served over loopback: FastAPI app, uvicorn thread and test controls.

``FakeHyperliquid`` serves ``POST /info``, ``POST /exchange`` and the WebSocket ``/ws`` on one
port of 127.0.0.1 from a background thread, so the client under test may live in the test
process or in a subprocess. Every control and inspection method is thread-safe.

    with FakeHyperliquid() as venue:
        venue.add_account(user, agents=[agent], balance=Decimal(10_000))
        ...  # point the client at venue.base_url / venue.ws_url
        venue.set_mid("BTC", Decimal(64_000))  # resting orders that now cross fill
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from testkit.threaded_server import ThreadedServer, close_sockets, serve_texts

from .exchange import Exchange
from .hub import Connection, Hub
from .info import handle_info
from .orders import Position
from .state import DEFAULT_ASSETS, ExchangeState, wall_clock_ms
from .wire import AssetSpec, BadRequest, candle, synthetic_candles

__all__ = ["VENUE_GREETING", "FakeHyperliquid"]

_D = Decimal | int | str
#: The plain-text frame the real venue sends first on every WebSocket connection.
VENUE_GREETING = "Websocket connection established."


def _body_type(path: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if path == "/exchange":
        action = body.get("action")
        body = action if isinstance(action, dict) else {}
    kind = body.get("type")
    return kind if isinstance(kind, str) else None


class FakeHyperliquid(ThreadedServer):
    """A Hyperliquid perpetuals venue on 127.0.0.1, driven and inspected by the test."""

    _label = "fake Hyperliquid"

    def __init__(
        self,
        *,
        is_mainnet: bool = False,
        assets: Sequence[AssetSpec] = DEFAULT_ASSETS,
        half_spread: _D = 0,
        taker_fee: _D = "0.00035",
        maker_fee: _D = "0.0001",
        idle_timeout_s: float = 60.0,
        enforce_margin: bool = False,
        clock: Callable[[], int] = wall_clock_ms,
        port: int = 0,
        greeting: str | None = None,
    ) -> None:
        self.state = ExchangeState(
            assets,
            half_spread=Decimal(half_spread),
            taker_fee=Decimal(taker_fee),
            maker_fee=Decimal(maker_fee),
            enforce_margin=enforce_margin,
            clock=clock,
        )
        self.exchange = Exchange(self.state, is_mainnet)
        self.hub = Hub(self.state)
        self.state.emit = self.hub.publish
        self.is_mainnet = is_mainnet
        self.idle_timeout_s = idle_timeout_s
        self._port = port
        self._counts: Counter[tuple[str, str | None]] = Counter()
        self._failures: list[list[Any]] = []  # [remaining, status, path or None]
        self._exchange_delay = 0.0
        self.refusing_websockets = False
        # The real venue greets every connection with VENUE_GREETING (plain text, not JSON);
        # off by default so raw-frame tests see only what they asked for.
        self.greeting = greeting
        self.app = self._build_app()

    # ------------------------------------------------------------------ app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="fake-hyperliquid", openapi_url=None, docs_url=None, redoc_url=None)

        @app.post("/info")
        async def info(request: Request) -> JSONResponse:
            return await self._http("/info", request, lambda b: handle_info(self.state, b))

        @app.post("/exchange")
        async def exchange(request: Request) -> JSONResponse:
            return await self._http("/exchange", request, self.exchange.handle)

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await self._websocket(websocket)

        return app

    async def _http(self, path: str, request: Request, handler: Callable[[Any], Any]) -> Response:
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client died mid-request (a crash soak's kill -9)
            return JSONResponse({"error": "client disconnected"}, status_code=499)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self.state.lock:
            self._counts[(path, _body_type(path, body))] += 1
        trickled = self._trickled(lambda: self._answer(path, body, handler))
        if trickled is not None:
            return trickled
        await self._gate()  # hold_replies(): received, not handled until released
        return await self._answer(path, body, handler)

    async def _answer(self, path: str, body: Any, handler: Callable[[Any], Any]) -> JSONResponse:
        with self.state.lock:
            status = self._take_failure(path)
        if status is not None:
            error = "rate limited" if status == 429 else f"injected HTTP {status}"
            return JSONResponse({"error": error}, status_code=status)
        try:
            if body is None:
                raise BadRequest("body is not JSON")
            result = handler(body)
        except BadRequest as exc:
            message = f"Failed to deserialize the JSON body into the target type: {exc}"
            return JSONResponse({"error": message}, status_code=422)
        if path == "/exchange":
            with self.state.lock:
                delay, self._exchange_delay = self._exchange_delay, 0.0
            await self._hold(delay)  # stop() cuts the delay short
        return JSONResponse(result)

    def _take_failure(self, path: str) -> int | None:
        for entry in self._failures:
            if entry[2] is None or entry[2] == path:
                entry[0] -= 1
                if entry[0] <= 0:
                    self._failures.remove(entry)
                return int(entry[1])
        return None

    async def _websocket(self, websocket: WebSocket) -> None:
        if self.refusing_websockets:
            await websocket.close(code=1013)  # "try again later": the handshake is refused
            return
        await websocket.accept()
        connection = Connection(websocket, asyncio.get_running_loop())
        if self.greeting is not None:
            connection.send(self.greeting)
        self.hub.add(connection)
        try:
            await serve_texts(
                connection,
                self.idle_timeout_s,
                lambda text: self.hub.on_text(connection, text),
                lambda: self.hub.remove(connection),
            )
        finally:
            self.hub.remove(connection)

    # ------------------------------------------------------------------ life cycle

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def _drop_websockets(self) -> None:
        await self._drop(None)

    async def _drop(self, code: int | None) -> int:
        with self.state.lock:
            connections = list(self.hub.connections)
            self.hub.connections.clear()
        await close_sockets(self, connections, code in (None, 1006), code or 1011)
        return len(connections)

    def reset(self) -> None:
        """Forget everything (accounts, orders, fills, candles, nonces, counters, injected
        faults), restore the initial mids and drop every WebSocket; the server keeps running."""
        if self._thread is not None and self._thread.is_alive():
            self.drop_websockets()
        with self.state.lock:
            self.state.reset()
            self.exchange.nonces.clear()
            self.exchange.actions.clear()
            self._counts.clear()
            self._failures.clear()
            self._exchange_delay = 0.0
            self.hub.silenced = False
            self.refusing_websockets = False

    # ------------------------------------------------------------------ market controls

    def set_mid(self, coin: str, px: _D) -> None:
        """New mid: pushes allMids and l2Book, fills crossed resting orders, fires triggers."""
        self.state.set_mid(coin, Decimal(px))

    def mid(self, coin: str) -> Decimal:
        with self.state.lock:
            return self.state.mids[coin]

    def push_trade(self, coin: str, px: _D, sz: _D, side: str = "B") -> None:
        self.state.push_trade(coin, Decimal(px), Decimal(sz), side)

    def publish_candle(
        self,
        coin: str,
        interval: str,
        t_ms: int,
        o: _D,
        h: _D,
        l: _D,  # noqa: E741 - the venue's own field name
        c: _D,
        v: _D,
        n: int = 1,
    ) -> dict[str, Any]:
        """Store (replacing the same t) and push a candle to its subscribers."""
        d = Decimal
        bar = candle(coin, interval, t_ms, d(o), d(h), d(l), d(c), d(v), n)
        self.state.publish_candle(bar)
        return bar

    def add_candles(self, coin: str, interval: str, candles: Iterable[dict[str, Any]]) -> None:
        """Store wire-shaped candles for candleSnapshot (no push)."""
        self.state.add_candles(coin, interval, candles)

    def generate_candles(
        self,
        coin: str,
        interval: str,
        start_ms: int,
        count: int,
        start_price: _D | None = None,
        seed: int = 0,
    ) -> list[dict[str, Any]]:
        """Store and return a deterministic random-walk series of ``count`` candles."""
        asset = self.state.asset(coin)
        price = Decimal(start_price) if start_price is not None else self.mid(coin)
        bars = synthetic_candles(coin, interval, start_ms, count, price, seed, asset.sz_decimals)
        self.state.add_candles(coin, interval, bars)
        return bars

    # ------------------------------------------------------------------ account controls

    def add_account(self, user: str, agents: Iterable[str] = (), balance: _D = 10_000) -> None:
        """Register a user (it may sign itself) and the API wallets that sign for it."""
        self.state.add_account(user, agents, Decimal(balance))

    def set_position(self, user: str, coin: str, szi: _D, entry_px: _D | None = None) -> None:
        """Overwrite a position without any fill (entry defaults to the mid)."""
        self.state.set_position(
            user, coin, Decimal(szi), None if entry_px is None else Decimal(entry_px)
        )

    def set_balance(self, user: str, balance: _D) -> None:
        with self.state.lock:
            self.state.account(user).balance = Decimal(balance)

    def place_resting_order(
        self,
        user: str,
        coin: str,
        side: str,
        px: _D,
        sz: _D,
        cloid: str | None = None,
        reduce_only: bool = False,
    ) -> int:
        """A Gtc limit placed outside the client (side "buy"/"sell" or "B"/"A"); returns oid."""
        return self.state.place_resting_order(
            user, coin, side, Decimal(px), Decimal(sz), cloid, reduce_only
        )

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, n: int = 1, status: int = 429, path: str | None = None) -> None:
        """The next ``n`` HTTP requests (to ``path``, or any) get ``status`` unprocessed."""
        with self.state.lock:
            self._failures.append([n, status, path])

    def delay_next_exchange(self, seconds: float) -> None:
        """Process the next /exchange request at once but hold its reply for ``seconds``."""
        with self.state.lock:
            self._exchange_delay = seconds

    def drop_websockets(self, code: int | None = None) -> int:
        """Close every WebSocket: abruptly (no close frame, code None/1006) or with ``code``."""
        return int(self._on_loop(self._drop(code)))

    def refuse_websockets(self, refuse: bool = True) -> None:
        """Refuse (or accept again) new WebSocket connections, e.g. to hold a client
        disconnected while something happens that it must recover from REST."""
        self.refusing_websockets = refuse

    def ws_silence(self, silent: bool = True) -> None:
        """Stop (or resume) pushes while connections stay open; pongs and acks still flow."""
        with self.state.lock:
            self.hub.silenced = silent

    def omit_fill_cloids(self, omit: bool = True) -> None:
        """Leave ``cloid`` out of the fills made from now on (as the real venue may): the
        client can only match them to their orders by ``oid``."""
        with self.state.lock:
            self.state.fill_cloids = not omit

    def set_candle_reply_cap(self, cap: int) -> None:
        """Candles per ``candleSnapshot`` reply (500 by default, as the docs cap every
        time-range reply); e.g. 5000 for a venue that sends more per page."""
        with self.state.lock:
            self.state.candle_reply_cap = cap

    def omit_open_order_cloids(self, omit: bool = True) -> None:
        """List open orders without ``cloid`` (and ``tif``), as the docs' example of
        ``frontendOpenOrders`` shows them: the client knows its orders by ``oid`` there."""
        with self.state.lock:
            self.state.open_order_cloids = not omit

    def inject_ws_message(self, raw_text: str) -> None:
        """Send an arbitrary frame to every connected client."""
        self.hub.broadcast_raw(raw_text)

    # ------------------------------------------------------------------ inspection

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Accepted exchange requests: action, nonce, signer, user, vaultAddress, time."""
        with self.state.lock:
            return list(self.exchange.actions)

    def orders_by_cloid(self, cloid: str) -> int:
        """How many orders carrying ``cloid`` were sent (accepted, rejected or duplicate)."""
        with self.state.lock:
            return self.state.cloid_requests[cloid.lower()]

    def fills(self, user: str) -> list[dict[str, Any]]:
        """All fills of ``user``, oldest first."""
        with self.state.lock:
            return list(self.state.account(user).fills)

    def position(self, user: str, coin: str) -> Position:
        with self.state.lock:
            pos = self.state.account(user).position(coin)
            return Position(pos.szi, pos.entry_px)

    def balance(self, user: str) -> Decimal:
        with self.state.lock:
            return self.state.account(user).balance

    def open_orders(self, user: str) -> list[dict[str, Any]]:
        with self.state.lock:
            user = user.lower()
            orders = [o for o in self.state.orders.values() if o.user == user and o.is_open]
            return [o.frontend() for o in orders]

    def order_status(self, oid: int) -> str | None:
        with self.state.lock:
            order = self.state.orders.get(oid)
            return None if order is None else order.status

    def request_count(self, path: str, type: str | None = None) -> int:
        """Requests received on ``path`` (of ``type``, or all), injected failures included."""
        with self.state.lock:
            if type is None:
                return sum(n for (p, _), n in self._counts.items() if p == path)
            return self._counts[(path, type)]

    def ws_connections(self) -> int:
        with self.state.lock:
            return len(self.hub.connections)

    def ws_subscriptions(self) -> list[dict[str, Any]]:
        """Every live subscription as the clients sent it, over all connections."""
        return self.hub.subscriptions()
