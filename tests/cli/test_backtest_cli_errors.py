"""Bad input exits with code 2 and one line naming the problem — no traceback.

These run the real console script in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = [
    "2024-01-01T00:00:00Z,10,11,9,10.5,100\n",
    "2024-01-01T00:01:00Z,10.5,11,10,10.8,100\n",
]


def algotrade(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from algotrade.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
        env=env,
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (HEADER.replace(",volume", "") + "2024-01-01T00:00:00Z,10,11,9,10.5\n", ["'volume'"]),
        (HEADER + GOOD[0] + "2024-01-01T00:01:00Z,10,11,9,NaN,100\n", ["line 3", "close"]),
        (HEADER + GOOD[0] + "2024-01-01T00:01:00Z,10,11,-9,10,100\n", ["line 3", "low"]),
        (HEADER + GOOD[1] + GOOD[0], ["line 3", "timestamp"]),
        (HEADER + GOOD[0] + "2024-01-01T00:01:00Z,abc,11,9,10,100\n", ["line 3", "open"]),
    ],
    ids=["missing-column", "nan-price", "negative-price", "unsorted", "not-a-number"],
)
def test_bad_data_file(tmp_path: Path, content: str, needles: list[str]) -> None:
    data = write(tmp_path, "bad.csv", content)
    result = algotrade("backtest", "--data", str(data), "--strategy", "ma_crossover", cwd=tmp_path)
    assert_one_line_error(result, "bad.csv", *needles)


def test_unreadable_file(tmp_path: Path) -> None:
    result = algotrade("backtest", "--data", "nope.csv", "--strategy", "ma_crossover", cwd=tmp_path)
    assert_one_line_error(result, "nope.csv")


def test_a_folder_given_as_data_is_named_as_a_folder(tmp_path: Path) -> None:
    (tmp_path / "bars").mkdir()
    result = algotrade("backtest", "--data", "bars", "--strategy", "ma_crossover", cwd=tmp_path)
    assert_one_line_error(result, "bars: is a folder; give a bar file (.csv")


def test_unknown_strategy(tmp_path: Path) -> None:
    data = write(tmp_path, "ok.csv", HEADER + "".join(GOOD))
    result = algotrade("backtest", "--data", str(data), "--strategy", "moon", cwd=tmp_path)
    assert_one_line_error(result, "moon", "ma_crossover")


def test_unknown_parameter_lists_the_valid_ones(tmp_path: Path) -> None:
    data = write(tmp_path, "ok.csv", HEADER + "".join(GOOD))
    args = ["--data", str(data), "--strategy", "ma_crossover", "--param", "fsat=3"]
    result = algotrade("backtest", *args, cwd=tmp_path)
    assert_one_line_error(result, "unknown parameter 'fsat'", "valid parameters: fast, slow")


def test_wrong_parameter_type(tmp_path: Path) -> None:
    data = write(tmp_path, "ok.csv", HEADER + "".join(GOOD))
    result = algotrade(
        "backtest",
        "--data",
        str(data),
        "--strategy",
        "ma_crossover",
        "--param",
        "fast=abc",
        cwd=tmp_path,
    )
    assert_one_line_error(result, "fast", "integer")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--param", "fast"], "key=value"),
        (["--param", "bogus=1"], "bogus"),
        (["--cash", "lots"], "--cash"),
        (["--commission", "-0.1"], "--commission"),
        # Defect: at or above the paper venue's bounds these were validation tracebacks.
        (["--commission", "2"], "--commission: must be below 1"),
        (["--commission", "1"], "--commission: must be below 1"),
        (["--slippage-bps", "20000"], "--slippage-bps: must be below 10000"),
        (["--slippage-bps", "1e9"], "--slippage-bps: must be below 10000"),
        (["--param", "fast=40"], "fast"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], needle: str) -> None:
    data = write(tmp_path, "ok.csv", HEADER + "".join(GOOD))
    result = algotrade(
        "backtest", "--data", str(data), "--strategy", "ma_crossover", *args, cwd=tmp_path
    )
    assert_one_line_error(result, needle)


def test_good_run_writes_json_and_report(tmp_path: Path) -> None:
    lines = [
        f"2024-01-01T{h:02d}:{m:02d}:00Z,{100 + (i % 7)},{101 + (i % 7)},{99 + (i % 7)},"
        f"{100.5 + (i % 7)},10\n"
        for i, (h, m) in enumerate((h, m) for h in range(3) for m in range(60))
    ]
    data = write(tmp_path, "SYN-1m.csv", HEADER + "".join(lines))
    result = algotrade(
        "backtest",
        "--data",
        str(data),
        "--strategy",
        "ma_crossover",
        "--param",
        "fast=3",
        "--param",
        "slow=8",
        "--json",
        "out.json",
        "--report",
        "out.html",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Final equity" in result.stdout
    assert (tmp_path / "out.json").stat().st_size > 100
    assert "<html" in (tmp_path / "out.html").read_text()[:2000].lower()


def minute_bars(count: int) -> str:
    lines = [
        f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z,{100 + (i % 7)},{101 + (i % 7)},"
        f"{99 + (i % 7)},{100.5 + (i % 7)},10\n"
        for i in range(count)
    ]
    return HEADER + "".join(lines)


def test_outputs_go_into_missing_nested_folders(tmp_path: Path) -> None:
    """The README example on a fresh clone: ``out/`` does not exist yet."""
    data = write(tmp_path, "SYN-1m.csv", minute_bars(120))
    result = algotrade(
        "backtest",
        "--data",
        str(data),
        "--strategy",
        "ma_crossover",
        "--param",
        "fast=3",
        "--param",
        "slow=8",
        "--json",
        "out/deep/run.json",
        "--report",
        "out/other/run.html",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "deep" / "run.json").stat().st_size > 100
    assert "<html" in (tmp_path / "out" / "other" / "run.html").read_text()[:2000].lower()
    leftovers = [p.name for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # atomic writes leave no temporary behind


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--json", "."], ["--json", "is a folder"]),
        (["--report", "plain.txt/r.html"], ["--report", "plain.txt is a file"]),
        (["--json", "same.out", "--report", "same.out"], ["--report", "same file as --json"]),
    ],
    ids=["folder", "parent-is-a-file", "same-file"],
)
def test_unwritable_output_paths_are_refused_before_the_run(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    data = write(tmp_path, "ok.csv", HEADER + "".join(GOOD))
    write(tmp_path, "plain.txt", "a file\n")
    result = algotrade(
        "backtest", "--data", str(data), "--strategy", "ma_crossover", *args, cwd=tmp_path
    )
    assert_one_line_error(result, *needles)
    assert result.stdout == ""  # refused before the run: no metrics table


RAISES_IN_ON_BAR = """\
from algotrade.core.strategy import Strategy


class Crash(Strategy):
    def on_bar(self, bar):
        ratio = bar.close / 0
"""
RAISES_ON_CONSTRUCTION = """\
from algotrade.core.strategy import Strategy


class Crash(Strategy):
    def __init__(self, params=None):
        super().__init__(params)
        raise ValueError("bad init")
"""
RAISES_ON_IMPORT = """\
import math

LIMIT = math.sqrt(-1)
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            RAISES_IN_ON_BAR,
            "error: strategy my.py:6 in on_bar: ZeroDivisionError: float division by zero",
        ),
        (
            RAISES_ON_CONSTRUCTION,
            "error: strategy my.py:7 in __init__: cannot be created: ValueError: bad init",
        ),
        (
            RAISES_ON_IMPORT,
            "error: strategy file my.py failed to import: ValueError: math domain error (line 3)",
        ),
    ],
    ids=["on_bar", "construction", "import"],
)
def test_a_raising_user_strategy_is_one_line(tmp_path: Path, source: str, expected: str) -> None:
    data = write(tmp_path, "SYN-1m.csv", minute_bars(30))
    write(tmp_path, "my.py", source)
    result = algotrade("backtest", "--data", str(data), "--strategy", "my.py", cwd=tmp_path)
    assert_one_line_error(result)
    assert result.stderr.strip() == expected
    assert result.stdout == ""


@pytest.mark.parametrize("how", ["--debug", "ALGOTRADE_DEBUG=1"])
def test_debug_shows_the_strategy_traceback(tmp_path: Path, how: str) -> None:
    data = write(tmp_path, "SYN-1m.csv", minute_bars(30))
    write(tmp_path, "my.py", RAISES_IN_ON_BAR)
    args = ["backtest", "--data", str(data), "--strategy", "my.py"]
    env = None
    if how == "--debug":
        args.append("--debug")
    else:
        env = {**os.environ, "ALGOTRADE_DEBUG": "1"}
    result = algotrade(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert 'my.py", line 6, in on_bar' in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == "error: strategy my.py:6 in on_bar: ZeroDivisionError: float division by zero"


def test_missing_required_option_is_one_line(tmp_path: Path) -> None:
    result = algotrade("backtest", "--data", "x.csv", cwd=tmp_path)
    assert_one_line_error(result, "--strategy")


def test_help_and_version_exit_zero(tmp_path: Path) -> None:
    assert algotrade("--help", cwd=tmp_path).returncode == 0
    version = algotrade("version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.strip()
