"""ProjectX in the venue registry: its settings section, bot validation, lazy imports, the
account pick, credentials, the guard hook, and the same factory registered for a second
account under another name."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from projectx_bot_kit import KEY, USER, Owner
from pydantic import BaseModel

from algotrade.core.errors import ConfigError
from algotrade.venues.projectx.config import ENV_API_KEY, ENV_USERNAME
from algotrade.venues.projectx.connection import pick_account
from algotrade.venues.projectx.factory import (
    HISTORY_INTERVALS,
    ProjectXVenueConfig,
    bar_unit_of,
)
from algotrade.venues.projectx.schemas import Account
from algotrade.venues.registry import get_venue, register_venue, unregister_venue
from testkit.fake_projectx import FakeProjectX


def spec(**changes: Any) -> Any:
    values = {
        "bot_id": "b",
        "symbol": "EPZ25",
        "interval": "1m",
        "feed": "projectx",
        "venue": "projectx",
        "feed_options": {},
        "leverage": Decimal(10),
        "account_id": "paper",
        **changes,
    }
    return SimpleNamespace(**values)


@pytest.fixture
def venue() -> Iterator[FakeProjectX]:
    with FakeProjectX() as fake:
        fake.add_user(USER, KEY)
        yield fake


def test_section_and_bot_validation_name_the_field() -> None:
    factory = get_venue("projectx")
    assert factory.config_model() is ProjectXVenueConfig
    config = factory.parse_config({"account": "50K-1", "bar_delay_s": 0.5})
    assert isinstance(config, ProjectXVenueConfig)
    assert (config.account, config.api_url) == ("50K-1", "https://api.topstepx.com")
    with pytest.raises(ConfigError, match=r"^venues\.projectx\.bar_retries: Input should be"):
        factory.parse_config({"bar_retries": -1})
    with pytest.raises(ConfigError, match=r"^venues\.projectx\.apikey: Extra inputs"):
        factory.parse_config({"apikey": "secret"})  # credentials never go there
    factory.validate_feed(spec(interval="30s"))
    factory.validate_execution(spec(leverage=Decimal(25)))
    with pytest.raises(ValueError, match=r"^interval: ProjectX bars are a whole number"):
        factory.validate_feed(spec(interval="8d"))
    with pytest.raises(ValueError, match=r"^feed_options"):
        factory.validate_feed(spec(feed_options={"depth": 5}))
    assert bar_unit_of("5m") == (2, 5, 300)
    assert bar_unit_of("2h") == (3, 2, 7200)
    assert HISTORY_INTERVALS["1h"] == 3_600_000


def test_naming_the_venue_loads_no_network_code() -> None:
    code = (
        "import sys\n"
        "from algotrade.venues.registry import get_venue\n"
        "get_venue('projectx').validate_feed\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pysignalr', "
        "'algotrade.venues.projectx.connection', 'algotrade.venues.projectx.hub'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_account_pick() -> None:
    a = Account(1001, "50K-1", Decimal(50_000), True, True)
    b = Account(1002, "150K-2", Decimal(150_000), True, True)
    assert pick_account([a], None, "u") is a
    assert pick_account([a, b], None, "u") is None  # ambiguous: feeds only
    assert pick_account([a, b], "1002", "u") is b
    assert pick_account([a, b], "50K-1", "u") is a
    with pytest.raises(
        ConfigError,
        match=r"^venues\.projectx\.account: no active account 'X' for u \(active: 50K-1 \(id "
        r"1001\), 150K-2 \(id 1002\)\)",
    ):
        pick_account([a, b], "X", "u")


async def test_connect_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_USERNAME, raising=False)
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    factory = get_venue("projectx")
    with pytest.raises(ConfigError, match="needs credentials"):
        await factory.connect(factory.parse_config({}), Owner())


async def test_watch_account_is_the_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrade.venues.projectx import guard

    seen: list[tuple[Any, str, Any]] = []

    async def fake_watch(config: BaseModel, account: str, sink: Any) -> Any:
        seen.append((config, account, sink))
        return "watched"

    monkeypatch.setattr(guard, "watch_account", fake_watch)
    factory = get_venue("projectx")
    config = factory.parse_config({})
    sink = object()
    assert await factory.watch_account(config, "50K-1", sink) == "watched"  # type: ignore[arg-type,comparison-overlap]
    assert seen == [(config, "50K-1", sink)]


async def test_a_second_account_under_another_name(
    venue: FakeProjectX, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = venue.add_account(USER, "50K-1")
    second = venue.add_account(USER, "50K-2")
    monkeypatch.setenv(ENV_USERNAME, USER)
    monkeypatch.setenv(ENV_API_KEY, KEY)
    register_venue("projectx_b", "algotrade.venues.projectx.factory:ProjectXFactory")
    try:
        factory = get_venue("projectx_b")
        config = factory.parse_config(
            {
                "account": "50K-2",
                "api_url": venue.base_url,
                "user_hub_url": f"{venue.rtc_url}/hubs/user",
                "market_hub_url": f"{venue.rtc_url}/hubs/market",
            }
        )
        connection = await factory.connect(config, Owner())
        try:
            state = connection.snapshot()
            assert (state["venue"], state["account"], state["account_id"]) == (
                "projectx_b",
                "50K-2",
                second,
            )
            assert state["connected"] is True
            assert second != first
            bot = spec(venue="projectx_b")
            assert (await connection.execution_venue(bot, lambda exc: None)).name == "projectx_b"
            (instrument,) = connection.instruments("EPZ25")
            assert instrument.multiplier == Decimal(50)
        finally:
            await connection.stop()
    finally:
        unregister_venue("projectx_b")
