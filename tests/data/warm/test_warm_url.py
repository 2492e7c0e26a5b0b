"""The warm tier's URL: only PostgreSQL, errors naming the option, passwords never shown."""

from __future__ import annotations

import pytest

from algotrade.core.errors import ConfigError
from algotrade.data.warm import WarmStore
from algotrade.data.warm.url import parse_url, redact


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:pw@db.example:6543/market",
        "postgres://bob:pw@db.example:6543/market",
        "postgresql+psycopg://bob:pw@db.example:6543/market",
        "POSTGRESQL://bob:pw@db.example:6543/market",
    ],
)
def test_postgresql_spellings_become_a_libpq_uri(url: str) -> None:
    parsed = parse_url(url)
    assert parsed.conninfo == "postgresql://bob:pw@db.example:6543/market"
    assert parsed.shown == "postgresql://bob:***@db.example:6543/market"
    assert parsed.address == "db.example:6543/market"


def test_default_port_in_the_address() -> None:
    assert parse_url("postgresql://u@h/d").address == "h:5432/d"


@pytest.mark.parametrize(
    "url", ["sqlite:///data/algotrade.db", "mysql://u:hunter2@h/d", "h:5432/db", ""]
)
def test_anything_but_postgresql_is_a_one_line_error_naming_to(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WarmStore(url)
    message = str(caught.value)
    assert message.startswith("--to: expected a postgresql://")
    assert "\n" not in message
    assert "hunter2" not in message


def test_the_option_named_is_the_callers() -> None:
    with pytest.raises(ConfigError, match=r"^--source: "):
        WarmStore("sqlite://", option="--source")


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://u:s3cr%40t@h:1/d") == "postgresql://u:***@h:1/d"
    assert redact("postgresql://u@h:1/d") == "postgresql://u@h:1/d"


def test_unreachable_server_is_one_line_naming_to_and_the_address() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    store = WarmStore("postgresql://postgres:hunter2@127.0.0.1:1/market")
    with pytest.raises(ConfigError) as caught:
        store.ensure_schema()
    message = str(caught.value)
    assert message.startswith("--to: cannot connect to PostgreSQL at 127.0.0.1:1/market: ")
    assert "\n" not in message
    assert "hunter2" not in message
