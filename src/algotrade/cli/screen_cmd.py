"""``algotrade screen``: rank a venue's symbols by liquidity, volatility and trend measured on
stored bars (definitions in ``research.screen``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from algotrade.atomic_file import write_atomic
from algotrade.backtest.metric_format import MISSING
from algotrade.cli.console import err_console
from algotrade.cli.data_options import DEFAULT_DATA_DIR, DataDirOption, parse_symbol_list
from algotrade.cli.data_options import parse_time_ns as parse_time
from algotrade.core.errors import InputError

if TYPE_CHECKING:
    from algotrade.research.screen import ScreenResult

# research.screen.SORTS's names (a test keeps them equal): that module loads polars, and the
# option's help needs only the names.
SORT_NAMES = ("liquidity", "volatility", "trend")


def screen_command(
    venue: Annotated[str, typer.Option(help="venue whose stored series to screen")],
    interval: Annotated[str, typer.Option(help="bar interval, e.g. 1h 1d")] = "1d",
    lookback: Annotated[
        str, typer.Option(help="window measured, ending after the newest bar: 90d, 12h, …")
    ] = "90d",
    symbols: Annotated[
        str, typer.Option(help="all (every stored symbol at --interval) or A,B,…")
    ] = "all",
    sort: Annotated[
        str, typer.Option(help=f"rank by: {', '.join(SORT_NAMES)} (largest first)")
    ] = "liquidity",
    top: Annotated[int | None, typer.Option(min=1, help="show the best N only")] = None,
    end: Annotated[
        str | None, typer.Option(help="window end instead of the newest bar (exclusive)")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="'catalog' (default) or a postgresql:// URL (warm tier)")
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the ranking as JSON")
    ] = None,
) -> None:
    """Rank a venue's symbols by liquidity, volatility and trend over a lookback window."""
    if sort not in SORT_NAMES:
        raise InputError(
            f"--sort: {sort!r} is not a measure; expected one of {', '.join(SORT_NAMES)}"
        )
    from algotrade.research.screen import screen  # noqa: PLC0415 (polars: only when it runs)

    if json_out is not None and json_out.is_dir():
        raise InputError(f"--json {json_out}: is a folder, expected a file path")
    result = screen(
        venue,
        parse_symbol_list(symbols),
        interval,
        lookback,
        data_dir=data_dir,
        source=source,
        end_ns=parse_time("--end", end),
        sort=sort,
        top=top,
    )
    print_screen(result)
    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(json_out, json.dumps(result.to_dict(), indent=1, allow_nan=False) + "\n")
        except OSError as exc:
            raise InputError(f"--json {json_out}: cannot write: {exc}") from exc
        err_console().print(f"wrote {json_out}")


def _number(value: Any, spec: str) -> str:
    return MISSING if value is None else format(value, spec)


def _compact(value: float | None) -> str:
    """``111.5M``: a dollar volume in 4 significant digits with a K/M/B/T suffix."""
    if value is None:
        return MISSING
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.4g}{suffix}"
    return f"{value:.4g}"


def _percent(value: Any, spec: str) -> str:
    return MISSING if value is None else format(value * 100, spec) + "%"


def print_screen(result: ScreenResult) -> None:
    console = Console()
    window = result.to_dict()
    title = (
        f"{result.venue} {result.interval}: {window['start']} → {window['end']} "
        f"({result.expected_bars} bars), by {result.sort}"
    )
    table = Table(title=escape(title), header_style="bold")
    headings = ("#", "symbol", "bars", "$vol/day", "vol/yr", "ATR%", "ER", "slope/yr", "return")
    for heading in headings:
        table.add_column(heading, justify="left" if heading == "symbol" else "right")
    for row in result.ranked:
        table.add_row(
            str(row["rank"]),
            escape(row["symbol"]),
            f"{row['bars']:,}",
            _compact(row["median_dollar_volume"]),
            _percent(row["annual_volatility"], ".1f"),
            _number(row["atr_pct"], ".2f"),
            _number(row["efficiency_ratio"], ".3f"),
            _number(row["log_slope"], "+.3f"),
            _percent(row["total_return"], "+.1f"),
        )
    console.print(table)
    if not result.ranked:
        console.print("no symbol has enough history in the window")
    if result.insufficient:
        console.print(f"too little history ({len(result.insufficient)}):")
        for item in result.insufficient:
            console.print(f"  {escape(item.symbol)}: {escape(item.reason)}")
