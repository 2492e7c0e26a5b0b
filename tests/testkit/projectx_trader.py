"""A trader on the fake ProjectX gateway with its credentials in the environment (as the
daemon's ProjectX guard and venue read them), the gateway's URLs as the venue's settings, and
waiting on a condition in async tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from testkit.fake_projectx import FakeProjectX

__all__ = ["API_KEY", "USER", "add_trader", "gateway_urls", "until"]

USER, API_KEY = "trader", "key-123"


def add_trader(venue: FakeProjectX, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget everything on ``venue``, then register the trader, whose user name and API key
    the environment holds (ALGOTRADE_PROJECTX_USERNAME / _API_KEY)."""
    venue.reset()
    venue.add_user(USER, API_KEY)
    monkeypatch.setenv("ALGOTRADE_PROJECTX_USERNAME", USER)
    monkeypatch.setenv("ALGOTRADE_PROJECTX_API_KEY", API_KEY)


def gateway_urls(venue: FakeProjectX) -> dict[str, Any]:
    """``api_url``, ``user_hub_url`` and ``market_hub_url`` of ``venue``."""
    return {
        "api_url": venue.base_url,
        "user_hub_url": f"{venue.rtc_url}/hubs/user",
        "market_hub_url": f"{venue.rtc_url}/hubs/market",
    }


async def until(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
