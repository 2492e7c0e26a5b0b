from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from algotrade.core.errors import ConfigError
from algotrade.strategies.catalog import builtin_summaries, describe, type_text

BREAKOUT = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "breakout.py"


def test_every_builtin_has_a_one_line_summary() -> None:
    summaries = dict(builtin_summaries())
    assert sorted(summaries) == ["grid", "ma_crossover", "quad_ma", "rsi"]
    assert summaries["ma_crossover"].startswith("Moving-average crossover: long when SMA(fast)")
    assert all(text and "\n" not in text for text in summaries.values())


def test_parameters_come_from_the_params_model() -> None:
    info = describe("grid")
    assert (info.name, info.source) == ("grid", "built-in")
    by_name = {p.name: p for p in info.parameters}
    assert list(by_name) == ["levels", "spacing_pct", "qty", "reference", "max_position", "symbol"]
    levels = by_name["levels"]
    assert (levels.type, levels.default, levels.bounds, levels.required) == (
        "int",
        5,
        (">= 1",),
        False,
    )
    assert levels.description == "limit orders per side"
    assert (by_name["spacing_pct"].type, by_name["spacing_pct"].default) == ("decimal", "0.5")
    assert by_name["reference"].type == '"first_close" | decimal'
    assert (by_name["max_position"].type, by_name["max_position"].default) == (
        "decimal | none",
        None,
    )
    assert by_name["symbol"].bounds == ("length >= 1",)
    rsi = {p.name: p for p in describe("rsi").parameters}
    assert rsi["oversold"].bounds == ("> 0", "< 100")


def test_json_has_the_schema_and_exact_defaults() -> None:
    data = describe("ma_crossover").to_json()
    assert data["schema"]["additionalProperties"] is False
    assert set(data["schema"]["properties"]) == {"fast", "slow", "qty", "long_only"}
    qty = next(p for p in data["parameters"] if p["name"] == "qty")
    assert qty == {
        "name": "qty",
        "type": "decimal",
        "required": False,
        "default": "1",
        "bounds": ["> 0"],
        "description": "position size in units",
    }


def test_a_user_file(tmp_path: Path) -> None:
    info = describe(str(BREAKOUT))
    assert (info.name, info.source) == ("breakout", str(BREAKOUT))
    assert info.summary == "Donchian breakout: an example of a user strategy file."
    assert [p.name for p in info.parameters] == ["lookback", "qty", "long_only"]
    required = tmp_path / "req.py"
    required.write_text(
        '"""Needs a level."""\n'
        "from pydantic import Field\n"
        "from algotrade.core.strategy import Strategy, StrategyParams\n\n"
        "class P(StrategyParams):\n"
        "    level: float = Field(description='the level')\n\n"
        "class Req(Strategy):\n"
        '    """Trades at a level."""\n'
        "    name = 'req'\n"
        "    Params = P\n"
    )
    [level] = describe(str(required)).parameters
    assert (level.required, level.default, level.type) == (True, None, "float")
    assert describe(str(required)).summary == "Trades at a level."


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        describe("nope")


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (int, "int"),
        (Decimal | None, "decimal | none"),
        (Literal["a", 1], '"a" | 1'),
        (list[int], "list[int]"),
    ],
)
def test_type_text(annotation: object, text: str) -> None:
    assert type_text(annotation) == text


def test_a_parameter_without_json_schema_still_shows(tmp_path: Path) -> None:
    path = tmp_path / "calls.py"
    path.write_text(
        "from collections.abc import Callable\n"
        "from algotrade.core.strategy import Strategy, StrategyParams\n\n"
        "class P(StrategyParams):\n"
        "    pick: Callable[[int], int] = abs\n\n"
        "class Calls(Strategy):\n"
        "    Params = P\n"
    )
    info = describe(str(path))
    assert [(p.name, p.type) for p in info.parameters] == [("pick", "Callable[[int], int]")]
    data = info.to_json()
    assert data["schema"] is None
    assert data["schema_error"] == "Cannot generate a JsonSchema for core_schema.CallableSchema"
