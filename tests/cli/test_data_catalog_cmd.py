"""``algotrade data list|show|gaps|import|resample|export`` on a catalog in a temp dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from algotrade.cli.data_cmd import DataGroup
from algotrade.cli.main import load_command
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.loader import load_bars
from cli.conftest import RunMain

MINUTE = 60_000_000_000
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000_000


def minute_file(path: Path, indexes: list[int], symbol: str = "BTC") -> Path:
    price = [100.0 + (i % 7) for i in indexes]
    pl.DataFrame(
        {
            "symbol": [symbol] * len(indexes),
            "timestamp": [datetime.fromtimestamp((T0 + i * MINUTE) / 1e9, UTC) for i in indexes],
            "open": price,
            "high": [p + 2 for p in price],
            "low": [p - 2 for p in price],
            "close": [p + 1 for p in price],
            "volume": [1.0 + i for i in indexes],
        }
    ).write_parquet(path)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_import_twice_stores_each_bar_once(
    run_main: RunMain, tmp_path: Path, data_dir: Path
) -> None:
    source = minute_file(tmp_path / "btc.parquet", list(range(120)))
    args = ("data", "import", str(source), "--venue", "files", "--interval", "1m")
    first = run_main(*args, "--data-dir", str(data_dir)).ok()
    assert "120 bars added" in first
    again = run_main(*args, "--data-dir", str(data_dir)).ok()
    assert "0 bars added, 120 already stored" in again
    stored = Catalog.for_data_dir(data_dir).load("files", ["BTC"], "1m")
    assert stored.frame.drop("symbol").equals(load_bars([str(source)]).frame.drop("symbol"))


def test_import_refuses_bars_not_spaced_by_the_interval_and_stores_nothing(
    run_main: RunMain, tmp_path: Path, data_dir: Path
) -> None:
    good = minute_file(tmp_path / "eth.parquet", list(range(60)), symbol="ETH")
    daily = minute_file(tmp_path / "btc.parquet", [i * 1440 for i in range(30)])
    args = ("data", "import", str(good), str(daily), "--venue", "files", "--interval", "1m")
    run_main(*args, "--data-dir", str(data_dir)).one_line_error(
        2, str(daily), "no two bars are closer than 1d", "interval given is 1m"
    )
    assert Catalog.for_data_dir(data_dir).series() == []  # not even the good file's ETH
    closer = minute_file(tmp_path / "sol.parquet", [0, 2, 4, 5, 6, 8, 10], symbol="SOL")
    run_main(
        "data", "import", str(closer), "--venue", "files", "--interval", "2m",
        "--data-dir", str(data_dir),
    ).one_line_error(2, str(closer), "only 1m after the one before", "2m")  # fmt: skip
    assert Catalog.for_data_dir(data_dir).series() == []


def test_import_checks_every_series_before_storing_any(
    run_main: RunMain, tmp_path: Path, data_dir: Path
) -> None:
    good = minute_file(tmp_path / "eth.parquet", list(range(60)), symbol="ETH")
    shifted = minute_file(tmp_path / "btc.parquet", list(range(60)))
    frame = pl.read_parquet(shifted)
    frame.with_columns(pl.col("timestamp") + pl.duration(seconds=30)).write_parquet(shifted)
    args = ("data", "import", str(good), str(shifted), "--venue", "files", "--interval", "1m")
    run_main(*args, "--data-dir", str(data_dir)).one_line_error(
        2, "files:BTC:1m", "not a multiple of the interval 1m"
    )
    assert Catalog.for_data_dir(data_dir).series() == []  # ETH was fine, and is not stored


def test_import_accepts_gaps_and_a_single_bar(
    run_main: RunMain, tmp_path: Path, data_dir: Path
) -> None:
    weekdays = [day * 1440 for day in range(21) if day % 7 < 5]  # weekends missing
    daily = minute_file(tmp_path / "btc.parquet", weekdays)
    one = minute_file(tmp_path / "eth.parquet", [0], symbol="ETH")
    args = ("data", "import", str(daily), str(one), "--venue", "files", "--interval", "1d")
    out = run_main(*args, "--data-dir", str(data_dir)).ok()
    assert "files:BTC:1d: 15 bars added" in out
    assert "files:ETH:1d: 1 bars added" in out


def test_list_and_gaps_show_coverage(run_main: RunMain, tmp_path: Path, data_dir: Path) -> None:
    source = minute_file(tmp_path / "btc.parquet", [*range(30), *range(40, 60)])
    run_main(
        "data",
        "import",
        str(source),
        "--venue",
        "files",
        "--interval",
        "1m",
        "--data-dir",
        str(data_dir),
    ).ok()
    listed = json.loads(run_main("data", "list", "--json", "--data-dir", str(data_dir)).ok())
    assert listed == [
        {
            "venue": "files",
            "symbol": "BTC",
            "interval": "1m",
            "first": "2024-03-01T00:00:00Z",
            "last": "2024-03-01T00:59:00Z",
            "rows": 50,
            "gaps": 1,
            "missing_bars": 10,
            "files": 1,
        }
    ]
    table = run_main("data", "list", "--data-dir", str(data_dir)).ok()
    assert "files:BTC:1m" in table
    assert "1 (10)" in table
    gaps = json.loads(run_main("data", "gaps", "--json", "--data-dir", str(data_dir)).ok())
    assert gaps == [
        {
            "series": "files:BTC:1m",
            "start": "2024-03-01T00:30:00Z",
            "end": "2024-03-01T00:40:00Z",
            "bars": 10,
        }
    ]
    shown = json.loads(
        run_main(
            "data",
            "show",
            "--venue",
            "files",
            "--symbol",
            "BTC",
            "--interval",
            "1m",
            "--json",
            "--data-dir",
            str(data_dir),
        ).ok()
    )
    assert shown["rows"] == 50
    assert shown["bytes"] > 0
    assert (
        run_main("data", "list", "--data-dir", str(tmp_path / "empty"))
        .ok()
        .startswith("the catalog")
    )


def test_resample_keeps_only_complete_bars_unless_asked(
    run_main: RunMain, tmp_path: Path, data_dir: Path
) -> None:
    source = minute_file(tmp_path / "btc.parquet", [*range(120), *range(130, 180)])
    run_main(
        "data",
        "import",
        str(source),
        "--venue",
        "files",
        "--interval",
        "1m",
        "--data-dir",
        str(data_dir),
    ).ok()
    out = run_main(
        "data",
        "resample",
        "--venue",
        "files",
        "--from",
        "1m",
        "--to",
        "1h",
        "--data-dir",
        str(data_dir),
    ).ok()
    assert "2 bars added, 1 incomplete left out" in out
    catalog = Catalog.for_data_dir(data_dir)
    hourly = catalog.scan("files", ["BTC"], "1h").collect()
    minutes = catalog.scan("files", ["BTC"], "1m").collect()
    for hour in range(2):
        part = minutes.filter(
            (pl.col("ts") >= T0 + hour * 60 * MINUTE)
            & (pl.col("ts") < T0 + (hour + 1) * 60 * MINUTE)
        )
        row = hourly.row(hour, named=True)
        assert row["ts"] == T0 + hour * 60 * MINUTE
        assert row["open"] == part["open"][0]
        assert row["close"] == part["close"][-1]
        assert row["high"] == part["high"].max()
        assert row["low"] == part["low"].min()
        assert row["volume"] == part["volume"].sum()
    run_main(
        "data",
        "resample",
        "--venue",
        "files",
        "--from",
        "1m",
        "--to",
        "1h",
        "--partial",
        "--data-dir",
        str(data_dir),
    ).ok()
    assert catalog.scan("files", ["BTC"], "1h").collect().height == 3
    bad = run_main(
        "data",
        "resample",
        "--venue",
        "files",
        "--from",
        "1m",
        "--to",
        "90s",
        "--data-dir",
        str(data_dir),
    )
    bad.one_line_error(2, "--to", "90s")


def test_export_writes_a_file_backtest_reads(
    run_main: RunMain, tmp_path: Path, data_dir: Path
) -> None:
    catalog = Catalog.for_data_dir(data_dir)
    source = minute_file(tmp_path / "btc.parquet", list(range(100)))
    catalog.append(SeriesKey("files", "BTC", "1m"), load_bars([str(source)]).frame)
    out = tmp_path / "out.csv"
    run_main(
        "data",
        "export",
        "--venue",
        "files",
        "--symbols",
        "BTC",
        "--interval",
        "1m",
        "--start",
        "2024-03-01T00:10:00Z",
        "--end",
        "2024-03-01T00:20:00Z",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
    ).ok()
    exported = load_bars([f"BTC={out}"])
    assert exported.frame["ts"].to_list() == [T0 + i * MINUTE for i in range(10, 20)]


def test_errors_are_one_line(run_main: RunMain, tmp_path: Path, data_dir: Path) -> None:
    run_main(
        "data",
        "show",
        "--venue",
        "files",
        "--symbol",
        "NOPE",
        "--interval",
        "1m",
        "--data-dir",
        str(data_dir),
    ).one_line_error(2, "--symbol", "NOPE")
    run_main(
        "data",
        "export",
        "--venue",
        "files",
        "--symbols",
        "all",
        "--interval",
        "1m",
        "--out",
        str(tmp_path / "x.csv"),
        "--data-dir",
        str(data_dir),
    ).one_line_error(2, "--symbols")
    run_main(
        "data",
        "export",
        "--venue",
        "files",
        "--symbols",
        "BTC",
        "--interval",
        "1m",
        "--start",
        "yesterday",
        "--out",
        str(tmp_path / "x.csv"),
        "--data-dir",
        str(data_dir),
    ).one_line_error(2, "--start")
    source = minute_file(tmp_path / "btc.parquet", [0])
    run_main(
        "data",
        "import",
        str(source),
        "--venue",
        "files",
        "--interval",
        "1x",
        "--data-dir",
        str(data_dir),
    ).one_line_error(2, "interval", "1x")


def test_lazy_data_commands_say_what_their_help_says() -> None:
    for name, spec in DataGroup.lazy_commands.items():
        command = load_command(name, spec)
        own_help = (command.short_help or command.help or "").split("\n\n")[0]
        assert " ".join(own_help.split()) == spec.help, name
