"""The web dashboard: static ES modules served by the daemon at ``/`` (helper "web").

No build step and no Node.js: the files under ``static/`` are what the browser runs; to change
the dashboard, edit them (nothing to rebuild). Plotly, the one library, comes from the installed
``plotly`` Python package, so the page needs no CDN and works with no internet at all.

Every response here carries a Content-Security-Policy that allows scripts from this origin only
(no inline script, no eval), network calls to this origin only (HTTP and its WebSocket), and no
framing. The pages hold no data: every data call goes to ``/api`` with the session cookie.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.responses import FileResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from algotrade.core.errors import ConfigError

# Open without a key: the page and its assets hold no data; every data call needs a key.
DASHBOARD_OPEN_PATHS = frozenset({"/"})
DASHBOARD_OPEN_PREFIXES = ("/ui/",)

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_URL = "/ui"
PLOTLY_URL = f"{ASSETS_URL}/vendor/plotly.min.js"

# A Host header we are willing to echo into the CSP (name or address, optional port); anything
# else gets the policy without explicit WebSocket origins ('self' covers them in CSP 3 browsers).
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")

# style-src needs 'unsafe-inline': Plotly writes style="…" attributes through d3 and inserts a
# <style> element for its own rules (modebar, hover labels); there is no nonce hook for either.
# Inline *styles* cannot run code, and script-src stays strict ('self' only, no inline, no eval).
_CSP = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "font-src 'self'; "
    "connect-src 'self'{ws}; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)


def content_security_policy(host: str | None) -> str:
    """The CSP for a page requested with ``Host: host``: same-origin WebSocket URLs listed
    explicitly (older browsers do not count ws:/wss: as 'self')."""
    ws = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return _CSP.format(ws=ws)


def security_headers(host: str | None) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(host).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        # No build step means no hashed file names: the browser revalidates every asset
        # (ETag → 304), so an edited file shows on the next reload.
        (b"cache-control", b"no-cache"),
    ]


class _SecurityHeaders:
    """Adds the dashboard's security headers to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(Headers(scope=scope).get("host"))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _OneFile(StaticFiles):
    """StaticFiles for a single file of a directory (ETag, 304, HEAD, Range as usual)."""

    def __init__(self, path: Path) -> None:
        super().__init__(directory=path.parent)
        self.name = path.name

    def get_path(self, scope: Scope) -> str:
        return self.name


def plotly_js_path() -> Path:
    """plotly.min.js inside the installed ``plotly`` package; ConfigError when it is missing
    (the daemon then refuses to start and says why, instead of serving a page without charts)."""
    try:
        path = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        raise ConfigError(
            "the web dashboard needs the 'plotly' package (pip install plotly): not installed"
        ) from None
    if not path.is_file():
        raise ConfigError(
            f"the web dashboard needs plotly.min.js from the 'plotly' package: {path} is missing"
            " (reinstall plotly)"
        )
    return path


def install_dashboard(app: FastAPI) -> None:
    """Serve index.html at ``/`` and the static assets under ``/ui/``."""
    plotly = plotly_js_path()
    index = STATIC_DIR / "index.html"

    async def index_page(scope: Scope, receive: Receive, send: Send) -> None:
        await FileResponse(index, media_type="text/html; charset=utf-8")(scope, receive, send)

    # Routes match in order: the Plotly file before the /ui mount that would otherwise 404 it.
    app.router.routes.append(Route("/", _SecurityHeaders(index_page), methods=["GET", "HEAD"]))
    app.router.routes.append(Route(PLOTLY_URL, _SecurityHeaders(_OneFile(plotly))))
    app.mount(ASSETS_URL, _SecurityHeaders(StaticFiles(directory=STATIC_DIR)), name="dashboard")
