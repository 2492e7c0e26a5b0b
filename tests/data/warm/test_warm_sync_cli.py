"""``algotrade data sync`` (the command function ``cli.data_sync_cmd.sync``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner
from warm_factories import fill

from algotrade.cli.data_sync_cmd import sync
from algotrade.core.errors import ConfigError, InputError
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.warm import WarmStore

BTC = SeriesKey("hyperliquid", "BTC", "1m")
ETH = SeriesKey("hyperliquid", "ETH", "1m")


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("sync")(sync)
    return app


def test_importing_the_command_loads_no_database_driver() -> None:
    code = (
        "import sys, algotrade.cli.data_sync_cmd; "
        "print(sorted(m for m in ('psycopg', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.postgres
def test_sync_prints_progress_and_a_summary(
    warm_url: str, catalog: Catalog, tmp_path: Path
) -> None:
    fill(catalog, BTC, 30)
    fill(catalog, ETH, 20)
    result = CliRunner().invoke(_app(), ["--to", warm_url, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shown = warm_url.replace("postgresql+psycopg://", "postgresql://")
    assert "hyperliquid:BTC:1m: 30 copied, 30 new, 0 updated" in result.output
    assert "hyperliquid:ETH:1m: 20 copied, 20 new, 0 updated" in result.output
    assert re.search(
        rf"synced 2 series to {re.escape(shown)} \(market_bars, (a plain table|a TimescaleDB "
        r"hypertable)\): 50 bars copied, 50 new, 0 updated in [0-9.]+ s \([0-9,]+ bars/s\)",
        result.output,
    )
    again = CliRunner().invoke(
        _app(),
        ["--to", warm_url, "--data-dir", str(tmp_path), "--symbols", "ETH", "--interval", "1m"],
    )
    assert again.exit_code == 0, again.output
    assert "synced 1 series" in again.output
    assert "20 bars copied, 0 new, 0 updated" in again.output
    assert {s.rows for s in WarmStore(warm_url).series()} == {30, 20}


@pytest.mark.postgres
def test_start_and_end_bound_the_copy(warm_url: str, catalog: Catalog, tmp_path: Path) -> None:
    fill(catalog, BTC, 120)  # 2024-01-01T00:00 .. 01:59
    result = CliRunner().invoke(
        _app(),
        [
            "--to",
            warm_url,
            "--data-dir",
            str(tmp_path),
            "--start",
            "2024-01-01T00:30Z",
            "--end",
            "2024-01-01T01:00:00+00:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "30 bars copied, 30 new" in result.output


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["--to", "sqlite:///x.db"], ConfigError, r"^--to: expected a postgresql://"),
        (["--to", "postgresql://u@h/d", "--symbols", "A,,B"], InputError, r"^--symbols: "),
        (["--to", "postgresql://u@h/d", "--start", "yesterday"], InputError, r"^--start: "),
        (
            ["--to", "postgresql://u@h/d", "--start", "2024-02-01", "--end", "2024-01-01"],
            InputError,
            r"^--end: 2024-01-01 is not after --start 2024-02-01",
        ),
        (["--to", "postgresql://u@h/d", "--interval", "7x"], InputError, r"^--interval: "),
    ],
)
def test_bad_options_are_one_line_errors_naming_them(
    args: list[str], error: type[Exception], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(_app(), [*args, "--data-dir", str(tmp_path)])
    assert isinstance(result.exception, error)
    assert "\n" not in str(result.exception)
    assert re.search(message, str(result.exception))


def test_missing_catalog_names_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["--to", "postgresql://u@h/d", "--data-dir", str(tmp_path / "none")]
    )
    assert isinstance(result.exception, InputError)
    assert str(result.exception).startswith("--data-dir: no catalog at ")


def test_unreachable_server_names_to_and_the_address(tmp_path: Path) -> None:
    fill(Catalog.for_data_dir(tmp_path), BTC, 5)
    result = CliRunner().invoke(
        _app(), ["--to", "postgresql://bob:hunter2@127.0.0.1:1/market", "--data-dir", str(tmp_path)]
    )
    assert isinstance(result.exception, ConfigError)
    message = str(result.exception)
    assert message.startswith("--to: cannot connect to PostgreSQL at 127.0.0.1:1/market: ")
    assert "hunter2" not in message
