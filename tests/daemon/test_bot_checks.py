"""check_bot_config: strategy parameters have the JSON types the strategy's schema publishes."""

from __future__ import annotations

from typing import Any

import pytest

from algotrade.daemon.bot_checks import check_bot_config
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.service_api import InvalidBotConfig


def checked(params: dict[str, Any]) -> None:
    config = BotConfig(bot_id="b", symbol="SIM", strategy="ma_crossover", params=params)
    check_bot_config(config, None)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"fast": True}, "parameter 'fast': input should be a valid integer (got True)"),
        ({"fast": "3"}, "parameter 'fast': input should be a valid integer (got '3')"),
        ({"fast": 3.0}, "parameter 'fast': input should be a valid integer (got 3.0)"),
        ({"long_only": 1}, "parameter 'long_only': input should be a valid boolean (got 1)"),
    ],
)
def test_a_parameter_of_another_json_type_is_refused(params: dict[str, Any], expected: str) -> None:
    # Lax pydantic (what --param k=v text needs) read true as the period 1.
    with pytest.raises(InvalidBotConfig) as caught:
        checked(params)
    assert str(caught.value) == f"strategy ma_crossover: {expected}"


def test_parameters_of_their_json_type_pass() -> None:
    checked({"fast": 3, "slow": 8, "qty": "0.5", "long_only": True})
    checked({"qty": 2.5})  # a decimal takes a number or its text
    with pytest.raises(InvalidBotConfig, match="unknown parameter 'speed'; valid parameters"):
        checked({"speed": 1})
