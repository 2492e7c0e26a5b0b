"""``algotrade backtest --symbols VENUE:A,B``: bars by reference from the catalog (and from
PostgreSQL when the warm tier is there), one symbol like ``--data``, several as a universe."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.backtest.export import result_to_dict
from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.ma_crossover import MACrossover
from cli.conftest import RunMain

HOUR = 3_600 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01
VENUE = "testvenue"
SYMBOLS = ("AAA", "BBB", "C/USD:USD")
PARAMS = {"fast": 3, "slow": 12, "qty": 1}
STRATEGY_ARGS = ("--strategy", "ma_crossover", "--param", "fast=3", "--param", "slow=12")
EMPTY_RANGE = ("--start", "2024-02-02", "--end", "2024-02-01")
COMMON = (*STRATEGY_ARGS, "--param", "qty=1", "--commission", "0.001", "--cash", "10000")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reference") / "data"
    catalog = Catalog.for_data_dir(root)
    for number, symbol in enumerate(SYMBOLS):
        bars = generate_bars(
            600 + 50 * number,
            symbol=symbol,
            seed=number + 7,
            start=T0 + HOUR * number,
            interval_ns=HOUR,
            volatility=0.01,
        )
        catalog.append(SeriesKey(VENUE, symbol, "1h"), bars.frame)
    return root


def alone(data_dir: Path, symbol: str, start_ns: int | None = None) -> dict[str, Any]:
    """The symbol's backtest run directly on the catalog's bars, as JSON."""
    bars = Catalog.for_data_dir(data_dir).load(VENUE, [symbol], "1h", start_ns)
    config = BacktestConfig(initial_cash=Decimal(10_000), commission=Decimal("0.001"))
    result = run_backtest(bars, MACrossover(PARAMS), config)
    result.metrics = compute_metrics(result, periods_per_year=252)
    return result_to_dict(result)


def test_one_symbol_is_an_ordinary_backtest(
    run_main: RunMain, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "one.json"
    shown = run_main(
        "backtest", "--symbols", f"{VENUE}:BBB", "--interval", "1h", "--start", "2024-01-05",
        "--data-dir", str(data_dir), *COMMON, "--json", str(out),
    ).ok()  # fmt: skip
    assert "ma_crossover on BBB" in shown
    got = json.loads(out.read_text())
    expected = alone(data_dir, "BBB", start_ns=T0 + 4 * 24 * HOUR)
    assert got["metrics"] == expected["metrics"]
    assert got["fills"] == expected["fills"]
    assert got["equity"][0][0] == "2024-01-05T00:00:00Z"


def test_universe_per_symbol_and_aggregate(
    run_main: RunMain, data_dir: Path, tmp_path: Path
) -> None:
    out, page = tmp_path / "u.json", tmp_path / "html" / "u.html"
    refs = f"{VENUE}:{','.join(SYMBOLS)},MISSING"
    shown = run_main(
        "backtest", "--symbols", refs, "--interval", "1h", "--data-dir", str(data_dir),
        *COMMON, "--json", str(out), "--report", str(page),
    ).ok()  # fmt: skip
    for symbol in (*SYMBOLS, "ALL", "no bars in the requested range", "3 ran, 1 failed (MISSING)"):
        assert symbol in shown
    document = json.loads(out.read_text())
    assert document["symbols"] == [*SYMBOLS, "MISSING"]
    results = {entry["symbol"]: entry for entry in document["results"]}
    for symbol in SYMBOLS:
        expected = alone(data_dir, symbol)
        assert results[symbol]["error"] is None
        assert results[symbol]["metrics"] == expected["metrics"]
        assert results[symbol]["fills"] == expected["fills"]
    assert results["MISSING"]["error"] == "no bars in the requested range"
    aggregate = document["aggregate"]
    assert Decimal(aggregate["net_profit"]) == sum(
        Decimal(results[s]["metrics"]["net_profit"]) for s in SYMBOLS
    )
    assert Decimal(aggregate["fees_paid"]) == sum(
        Decimal(results[s]["metrics"]["fees_paid"]) for s in SYMBOLS
    )
    assert aggregate["failures"] == 1
    assert len(document["portfolio_equity"]) > 600

    html = page.read_text()
    assert "Universe backtest" in html
    assert 'href="u-symbols/C%252FUSD%253AUSD.html"' in html  # the encoded file name, as a URL
    for symbol in SYMBOLS:
        report = (
            page.parent / "u-symbols" / (symbol.replace("/", "%2F").replace(":", "%3A") + ".html")
        )
        assert symbol in report.read_text()
    assert not (page.parent / "u-symbols" / "MISSING.html").exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--data", "x.csv", "--symbols", "v:A"), ["exactly one of --data", "--symbols"]),
        ((), ["exactly one of --data", "--symbols"]),
        (("--symbols", "v:A"), ["--interval", "required"]),
        (("--symbols", "v:A", "--interval", "1x"), ["--interval", "'1x'"]),
        (("--symbols", "A,B", "--interval", "1h"), ["--symbols", "VENUE:SYMBOL"]),
        (("--data", "x.csv", "--interval", "1h"), ["--interval", "only with --symbols"]),
        (("--data", "x.csv", "--source", "catalog"), ["--source", "only with --symbols"]),
        (
            ("--symbols", "v:A", "--interval", "1h", *EMPTY_RANGE),
            ["--end", "not after --start"],
        ),
        (
            ("--symbols", "v:A", "--interval", "1h", "--source", "mysql://u:hunter2@h/db"),
            ["--source", "'mysql'"],
        ),
    ],
    ids=[
        "both", "neither", "no-interval", "bad-interval", "no-venue", "interval-with-data",
        "source-with-data", "empty-range", "bad-source",
    ],
)  # fmt: skip
def test_bad_options_are_one_line(
    run_main: RunMain, data_dir: Path, args: tuple[str, ...], needles: list[str]
) -> None:
    outcome = run_main("backtest", *STRATEGY_ARGS, "--data-dir", str(data_dir), *args)
    line = outcome.one_line_error(2, *needles)
    assert "hunter2" not in line


def test_unknown_symbol_alone_names_it(run_main: RunMain, data_dir: Path) -> None:
    outcome = run_main(
        "backtest", *STRATEGY_ARGS, "--symbols", f"{VENUE}:NOPE", "--interval", "1h",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    outcome.one_line_error(2, "NOPE", "1h", "data download")


def test_universe_where_nothing_ran_fails(run_main: RunMain, data_dir: Path) -> None:
    outcome = run_main(
        "backtest", *STRATEGY_ARGS, "--symbols", f"{VENUE}:AAA,BBB", "--interval", "1h",
        "--start", "2030-01-01", "--data-dir", str(data_dir),
    )  # fmt: skip
    outcome.one_line_error(2, "no 1h bars", "AAA,BBB")


@pytest.mark.postgres
def test_reads_the_warm_tier_by_url(
    run_main: RunMain, data_dir: Path, tmp_path: Path, market_pg_url: str
) -> None:
    from algotrade.data.warm import WarmStore

    WarmStore(market_pg_url).sync_from(Catalog.for_data_dir(data_dir), VENUE, list(SYMBOLS), "1h")
    outputs = {}
    for source in ("catalog", market_pg_url):
        out = tmp_path / f"{len(outputs)}.json"
        run_main(
            "backtest", "--symbols", f"{VENUE}:{','.join(SYMBOLS)}", "--interval", "1h",
            "--source", source, "--data-dir", str(data_dir), *COMMON, "--json", str(out),
        ).ok()  # fmt: skip
        outputs[source] = json.loads(out.read_text())
    assert outputs[market_pg_url] == outputs["catalog"]
