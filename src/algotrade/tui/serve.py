"""``algotrade tui --serve``: the Textual TUI in a browser, behind the daemon's API keys.

textual-serve runs one app process per browser WebSocket and relays the terminal between
them. This module reuses its process relay (``AppService``) and its packaged assets, with
a server of its own around them:

- Nothing but the sign-in page and static assets is reachable without a session. The browser
  posts an API key to ``/signin``; it is checked against the daemon (``GET /api/version``
  with ``X-API-Key``: 401 means wrong) and, when good, kept server-side under a random token
  sent back as a signed, HttpOnly, SameSite=Strict cookie. Repeated wrong keys get 429 +
  Retry-After: 5 in 5 minutes from one address, and 4 in 10 minutes from all addresses
  together (kept under the daemon's own lockout of this server's address: serve_auth.py).
- The app WebSocket (``/ws``) opens only with a valid session and a same-origin ``Origin``;
  the TUI process it spawns gets the key in its environment (``ALGOTRADE_API_KEY``), never in
  its command line or a URL, so a trader key yields a read-only TUI. At most ``max_apps``
  TUI processes run at once; all of them are ended when the server stops, and die with it
  when it is killed (serve_child.py).
- Every asset is local (no CDN, no web fonts) and pages carry a strict CSP and refuse framing
  (a framed terminal could be fed keystrokes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import sys
import time
from asyncio.subprocess import Process
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
import textual_serve
from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from algotrade.tui.serve_auth import (
    FORWARDED_FAILURES,
    FORWARDED_WINDOW,
    FailureLimiter,
    Session,
    SessionStore,
)
from algotrade.tui.serve_pages import SCRIPT, STYLES, signin_page, terminal_page

COOKIE = "algotrade_tui_session"
MAX_APPS = 16  # TUI processes at once (each is a Python process of ~100 MB)
MAX_KEY_LENGTH = 1024
STOP_SECONDS = 5.0
TITLE = "algotrade TUI"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
STATIC_DIR = Path(textual_serve.__file__).parent / "static"

logger = logging.getLogger("algotrade.tui.serve")

KeyCheck = Literal["ok", "wrong", "unreachable", "busy"]


def tui_command(daemon_url: str) -> list[str]:
    """What runs per browser session: ``python -m algotrade tui --daemon-url URL`` through a
    launcher that ties it to this server's life (serve_child.py). No key in it: see env."""
    launcher = [sys.executable, "-m", "algotrade.tui.serve_child", str(os.getpid())]
    return [*launcher, "--daemon-url", daemon_url]


class _KeyedAppService(AppService):
    """An AppService whose process gets the session's key in its environment and is started
    without a shell (textual-serve runs a shell command line)."""

    def __init__(self, argv: Sequence[str], *, api_key: str, **kwargs: object) -> None:
        super().__init__(shlex.join(argv), **kwargs)  # type: ignore[arg-type]
        self._argv = list(argv)
        self._api_key = api_key

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width=width, height=height)
        # The server's own keys (a container may share the daemon's environment) are not the
        # TUI's business; the signed-in key alone decides what it may do.
        env.pop("ALGOTRADE_API_KEYS", None)
        env.pop("ALGOTRADE_API_KEY", None)
        if self._api_key:
            env["ALGOTRADE_API_KEY"] = self._api_key
        return env

    @property
    def ended(self) -> asyncio.Task[None] | None:
        """The task relaying the app's output; done when the process has ended."""
        return self._task


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


class TuiServer:
    """The aiohttp application: sign-in, sessions, the terminal page and the app WebSocket."""

    def __init__(
        self,
        daemon_url: str,
        public_url: str | None = None,
        command: Sequence[str] | None = None,
        limiter: FailureLimiter | None = None,
        max_apps: int = MAX_APPS,
    ) -> None:
        self.daemon_url = daemon_url.rstrip("/")
        self.public_url = public_url.rstrip("/") if public_url else None
        self.command = list(command) if command else tui_command(self.daemon_url)
        self.limiter = limiter or FailureLimiter()
        self.forwarded = FailureLimiter(FORWARDED_FAILURES, FORWARDED_WINDOW)
        self.max_apps = max_apps
        self.secure = bool(self.public_url and self.public_url.startswith("https:"))
        self.sessions = SessionStore()
        self._apps: set[_KeyedAppService] = set()
        self._downloads = DownloadManager()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024, middlewares=[self._headers])
        app.add_routes(
            [
                web.get("/", self.index),
                web.get("/signin", self.signin_form),
                web.post("/signin", self.signin),
                web.post("/signout", self.signout),
                web.get("/ws", self.websocket),
                web.get("/download/{key}", self.download),
                web.get("/tui.css", self.styles),
                web.get("/tui.js", self.script),
                web.get("/favicon.ico", self.no_icon),
                web.static("/static", STATIC_DIR, show_index=False),
            ]
        )
        app.on_shutdown.append(self._close_sockets)
        app.on_cleanup.append(self._stop_apps)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            _set_headers(request, error)  # 404s and refusals get the same headers
            raise
        _set_headers(request, response)
        return response

    # -- sessions -------------------------------------------------------------------------

    def session_of(self, request: web.Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE, ""))

    def _same_origin(self, request: web.Request) -> bool:
        """No Origin (not a browser) or our own: refuses cross-site posts and WebSockets."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        allowed = {f"{request.scheme}://{request.host}"}
        if self.public_url:
            parts = urlsplit(self.public_url)
            allowed.add(f"{parts.scheme}://{parts.netloc}")
        return origin in allowed

    async def check_key(self, api_key: str) -> tuple[KeyCheck, str | None]:
        """Ask the daemon whether the key opens its API; (verdict, Retry-After if busy)."""
        headers = {"X-API-Key": api_key} if api_key else {}
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(f"{self.daemon_url}/api/version", headers=headers)
        except httpx.HTTPError as error:
            logger.warning("daemon at %s unreachable: %s", self.daemon_url, error)
            return "unreachable", None
        if response.status_code == 200:
            return "ok", None
        if response.status_code in (401, 403):
            return "wrong", None
        if response.status_code == 429:
            return "busy", response.headers.get("Retry-After")
        logger.warning("daemon answered %s to a key check", response.status_code)
        return "unreachable", None

    # -- pages ----------------------------------------------------------------------------

    def _signin(self, message: str, status: int) -> web.Response:
        return web.Response(
            text=signin_page(TITLE, message), status=status, content_type="text/html"
        )

    async def signin_form(self, request: web.Request) -> web.StreamResponse:
        if self.session_of(request) is not None:
            return _redirect("/")
        return self._signin("", 200)

    async def signin(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return self._signin("Sign-in refused: it came from another site.", 403)
        address = request.remote or "?"
        now = time.monotonic()
        wait = self.limiter.retry_after(address, now) or self.forwarded.retry_after("*", now)
        if wait is not None:
            response = self._signin(f"Too many wrong keys: try again in {wait} s.", 429)
            response.headers["Retry-After"] = str(wait)
            return response
        form = await request.post()
        raw = form.get("api_key", "")
        api_key = raw.strip() if isinstance(raw, str) else ""
        # A key with control or non-ASCII characters cannot be a header value: it is wrong.
        verdict: KeyCheck = "wrong"
        retry: str | None = None
        asked = len(api_key) <= MAX_KEY_LENGTH and api_key.isascii() and api_key.isprintable()
        if asked:
            verdict, retry = await self.check_key(api_key)
        if verdict == "unreachable":
            return self._signin("The daemon does not answer: try again later.", 502)
        if verdict == "busy":
            response = self._signin("The daemon is refusing sign-ins for now: try later.", 429)
            if retry:
                response.headers["Retry-After"] = retry
            return response
        if verdict == "wrong":
            self.limiter.failed(address, time.monotonic())
            if asked:
                self.forwarded.failed("*", time.monotonic())
            logger.warning("TUI sign-in refused for %s: wrong API key", address)
            return self._signin("Wrong API key: sign-in refused.", 401)
        self.limiter.succeeded(address)
        response = _redirect("/")
        response.set_cookie(
            COOKIE,
            self.sessions.create(api_key),
            httponly=True,
            samesite="Strict",
            secure=self.secure,
            path="/",
        )
        return response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="sign-out refused: it came from another site")
        session = self.session_of(request)
        if session is not None:
            self.sessions.drop(session)
            for socket in list(session.sockets):
                await socket.close()
        response = _redirect("/signin")
        response.del_cookie(COOKIE, path="/")
        return response

    async def index(self, request: web.Request) -> web.StreamResponse:
        if self.session_of(request) is None:
            return _redirect("/signin")
        font_size = _to_int(request.query.get("fontsize", "16"), 16, 6, 64)
        page = terminal_page(TITLE, self._websocket_url(request), font_size)
        return web.Response(text=page, content_type="text/html")

    def _websocket_url(self, request: web.Request) -> str:
        base = self.public_url or f"{request.scheme}://{request.host}"
        scheme, rest = base.split(":", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}:{rest}/ws"

    async def styles(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=STYLES, content_type="text/css")

    async def script(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=SCRIPT, content_type="text/javascript")

    async def no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)  # browsers ask; a 404 would be a console error

    async def download(self, request: web.Request) -> web.StreamResponse:
        """Files the app delivers (``App.deliver_*``); only to a signed-in browser."""
        if self.session_of(request) is None:
            raise web.HTTPUnauthorized(text="sign in first")
        try:
            meta = await self._downloads.get_download_metadata(request.match_info["key"])
        except KeyError:
            raise web.HTTPNotFound(text="no such download") from None
        response = web.StreamResponse()
        charset = f"; charset={meta.encoding}" if meta.encoding else ""
        response.headers["Content-Type"] = meta.mime_type + charset
        disposition = "inline" if meta.open_method == "browser" else "attachment"
        name = meta.file_name.replace('"', "").replace("\\", "")
        response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
        _set_headers(request, response)
        await response.prepare(request)
        async for chunk in self._downloads.download(request.match_info["key"]):
            await response.write(chunk)
        await response.write_eof()
        return response

    # -- the app WebSocket ------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        session = self.session_of(request)
        if session is None:
            raise web.HTTPUnauthorized(text="sign in first")
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-site WebSocket refused")
        # A key revoked since sign-in ends the session; an unreachable daemon does not (the
        # TUI itself shows "disconnected" and reconnects).
        if (await self.check_key(session.api_key))[0] == "wrong":
            self.sessions.drop(session)
            raise web.HTTPUnauthorized(text="the API key no longer opens the daemon: sign in")
        if len(self._apps) >= self.max_apps:
            raise web.HTTPServiceUnavailable(text=f"{self.max_apps} TUI sessions already running")
        width = _to_int(request.query.get("width", "80"), 80, 10, 1000)
        height = _to_int(request.query.get("height", "24"), 24, 5, 500)
        socket = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
        service = _KeyedAppService(
            self.command,
            api_key=session.api_key,
            write_bytes=socket.send_bytes,
            write_str=socket.send_str,
            close=socket.close,
            download_manager=self._downloads,
        )
        self._apps.add(service)  # counted before the first await below: the bound holds
        session.sockets.add(socket)
        try:
            await socket.prepare(request)
            await service.start(width, height)
            await self._run(socket, service)
        finally:
            session.sockets.discard(socket)
            await socket.close()
            await _stop(service)
            self._apps.discard(service)
        return socket

    async def _run(self, socket: web.WebSocketResponse, service: _KeyedAppService) -> None:
        """Relay until the browser goes or the app process ends (a crashed TUI must not
        leave a frozen terminal on the page: the socket is closed and the page says so)."""
        relay = asyncio.create_task(self._relay(socket, service))
        ended = service.ended
        waiting: set[asyncio.Task[None]] = {relay} | ({ended} if ended else set())
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not relay.done():
                await socket.close()
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay

    async def _relay(self, socket: web.WebSocketResponse, service: AppService) -> None:
        """Browser → app: keystrokes, resizes, focus; malformed messages are ignored."""
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = message.json()
                kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if kind == "stdin" and isinstance(data, str):
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                width = _to_int(str(data.get("width")), 80, 10, 1000)
                height = _to_int(str(data.get("height")), 24, 5, 500)
                await service.set_terminal_size(width, height)
            elif kind == "ping" and isinstance(data, str) and len(data) < 64:
                await socket.send_json(["pong", data])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def _close_sockets(self, app: web.Application) -> None:
        for session in self.sessions.all():
            for socket in list(session.sockets):
                await socket.close()

    async def _stop_apps(self, app: web.Application) -> None:
        """Whatever handler did not get to stop its app (cancelled at shutdown) is stopped."""
        await asyncio.gather(*(_stop(service) for service in list(self._apps)))
        self._apps.clear()


def _set_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Not "no-referrer": with it Chromium sends "Origin: null" on the sign-in form's post.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def _stop(service: AppService) -> None:
    """Ask the app to quit; kill it when it does not within a few seconds."""
    process = service._process
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        await asyncio.wait_for(service.stop(), STOP_SECONDS)
    if process.returncode is None:
        try:
            await asyncio.wait_for(process.wait(), 0.5)
        except TimeoutError:
            logger.warning("TUI process %s did not quit: killed", process.pid)
            process.kill()
            await process.wait()


def _to_int(value: str, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(value), low), high)
    except ValueError:
        return default


def serve(
    host: str,
    port: int,
    daemon_url: str,
    public_url: str | None = None,
    *,
    command: Sequence[str] | None = None,
    max_apps: int = MAX_APPS,
) -> None:
    """Serve the TUI to browsers on ``host:port`` until SIGINT/SIGTERM (blocking).

    ``public_url`` is the address browsers use when a proxy sits in front (it sets the
    WebSocket URL, the accepted Origin and, for https, the cookie's Secure flag).
    ``command`` (argv) replaces ``python -m algotrade tui --daemon-url URL`` (tests).
    """
    server = TuiServer(daemon_url, public_url, command=command, max_apps=max_apps)
    shown = public_url or f"http://{host}:{port}"
    print(f"TUI in the browser on {shown} (sign in with an API key); Ctrl-C to stop", flush=True)
    web.run_app(server.app(), host=host, port=port, print=None, shutdown_timeout=10)
