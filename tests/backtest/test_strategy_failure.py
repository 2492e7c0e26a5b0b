"""A strategy that raises is reported as one line pointing into the strategy's own file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from algotrade.backtest.runner import run_backtest
from algotrade.backtest.strategy_failure import StrategyFailedError, create_checked
from algotrade.core.errors import ConfigError, InputError
from algotrade.core.events import Bar
from algotrade.core.strategy import Strategy
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.registry import load_strategy_file

HERE = Path(__file__).name


class FailsOnTenthBar(Strategy):
    name = "fails_on_tenth_bar"

    def on_start(self) -> None:
        self.seen = 0

    def on_bar(self, bar: Bar) -> None:
        self.seen += 1
        if self.seen == 10:
            self._divide(bar)

    def _divide(self, bar: Bar) -> None:
        print(bar.close / 0)


class FailsOnStop(Strategy):
    name = "fails_on_stop"

    def on_stop(self) -> None:
        raise KeyError("missing")


def line_of(text: str) -> int:
    source = Path(__file__).read_text().splitlines()
    return next(number for number, line in enumerate(source, start=1) if text in line)


def test_a_failing_callback_names_file_line_and_function() -> None:
    with pytest.raises(StrategyFailedError) as caught:
        run_backtest(generate_bars(50, seed=1), FailsOnTenthBar())
    line = line_of("bar.close / 0")
    expected = (
        rf"strategy (\S*/)?{HERE}:{line} in _divide: ZeroDivisionError: float division by zero"
    )
    assert re.fullmatch(expected, str(caught.value)), str(caught.value)
    assert isinstance(caught.value, InputError)  # exit code 2, like a bad strategy file
    assert isinstance(caught.value.__cause__, ZeroDivisionError)  # kept for --debug


def test_a_failing_on_stop_is_reported_too() -> None:
    with pytest.raises(StrategyFailedError, match=r"in on_stop: KeyError: 'missing'"):
        run_backtest(generate_bars(5, seed=1), FailsOnStop())


def test_a_failure_outside_the_strategy_keeps_its_own_exception() -> None:
    def progress(done: int, total: int) -> None:
        raise RuntimeError("progress display broke")

    with pytest.raises(RuntimeError, match="progress display broke"):
        run_backtest(generate_bars(5, seed=1), Strategy(), progress=progress)


def test_a_user_file_failing_in_on_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my.py").write_text(
        "from algotrade.core.strategy import Strategy\n"
        "\n"
        "\n"
        "class Mine(Strategy):\n"
        "    def on_bar(self, bar):\n"
        "        return {}['price']\n"
    )
    cls = load_strategy_file(Path("my.py"))
    with pytest.raises(StrategyFailedError) as caught:
        run_backtest(generate_bars(5, seed=1), cls())
    assert str(caught.value) == "strategy my.py:6 in on_bar: KeyError: 'price'"


def test_a_constructor_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ctor.py").write_text(
        "from algotrade.core.strategy import Strategy\n"
        "\n"
        "class Ctor(Strategy):\n"
        "    def __init__(self, params=None):\n"
        "        super().__init__(params)\n"
        "        self.table = [1, 2][5]\n"
    )
    cls = load_strategy_file(tmp_path / "ctor.py")
    with pytest.raises(StrategyFailedError) as caught:
        create_checked(cls, {})
    assert str(caught.value) == (
        "strategy ctor.py:6 in __init__: cannot be created: IndexError: list index out of range"
    )


def test_a_constructor_with_a_wrong_signature_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sig.py").write_text(
        "from algotrade.core.strategy import Strategy\n"
        "\n"
        "class Sig(Strategy):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
    )
    cls = load_strategy_file(tmp_path / "sig.py")
    with pytest.raises(StrategyFailedError, match=r"^strategy sig\.py: cannot be created: Type"):
        create_checked(cls, {})


def test_parameter_errors_pass_unchanged() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'bogus'") as caught:
        create_checked(FailsOnStop, {"bogus": "1"})
    assert not isinstance(caught.value, StrategyFailedError)


def test_a_long_message_is_cut_to_one_short_line() -> None:
    class Loud(Strategy):
        def on_start(self) -> None:
            raise ValueError("x\n" * 5_000)

    with pytest.raises(StrategyFailedError) as caught:
        run_backtest(generate_bars(5, seed=1), Loud())
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 400
