"""Chromium for browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

Never downloads a browser (``playwright install`` is not used). Without Chromium the tests
skip with the reason locally, and FAIL when ``CI=true``: CI must run them (``scripts/test``
installs the Debian package when it is missing).

Helpers:
- ``launch_chromium()``: a headless Browser (context manager).
- ``only_daemon(context, base_url)``: abort every request and WebSocket not addressed to the
  daemon's origin; returns the list of URLs it refused (a test asserts it stays empty to prove
  the page fetches nothing from elsewhere).
- ``PageWatch(page)``: collects page errors, console errors, CSP violations and HTTP error
  answers (4xx/5xx) the page got.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM_ENV = "ALGOTRADE_CHROMIUM"  # override the executable (e.g. another distribution's)
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# Generous: CI machines are shared and a first paint of plotly.min.js (4.6 MB) can take a while.
TIMEOUT_MS = 20_000

# Chromium logs every 4xx/5xx answer as a console error; PageWatch checks those answers itself
# (by method, path and status), so this console line carries nothing more.
_FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of")
# A page opened without a session asks who is signed in and is told 401: that is how it learns
# to show the sign-in page.
SIGNED_OUT_PROBE = "GET /api/session 401"

# Recorded in the page before any of its scripts run (init scripts are not subject to the CSP).
_WATCH_SCRIPT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


def chromium_executable() -> Path | None:
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return Path(configured)
    if DEBIAN_CHROMIUM.is_file():
        return DEBIAN_CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def require_chromium() -> Path:
    """The Chromium executable; pytest.skip (pytest.fail under CI=true) when there is none."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    path = chromium_executable()
    if path is None or not path.is_file():
        _missing(
            f"Chromium not found at {path or DEBIAN_CHROMIUM} "
            f"(apt-get install chromium, or set {CHROMIUM_ENV})"
        )
    assert path is not None
    return path


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def launch_chromium() -> Iterator[object]:
    """A headless Chromium (playwright Browser); closed on exit."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            # Containers run tests as root (no user namespaces for the sandbox) and give
            # /dev/shm 64 MB, too little for Chromium's renderer.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            browser.close()


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` (http(s) or ws(s)) goes to the host and port of ``base_url``."""
    target, base = urlsplit(url), urlsplit(base_url)
    if target.scheme in ("data", "blob", "about"):
        return True  # never leaves the browser
    scheme = {"ws": "http", "wss": "https"}.get(target.scheme, target.scheme)
    return (scheme, target.hostname, target.port) == (base.scheme, base.hostname, base.port)


def only_daemon(context: object, base_url: str) -> list[str]:
    """Abort every HTTP request and WebSocket of ``context`` that is not for ``base_url``'s
    origin; returns the (live) list of refused URLs."""
    from playwright.sync_api import BrowserContext, Route, WebSocketRoute

    assert isinstance(context, BrowserContext)
    refused: list[str] = []

    def http(route: Route) -> None:
        url = route.request.url
        if same_origin(url, base_url):
            route.fallback()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    def websocket(ws: WebSocketRoute) -> None:
        refused.append(ws.url)
        ws.close(code=1008, reason="blocked by the test")

    context.route("**/*", http)
    context.route_web_socket(lambda url: not same_origin(url, base_url), websocket)
    return refused


class PageWatch:
    """Errors a page ran into: uncaught exceptions, console errors, CSP violations, and the
    HTTP error answers it got (``"METHOD /path status"``, in ``failed``)."""

    def __init__(self, page: object) -> None:
        from playwright.sync_api import ConsoleMessage, Page, Response

        assert isinstance(page, Page)
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        self.failed: list[str] = []
        page.add_init_script(_WATCH_SCRIPT)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not _FAILED_RESOURCE.match(message.text):
                self.console.append(message.text)

        def on_response(response: Response) -> None:
            if response.status >= 400:
                path = urlsplit(response.url).path
                self.failed.append(f"{response.request.method} {path} {response.status}")

        page.on("console", on_console)
        page.on("response", on_response)

    def csp_violations(self) -> list[dict[str, str]]:
        result = self.page.evaluate("window.__csp || []")
        assert isinstance(result, list)
        return result

    def assert_clean(
        self, *allowed_console: str, allowed_failures: tuple[str, ...] = (SIGNED_OUT_PROBE,)
    ) -> None:
        """No uncaught error, no CSP violation, no console error but the ``allowed_console``
        ones (substrings), no HTTP error answer but the ``allowed_failures`` (exact
        ``"METHOD /path status"``; by default the signed-out page's session probe)."""
        console = [m for m in self.console if not any(a in m for a in allowed_console)]
        failed = [f for f in self.failed if f not in allowed_failures]
        assert not self.errors, f"page errors: {self.errors}"
        assert not self.csp_violations(), f"CSP violations: {self.csp_violations()}"
        assert not console, f"console errors: {console}"
        assert not failed, f"HTTP error answers: {failed}"
