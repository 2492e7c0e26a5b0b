from __future__ import annotations

import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from algotrade.core.errors import ConfigError
from algotrade.core.strategy import Strategy
from algotrade.strategies import (
    builtin_strategies,
    builtin_strategy_names,
    create_strategy,
    get_strategy_class,
)
from algotrade.strategies.grid import Grid
from algotrade.strategies.ma_crossover import MACrossover
from algotrade.strategies.quad_ma import QuadMA
from algotrade.strategies.rsi import RSIReversion

REPO_ROOT = Path(__file__).resolve().parents[2]
BREAKOUT = REPO_ROOT / "examples" / "strategies" / "breakout.py"

MINIMAL = """\
from algotrade.core.strategy import Strategy


class Mine(Strategy):
    name = "mine"
"""


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_builtins_by_name() -> None:
    expected = {"grid": Grid, "ma_crossover": MACrossover, "quad_ma": QuadMA, "rsi": RSIReversion}
    assert builtin_strategies() == expected
    assert builtin_strategy_names() == sorted(expected)
    for name, cls in expected.items():
        assert get_strategy_class(name) is cls
        assert cls.name == name


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        get_strategy_class("macd_cross")
    message = str(info.value)
    assert message == (
        "unknown strategy 'macd_cross'; built-in strategies are grid, ma_crossover, quad_ma, "
        "rsi, or give the path of a .py file"
    )


def test_create_strategy_coerces_cli_strings() -> None:
    strategy = create_strategy("ma_crossover", {"fast": "10", "slow": "20", "long_only": "true"})
    assert isinstance(strategy, MACrossover)
    assert (strategy.params.fast, strategy.params.slow, strategy.params.long_only) == (10, 20, True)
    grid = create_strategy("grid", {"spacing_pct": "0.5", "qty": "0.25"})
    assert grid.params.spacing_pct == Decimal("0.5")
    assert grid.params.qty == Decimal("0.25")
    rsi = create_strategy("rsi", {"oversold": "25.5", "long_only": "false"})
    assert rsi.params.oversold == 25.5
    assert rsi.params.long_only is False


def test_create_strategy_without_params_uses_defaults() -> None:
    assert create_strategy("quad_ma", {}).params == QuadMA.Params()
    assert create_strategy("quad_ma").params == QuadMA.Params()


def test_wrong_type_names_the_parameter() -> None:
    with pytest.raises(ConfigError) as info:
        create_strategy("ma_crossover", {"fast": "abc"})
    assert str(info.value) == (
        "strategy ma_crossover: parameter 'fast': input should be a valid integer, "
        "unable to parse string as an integer (got 'abc')"
    )


def test_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        create_strategy("rsi", {"fast": "3"})
    assert str(info.value) == (
        "strategy rsi: unknown parameter 'fast'; valid parameters: period, oversold, "
        "exit_level, overbought, qty, long_only"
    )
    with pytest.raises(ConfigError) as several:
        create_strategy(str(BREAKOUT), {"lookbak": "3", "qty": "1", "short": "no"})
    assert str(several.value) == (
        "strategy breakout: unknown parameters 'lookbak', 'short'; "
        "valid parameters: lookback, qty, long_only"
    )


def test_unknown_parameter_of_a_strategy_without_parameters(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter 'x'; it takes no parameters$"):
        create_strategy(str(write(tmp_path, "mine.py", MINIMAL)), {"x": "1"})


def test_loads_the_example_file_by_path() -> None:
    cls = get_strategy_class(str(BREAKOUT))
    assert cls.__name__ == "Breakout"
    assert cls.name == "breakout"
    strategy = create_strategy(str(BREAKOUT), {"lookback": "5", "long_only": "yes"})
    assert (strategy.params.lookback, strategy.params.long_only) == (5, True)


def test_loads_a_minimal_file(tmp_path: Path) -> None:
    cls = get_strategy_class(str(write(tmp_path, "mine.py", MINIMAL)))
    assert issubclass(cls, Strategy)
    assert cls.name == "mine"


def test_files_with_the_same_stem_are_separate_modules(tmp_path: Path) -> None:
    first = tmp_path / "a" / "same.py"
    second = tmp_path / "b" / "same.py"
    for path, name in ((first, "one"), (second, "two")):
        path.parent.mkdir()
        path.write_text(MINIMAL.replace('"mine"', f'"{name}"'))
    one, two = get_strategy_class(str(first)), get_strategy_class(str(second))
    assert (one.name, two.name) == ("one", "two")
    assert one.__module__ != two.__module__
    assert one.__module__ in sys.modules  # pydantic and dataclasses resolve names through it


def test_imported_strategies_do_not_count(tmp_path: Path) -> None:
    source = "from algotrade.strategies.ma_crossover import MACrossover\n\n" + MINIMAL
    cls = get_strategy_class(str(write(tmp_path, "mine.py", source)))
    assert cls.name == "mine"


def test_several_strategies_pick_the_one_named_like_the_file(tmp_path: Path) -> None:
    source = MINIMAL + '\n\nclass Other(Strategy):\n    name = "other"\n'
    assert get_strategy_class(str(write(tmp_path, "mine.py", source))).__name__ == "Mine"
    path = write(tmp_path, "both.py", source)
    with pytest.raises(ConfigError) as info:
        get_strategy_class(str(path))
    assert str(info.value) == (
        f"strategy file {path} defines several strategies (Mine, Other); "
        "set name = 'both' on the one to run"
    )


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.py"
    with pytest.raises(ConfigError, match=r"^strategy file .*missing\.py not found$"):
        get_strategy_class(str(path))


def test_file_without_strategy(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.py", "from algotrade.core.strategy import Strategy\nX = 1\n")
    with pytest.raises(ConfigError) as info:
        get_strategy_class(str(path))
    assert str(info.value) == f"strategy file {path} defines no subclass of Strategy"


def test_syntax_error_gives_type_message_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "my.py", "import math\n\ndef broken(:\n    pass\n")
    with pytest.raises(ConfigError) as info:
        get_strategy_class(str(path))
    message = str(info.value)
    assert message.startswith(f"strategy file {path} failed to import: SyntaxError: ")
    assert message.endswith("(line 3)")
    assert "\n" not in message


def test_exception_on_import_gives_the_users_line(tmp_path: Path) -> None:
    source = """\
    from algotrade.core.strategy import Strategy

    def helper():
        raise RuntimeError("no API key\\nset one")

    helper()
    """
    path = write(tmp_path, "boom.py", source)
    with pytest.raises(ConfigError) as info:
        get_strategy_class(str(path))
    assert str(info.value) == (
        f"strategy file {path} failed to import: RuntimeError: no API key set one (line 4)"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_missing_import_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "deps.py", "import definitely_not_a_module_xyz\n")
    with pytest.raises(
        ConfigError,
        match=r"failed to import: ModuleNotFoundError: "
        r"No module named 'definitely_not_a_module_xyz' \(line 1\)$",
    ):
        get_strategy_class(str(path))


def test_bad_params_of_a_file_strategy(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^strategy breakout: parameter 'lookback': "):
        create_strategy(str(BREAKOUT), {"lookback": "0"})


def _user_modules() -> set[str]:
    return {name for name in sys.modules if name.startswith("algotrade_user_strategy_")}


def test_loading_the_same_file_again_adds_no_module(tmp_path: Path) -> None:
    # Every bot validated or started from a file loaded it again: one sys.modules entry each.
    path = write(tmp_path, "mine.py", MINIMAL)
    before = _user_modules()
    first = get_strategy_class(str(path))
    after_first = _user_modules()
    assert len(after_first) == len(before) + 1
    for _ in range(5):
        create_strategy(str(path))
        assert get_strategy_class(str(path)) is first
    assert _user_modules() == after_first


def test_a_changed_file_is_executed_again_in_its_own_module(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.py", MINIMAL)
    old = get_strategy_class(str(path))
    modules = _user_modules()
    path.write_text(MINIMAL.replace('"mine"', '"changed"'))
    new = get_strategy_class(str(path))
    assert (old.name, new.name) == ("mine", "changed")
    assert _user_modules() == modules  # replaced, not added
    assert sys.modules[new.__module__].Mine is new


def test_a_changed_file_that_breaks_keeps_the_working_module(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.py", MINIMAL)
    working = get_strategy_class(str(path))
    modules = _user_modules()
    path.write_text(MINIMAL + "raise RuntimeError('half-saved')\n")
    with pytest.raises(ConfigError, match="RuntimeError: half-saved"):
        get_strategy_class(str(path))
    assert _user_modules() == modules
    assert sys.modules[working.__module__].Mine is working  # bots running it still resolve it
    path.write_text(MINIMAL)
    assert get_strategy_class(str(path)) is working  # the same content again: the same class


def test_a_file_that_fails_leaves_no_module(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.py", "X = 1\n")
    before = _user_modules()
    for _ in range(3):
        with pytest.raises(ConfigError, match="defines no subclass of Strategy"):
            get_strategy_class(str(path))
    assert _user_modules() == before


def test_params_must_be_a_parameter_model(tmp_path: Path) -> None:
    source = MINIMAL + "    Params = dict\n"
    path = write(tmp_path, "mine.py", source)
    with pytest.raises(ConfigError) as info:
        get_strategy_class(str(path))
    assert str(info.value) == (
        f"strategy file {path}: Mine.Params must be a subclass of StrategyParams, "
        "got <class 'dict'>"
    )
