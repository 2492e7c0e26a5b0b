"""``algotrade screen`` on a catalog populated here: the table, the JSON, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrade.data.catalog import Catalog, SeriesKey
from cli.conftest import RunMain

DAY = 86_400 * 10**9
T0 = 1_704_067_200 * 10**9


def bars(closes: np.ndarray, volume: float, first_day: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": T0 + DAY * (first_day + np.arange(closes.size, dtype=np.int64)),
            "open": closes,
            "high": closes * 1.01,
            "low": closes * 0.99,
            "close": closes,
            "volume": np.full(closes.size, volume),
        }
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("screen") / "data"
    catalog = Catalog.for_data_dir(root)
    days = np.arange(100)
    catalog.append(SeriesKey("v", "BIG", "1d"), bars(100 * np.exp(0.002 * days), 1e6))
    catalog.append(SeriesKey("v", "SMALL", "1d"), bars(10 + np.tile([0.0, 1.0], 50), 10.0))
    catalog.append(SeriesKey("v", "FRESH", "1d"), bars(np.full(5, 3.0), 1.0, first_day=95))
    return root


def test_table_and_json(run_main: RunMain, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "screen.json"
    shown = run_main(
        "screen", "--venue", "v", "--lookback", "90d", "--data-dir", str(data_dir),
        "--json", str(out),
    ).ok()  # fmt: skip
    assert shown.index("BIG") < shown.index("SMALL")  # by liquidity
    assert "too little history (1):" in shown
    assert "FRESH: 5 bars in the window, needs at least 72 of 90" in shown
    document = json.loads(out.read_text())
    assert [row["symbol"] for row in document["ranked"]] == ["BIG", "SMALL"]
    assert document["start"] == "2024-01-11T00:00:00Z"  # 90 days before the day after day 99
    assert document["ranked"][0]["bars"] == 90
    assert document["ranked"][0]["median_dollar_volume"] == pytest.approx(
        float(np.median(100 * np.exp(0.002 * np.arange(10, 100)) * 1e6))
    )


def test_sort_top_and_symbols(run_main: RunMain, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "top.json"
    run_main(
        "screen", "--venue", "v", "--symbols", "SMALL,BIG", "--sort", "volatility", "--top", "1",
        "--data-dir", str(data_dir), "--json", str(out),
    ).ok()  # fmt: skip
    document = json.loads(out.read_text())
    assert [row["symbol"] for row in document["ranked"]] == ["SMALL"]
    assert document["sort"] == "volatility"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--sort", "beauty"), ["--sort", "liquidity"]),
        (("--lookback", "3 months"), ["--lookback"]),
        (("--interval", "1h"), ["--symbols all", "no 1h bars"]),
        (("--symbols", "NOPE"), ["NOPE", "stored"]),
        (("--symbols", "A,,B"), ["--symbols", "empty symbol"]),
        (("--end", "yesterday"), ["--end"]),
        (("--source", "oracle://x"), ["--source", "'oracle'"]),
    ],
    ids=["sort", "lookback", "interval", "unknown", "empty", "end", "source"],
)
def test_one_line_errors(
    run_main: RunMain, data_dir: Path, args: tuple[str, ...], needles: list[str]
) -> None:
    outcome = run_main("screen", "--venue", "v", "--data-dir", str(data_dir), *args)
    outcome.one_line_error(2, *needles)
