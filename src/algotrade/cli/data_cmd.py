"""``algotrade data``: the bar catalog under ``<data_dir>/catalog`` (docs/catalog.md).

``list``, ``show``, ``gaps``, ``import``, ``resample`` and ``export`` work on the files
directly; ``download`` (from a venue) and ``sync`` (to PostgreSQL) are imported only when run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from rich.table import Table

from algotrade.cli.console import err_console, out_console
from algotrade.cli.data_options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    parse_range,
    parse_symbol_list,
)
from algotrade.cli.main import FlagGroup, LazyCommand, LazyGroup
from algotrade.core.errors import InputError
from algotrade.core.timeutil import ns_to_iso

# The catalog (polars) is imported by each command when it runs, not for --help.
if TYPE_CHECKING:
    from algotrade.data.catalog import Catalog, Coverage


class DataGroup(LazyGroup, FlagGroup):
    lazy_commands: ClassVar[dict[str, LazyCommand]] = {
        "download": LazyCommand(
            "algotrade.cli.data_download_cmd:download",
            "Download bars of many symbols from a venue into the catalog (resumable).",
        ),
        "sync": LazyCommand(
            "algotrade.cli.data_sync_cmd:sync",
            "Copy catalog bars into PostgreSQL/TimescaleDB (the warm tier) with COPY.",
        ),
    }


data_app = typer.Typer(
    name="data",
    cls=DataGroup,
    help="The bar catalog: download, list, show, gaps, import, resample, export, sync.",
    no_args_is_help=True,
)

VenueOption = Annotated[str | None, typer.Option("--venue", help="only this venue")]
SymbolsOption = Annotated[
    str, typer.Option("--symbols", help="all, or symbols separated by commas")
]
IntervalOption = Annotated[str | None, typer.Option("--interval", help="only this interval")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _matching(
    catalog: Catalog, venue: str | None, symbols: str, interval: str | None
) -> list[Coverage]:
    wanted = parse_symbol_list(symbols)
    return [
        c
        for c in catalog.series(venue)
        if (wanted is None or c.key.symbol in wanted)
        and (interval is None or c.key.interval == interval)
    ]


def _time(ns: int | None) -> str:
    return "-" if ns is None else ns_to_iso(ns)


def _short(ns: int | None) -> str:
    """A bar time to the minute, for tables (JSON keeps the exact ISO text)."""
    return "-" if ns is None else ns_to_iso(ns)[:16].replace("T", " ")


def _coverage_json(coverage: Coverage) -> dict[str, Any]:
    return {
        "venue": coverage.key.venue,
        "symbol": coverage.key.symbol,
        "interval": coverage.key.interval,
        "first": _time(coverage.first_ns),
        "last": _time(coverage.last_ns),
        "rows": coverage.rows,
        "gaps": len(coverage.gaps),
        "missing_bars": coverage.missing_bars,
        "files": len(coverage.files),
    }


@data_app.command("list")
def list_series(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    venue: VenueOption = None,
    symbols: SymbolsOption = "all",
    interval: IntervalOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Every series in the catalog: first and last bar, rows, gaps."""
    from algotrade.data.catalog import Catalog  # noqa: PLC0415

    found = _matching(Catalog.for_data_dir(data_dir), venue, symbols, interval)
    if json_flag:
        typer.echo(json.dumps([_coverage_json(c) for c in found], indent=1))
        return
    if not found:
        out_console().print(f"the catalog in {data_dir / 'catalog'} holds no bars yet")
        return
    table = Table(
        title=f"catalog {data_dir / 'catalog'}: {len(found)} series (venue:symbol:interval)"
    )
    table.add_column("series", overflow="fold")
    for header in ("first", "last"):
        table.add_column(header, no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("gaps (bars)", justify="right", no_wrap=True)
    for c in found:
        gap_text = f"{len(c.gaps)} ({c.missing_bars:,})" if c.gaps else "0"
        table.add_row(str(c.key), _short(c.first_ns), _short(c.last_ns), f"{c.rows:,}", gap_text)
    out_console().print(table)


@data_app.command()
def show(
    venue: Annotated[str, typer.Option("--venue", help="the series' venue")],
    symbol: Annotated[str, typer.Option("--symbol", help="the series' symbol")],
    interval: Annotated[str, typer.Option("--interval", help="the series' interval")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    json_flag: JsonFlag = False,
) -> None:
    """One series: coverage, files and their size on disk."""
    from algotrade.data.catalog import Catalog, SeriesKey  # noqa: PLC0415
    from algotrade.data.catalog.layout import series_dir  # noqa: PLC0415

    catalog = Catalog.for_data_dir(data_dir)
    key = SeriesKey(venue, symbol, interval)
    coverage = catalog.coverage(key)
    if coverage is None:
        raise InputError(f"--symbol: the catalog has no {interval} bars of {venue}:{symbol}")
    folder = series_dir(catalog.root, key)
    size = sum((folder / name).stat().st_size for name in coverage.files)
    info = {**_coverage_json(coverage), "path": str(folder), "bytes": size}
    if json_flag:
        typer.echo(json.dumps({**info, "file_list": list(coverage.files)}, indent=1))
        return
    for name, value in info.items():
        out_console().print(f"{name:>13}: {value}")


@data_app.command()
def gaps(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    venue: VenueOption = None,
    symbols: SymbolsOption = "all",
    interval: IntervalOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """The missing stretches of every matching series ([start, end) of bar open times)."""
    from algotrade.data.catalog import Catalog  # noqa: PLC0415

    found = _matching(Catalog.for_data_dir(data_dir), venue, symbols, interval)
    rows: list[dict[str, Any]] = [
        {
            "series": str(c.key),
            "start": ns_to_iso(start),
            "end": ns_to_iso(end),
            "bars": (end - start) // c.key.interval_ns,
        }
        for c in found
        for start, end in c.gaps
    ]
    if json_flag:
        typer.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        out_console().print(f"no gaps in {len(found)} series")
        return
    table = Table(title=f"{len(rows)} gaps in {len(found)} series")
    for header in ("series", "start", "end", "bars"):
        table.add_column(header)
    for row in rows:
        table.add_row(row["series"], row["start"], row["end"], f"{row['bars']:,}")
    out_console().print(table)


@data_app.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(help="CSV/Parquet bar files (or SYMBOL=FILE)")],
    venue: Annotated[str, typer.Option("--venue", help="venue name to file the bars under")],
    interval: Annotated[str, typer.Option("--interval", help="the bars' interval, e.g. 1h")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Add bar files to the catalog (bars already stored are skipped, not duplicated).

    Each file's bars must be ``--interval`` apart: its closest bars exactly that (longer gaps
    are fine), never closer. Every file and series is checked before anything is stored."""
    from algotrade.data.catalog import Catalog, SeriesKey  # noqa: PLC0415
    from algotrade.data.intervals import interval_ns  # noqa: PLC0415
    from algotrade.data.loader import load_bars  # noqa: PLC0415

    interval_ns(interval, field="--interval")  # before any file is read
    catalog = Catalog.for_data_dir(data_dir)
    data = load_bars([str(f) for f in files], interval=interval)
    series = [
        (key, data.frame.filter(data.frame["symbol"] == key.symbol))
        for key in (SeriesKey(venue, symbol, interval) for symbol in data.symbols)
    ]
    for key, frame in series:
        catalog.check(key, frame)
    for key, frame in series:
        result = catalog.append(key, frame)
        out_console().print(
            f"{key}: {result.added:,} bars added, {result.skipped:,} already stored"
            + (
                f", {result.conflicts:,} differed from stored bars (kept)"
                if result.conflicts
                else ""
            )
        )


@data_app.command("resample")
def resample_series(
    venue: Annotated[str, typer.Option("--venue", help="venue of the source series")],
    interval: Annotated[str, typer.Option("--from", help="the source interval, e.g. 1m")],
    to: Annotated[str, typer.Option("--to", help="the new interval, a multiple, e.g. 1h")],
    symbols: SymbolsOption = "all",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    partial: Annotated[
        bool, typer.Option("--partial", help="also keep bars missing some source bars")
    ] = False,
) -> None:
    """Aggregate a series into a longer interval and store it in the catalog."""
    from algotrade.data.catalog import Catalog, SeriesKey  # noqa: PLC0415
    from algotrade.data.catalog.resample import resample, resample_ratio  # noqa: PLC0415

    catalog = Catalog.for_data_dir(data_dir)
    sources = _matching(catalog, venue, symbols, interval)
    if not sources:
        raise InputError(f"--from: the catalog has no {interval} bars of {venue} ({symbols})")
    for coverage in sources:
        resample_ratio(coverage.key, to)  # every target checked before anything is written
    for coverage in sources:
        key = coverage.key
        frame = catalog.scan(key.venue, [key.symbol], key.interval).collect().drop("symbol")
        bars, dropped = resample(frame, key, to, complete_only=not partial)
        result = catalog.append(SeriesKey(key.venue, key.symbol, to), bars)
        note = f", {dropped:,} incomplete left out (--partial keeps them)" if dropped else ""
        out_console().print(f"{key} → {to}: {result.added:,} bars added{note}")


@data_app.command()
def export(
    venue: Annotated[str, typer.Option("--venue", help="the series' venue")],
    symbols: Annotated[str, typer.Option("--symbols", help="symbols separated by commas")],
    interval: Annotated[str, typer.Option("--interval", help="the series' interval")],
    out: Annotated[Path, typer.Option("--out", help="file to write: .csv, .csv.gz or .parquet")],
    start: Annotated[str | None, typer.Option(help="first bar time (inclusive)")] = None,
    end: Annotated[str | None, typer.Option(help="end time (exclusive)")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Write catalog bars to a file ``algotrade backtest --data`` reads."""
    from algotrade.data.catalog import Catalog  # noqa: PLC0415
    from algotrade.data.loader import save_bars  # noqa: PLC0415

    wanted = parse_symbol_list(symbols)
    if wanted is None:
        raise InputError("--symbols: name the symbols to export (A,B), not all")
    start_ns, end_ns = parse_range(start, end)
    data = Catalog.for_data_dir(data_dir).load(venue, wanted, interval, start_ns, end_ns)
    save_bars(data, out)
    err_console().print(f"wrote {len(data):,} bars of {', '.join(data.symbols)} to {out}")
