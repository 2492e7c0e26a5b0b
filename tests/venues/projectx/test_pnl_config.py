"""Tick-based PnL, credentials from env/*_FILE, and user-hub payload shapes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.errors import ConfigError
from algotrade.venues.projectx.config import ProjectXConfig, load_credentials
from algotrade.venues.projectx.errors import ProjectXPayloadError
from algotrade.venues.projectx.payloads import parse_order
from algotrade.venues.projectx.pnl import (
    TickSpec,
    points_to_ticks,
    round_trip_pnl,
    unrealized_pnl,
)
from algotrade.venues.projectx.realtime import _records, _user_handler
from algotrade.venues.projectx.schemas import OrderSide, PositionType

ES = TickSpec(Decimal("0.25"), Decimal("12.50"))
MNQ = TickSpec(Decimal("0.25"), Decimal("0.50"))


def test_points_to_ticks_to_money() -> None:
    assert ES.multiplier == Decimal(50)
    assert MNQ.multiplier == Decimal(2)
    assert points_to_ticks(Decimal("1.25"), ES) == 5
    assert round_trip_pnl(OrderSide.BID, Decimal(6000), Decimal("6001.25"), 2, ES) == Decimal(125)
    assert round_trip_pnl(OrderSide.ASK, Decimal(6000), Decimal("6001.25"), 1, ES) == Decimal(
        "-62.5"
    )
    assert round_trip_pnl(PositionType.LONG, Decimal(21000), Decimal("20999.75"), 3, MNQ) == (
        Decimal("-1.5")
    )
    assert unrealized_pnl(PositionType.SHORT, Decimal(6000), Decimal("5999.5"), 1, ES) == 25
    with pytest.raises(ProjectXPayloadError, match="whole number of ticks"):
        points_to_ticks(Decimal("0.1"), ES)
    with pytest.raises(ValueError, match="positive"):
        TickSpec(Decimal(0), Decimal(1))


def test_credentials_from_env_and_files(tmp_path: Path) -> None:
    assert load_credentials({}) is None
    creds = load_credentials(
        {"ALGOTRADE_PROJECTX_USERNAME": "u", "ALGOTRADE_PROJECTX_API_KEY": "k"}
    )
    assert creds is not None
    assert "k" not in repr(creds)
    assert "k" not in str(creds).replace("ProjectXCredentials", "")
    key = tmp_path / "key"
    key.write_text("file-key\n")
    key.chmod(0o600)
    creds = load_credentials(
        {"ALGOTRADE_PROJECTX_USERNAME": "u", "ALGOTRADE_PROJECTX_API_KEY_FILE": str(key)}
    )
    assert creds is not None
    assert creds.api_key == "file-key"
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_credentials(
            {"ALGOTRADE_PROJECTX_USERNAME": "u", "ALGOTRADE_PROJECTX_API_KEY_FILE": str(key)}
        )
    with pytest.raises(ConfigError, match="ALGOTRADE_PROJECTX_API_KEY"):
        load_credentials({"ALGOTRADE_PROJECTX_USERNAME": "u"})
    with pytest.raises(ValueError, match="api_url"):
        ProjectXConfig(api_url="ftp://x")


ORDER = {
    "id": 1, "accountId": 2, "contractId": "C", "creationTimestamp": "2025-04-14T17:49:10Z",
    "updateTimestamp": None, "status": 1, "type": 1, "side": 0, "size": 1, "limitPrice": 10.5,
    "stopPrice": None,
}  # fmt: skip


async def test_user_hub_payloads_bare_wrapped_listed_and_bad() -> None:
    assert _records(ORDER) == [ORDER]
    assert _records({"action": 1, "data": ORDER}) == [ORDER]
    assert _records([ORDER, ORDER]) == [ORDER, ORDER]
    got: list[Any] = []
    handler = _user_handler("GatewayUserOrder", parse_order, got.append)
    await handler([{"action": 1, "data": ORDER}])
    await handler([{**ORDER, "status": 99}])  # unknown status: logged and dropped
    await handler([])
    assert [o.limit_price for o in got] == [Decimal("10.5")]
