"""``algotrade demo``: an example backtest on generated (simulated) data, with a report."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from algotrade.core.errors import InputError

# The engine, numpy and polars are imported by the commands when they run, not for --help.


def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("out"),
    bars: Annotated[int, typer.Option(help="number of simulated 1-minute bars")] = 50_000,
    seed: Annotated[int, typer.Option(help="random seed of the simulated prices")] = 7,
) -> None:
    """Backtest ma_crossover on SIMULATED prices and write out/demo-report.html."""
    if bars < 100:
        raise InputError("--bars: need at least 100 bars")
    from algotrade.backtest.runner import BacktestConfig  # noqa: PLC0415
    from algotrade.cli.backtest_cmd import run_and_report  # noqa: PLC0415
    from algotrade.data.synthetic import generate_bars  # noqa: PLC0415
    from algotrade.strategies.registry import create_strategy  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    console.print(
        f"[bold yellow]SIMULATED DATA[/]: {bars:,} generated 1-minute bars (seed {seed}), "
        "not market history"
    )
    data = generate_bars(bars, symbol="SIM", seed=seed)
    strategy = create_strategy("ma_crossover", {"fast": 20, "slow": 60, "qty": 10})
    run_and_report(
        data,
        strategy,
        BacktestConfig(commission=Decimal("0.0005")),
        periods_per_year=365,
        json_out=out / "demo.json",
        report=out / "demo-report.html",
        synthetic=True,
    )


def generate_data(
    out: Annotated[Path, typer.Option(help="CSV or Parquet file to write")],
    bars: Annotated[int, typer.Option(help="number of bars")] = 100_000,
    symbol: Annotated[str, typer.Option(help="symbol name")] = "SIM",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Write SIMULATED 1-minute OHLCV bars (seeded random walk) to a file."""
    if bars < 1:
        raise InputError("--bars: must be at least 1")
    from algotrade.data.loader import save_bars  # noqa: PLC0415
    from algotrade.data.synthetic import generate_bars  # noqa: PLC0415

    save_bars(generate_bars(bars, symbol=symbol, seed=seed), out)
    Console(stderr=True).print(f"wrote {bars:,} SIMULATED bars to {out}")
