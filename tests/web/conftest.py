"""Browser tests of the web dashboard: a real daemon process, Debian's Chromium via Playwright.

One Chromium per test session; one daemon per test module shared by its tests, which add their
own bots (``daemon``); a fresh context (no cookies) per page. Tests that would disturb others (the
sign-in rate limiter counts failures per client address, and every test comes from 127.0.0.1)
start their own daemon with ``start_daemon``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.browser import TIMEOUT_MS, PageWatch, launch_chromium, require_chromium
from testkit.daemon_process import DaemonProcess

ADMIN_KEY = "web-admin-key-0123456789"
TRADER_KEY = "web-trader-key-0123456789"
SESSION_COOKIE = "algotrade_session"
KEYS_ENV = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"}


def sim_bot(bot_id: str, seed: int, **overrides: Any) -> dict[str, Any]:
    """A paper bot on the sim feed that trades within seconds (a bar every 50 ms)."""
    return {
        "bot_id": bot_id,
        "symbol": f"SIM-{seed}",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 5, "qty": 1},
        "feed": "sim",
        "feed_options": {"seed": seed, "tick_seconds": 0.05, "volatility": 0.01},
        "initial_capital": "100000",
        **overrides,
    }


def start_daemon(tmp: Path) -> DaemonProcess:
    return DaemonProcess(tmp / "data", env=KEYS_ENV, api_key=ADMIN_KEY).start()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require_chromium()
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A daemon with admin and trader keys, shared by a module's tests: they add their own bots."""
    require_chromium()  # no daemon start just to skip afterwards
    process = start_daemon(tmp_path_factory.mktemp("web-daemon"))
    try:
        yield process
    finally:
        process.kill()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., tuple[Any, PageWatch]]]:
    """new_page() → (page, watch) in a fresh browser context; all closed after the test."""
    contexts: list[Any] = []

    def make(**context_options: Any) -> tuple[Any, PageWatch]:
        context = browser.new_context(**context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        return page, PageWatch(page)

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, base_url: str, key: str, role: str) -> None:
    """Open the dashboard, sign in with ``key`` and wait until the role badge shows ``role``."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/#/signin")
    page.get_by_test_id("signin-key").fill(key)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("role")).to_have_text(re.compile(role, re.IGNORECASE))


def bot_row(page: Any, bot_id: str) -> Any:
    return page.locator(f'[data-testid="bot-row"][data-bot-id="{bot_id}"]')


def add_bot(daemon: DaemonProcess, bot_id: str, seed: int, *, start: bool = False) -> None:
    """Create a sim bot through the API (admin key); ``start`` it too when asked."""
    daemon.ok("POST", "/api/bots", json=sim_bot(bot_id, seed))
    if start:
        daemon.ok("PUT", f"/api/bots/{bot_id}/start")


def session_cookie(context: Any) -> dict[str, Any]:
    """The dashboard's session cookie in a browser context (AssertionError when absent)."""
    found = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert found, f"no {SESSION_COOKIE} cookie in {[c['name'] for c in context.cookies()]}"
    return dict(found[0])


def record_requests(page: Any) -> list[str]:
    """A live list of "METHOD URL" for every HTTP request the page makes from now on."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(f"{request.method} {request.url}"))
    return seen


class Dashboard:
    """What a test needs from the shared setup, as one fixture (helpers live here, not in a
    module tests import: ``conftest`` names are ambiguous across test folders)."""

    admin_key = ADMIN_KEY
    trader_key = TRADER_KEY
    keys_env = KEYS_ENV
    sim_bot = staticmethod(sim_bot)
    sign_in = staticmethod(sign_in)
    bot_row = staticmethod(bot_row)
    add_bot = staticmethod(add_bot)
    session_cookie = staticmethod(session_cookie)
    record_requests = staticmethod(record_requests)
    start_daemon = staticmethod(start_daemon)
    cookie_name = SESSION_COOKIE


@pytest.fixture(scope="session")
def dash() -> Dashboard:
    return Dashboard()
