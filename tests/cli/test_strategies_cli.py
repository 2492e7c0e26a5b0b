"""``algotrade strategies list|show`` through the real entry point (``run_main``: conftest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from algotrade.strategies import builtin_strategy_names

BREAKOUT = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "breakout.py"
RunMain = Callable[..., Any]


def test_list_names_every_builtin_with_its_description(run_main: RunMain) -> None:
    table = run_main("strategies", "list").ok()
    for name in builtin_strategy_names():
        assert name in table
    row = next(line for line in table.splitlines() if " rsi " in line)
    assert "RSI mean reversion: buy oversold, sell overbought" in row
    listed = json.loads(run_main("strategies", "list", "--json").ok())
    assert [item["name"] for item in listed] == builtin_strategy_names()
    assert all(item["summary"] for item in listed)


def test_show_prints_types_defaults_bounds_and_descriptions(run_main: RunMain) -> None:
    table = run_main("strategies", "show", "rsi").ok()
    assert table.splitlines()[0].startswith("rsi (built-in): RSI mean reversion")
    row = next(line for line in table.splitlines() if " oversold " in line)
    for cell in ("float", "30.0", "> 0, < 100", "buy below this RSI"):
        assert cell in row, row
    qty = next(line for line in table.splitlines() if " qty " in line)
    assert "decimal" in qty
    assert " 1 " in qty
    data = json.loads(run_main("strategies", "show", "rsi", "--json").ok())
    assert [p["name"] for p in data["parameters"]] == [
        "period",
        "oversold",
        "exit_level",
        "overbought",
        "qty",
        "long_only",
    ]
    assert data["schema"]["properties"]["period"]["minimum"] == 1


def test_show_a_user_file(run_main: RunMain) -> None:
    table = run_main("strategies", "show", str(BREAKOUT)).ok()
    assert table.splitlines()[0] == (
        f"breakout ({BREAKOUT}): Donchian breakout: an example of a user strategy file."
    )
    assert "bars in the channel" in table


def test_show_bad_input_is_one_line_exit_2(run_main: RunMain, tmp_path: Path) -> None:
    run_main("strategies", "show", "macd").one_line_error(2, "unknown strategy 'macd'", "grid")
    missing = tmp_path / "missing.py"
    run_main("strategies", "show", str(missing)).one_line_error(2, "missing.py not found")
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    run_main("strategies", "show", str(broken)).one_line_error(2, "SyntaxError", "(line 1)")
    run_main("strategies", "show").one_line_error(2, "Missing argument 'NAME_OR_FILE'")
