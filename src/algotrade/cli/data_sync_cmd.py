"""``algotrade data sync``: copy catalog series into PostgreSQL (the warm tier) with ``COPY``.

Each series is one transaction (all of its bars or none); re-running copies the range again
and adds nothing twice. The warm tier's module (psycopg) is imported only when this command
runs.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from algotrade.cli.console import err_console
from algotrade.cli.data_options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    parse_range,
    parse_symbol_list,
)
from algotrade.core.errors import InputError


def sync(
    to: Annotated[
        str, typer.Option("--to", help="the warm tier: postgresql://user@host:port/database")
    ],
    venue: Annotated[str | None, typer.Option(help="only this venue's series")] = None,
    symbols: Annotated[
        str, typer.Option(help="symbols to copy, comma-separated, or 'all'")
    ] = "all",
    interval: Annotated[str | None, typer.Option(help="only this interval, e.g. 1m or 1h")] = None,
    start: Annotated[
        str | None, typer.Option(help="first bar time, UTC date or ISO-8601 (inclusive)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="end time, UTC date or ISO-8601 (exclusive)")
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Copy catalog bars into PostgreSQL/TimescaleDB (the warm tier) with COPY."""
    from algotrade.data.catalog import Catalog, SeriesKey  # noqa: PLC0415
    from algotrade.data.intervals import interval_ns  # noqa: PLC0415
    from algotrade.data.warm import SeriesSync, WarmStore  # noqa: PLC0415 - psycopg: only here

    store = WarmStore(to, option="--to")
    chosen = parse_symbol_list(symbols)
    if interval is not None:
        interval_ns(interval, field="--interval")
    start_ns, end_ns = parse_range(start, end)
    catalog = Catalog.for_data_dir(data_dir)
    if not catalog.root.is_dir():
        raise InputError(f"--data-dir: no catalog at {catalog.root}")

    began = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    ) as progress:
        task = progress.add_task("reading the catalog", total=None)

        def show(index: int, total: int, key: SeriesKey, done: SeriesSync | None) -> None:
            if done is None:
                progress.update(task, description=f"copying {key}", total=total, completed=index)
                return
            progress.console.print(
                f"{key}: {done.rows_copied:,} copied, {done.rows_new:,} new, "
                f"{done.rows_updated:,} updated"
            )
            progress.update(task, completed=index + 1)

        result = store.sync_from(catalog, venue, chosen, interval, start_ns, end_ns, progress=show)
    elapsed = time.perf_counter() - began
    if store.note:
        err_console().print(f"note: {store.note}")
    kind = "a TimescaleDB hypertable" if result.storage == "hypertable" else "a plain table"
    rate = result.rows_copied / elapsed if elapsed > 0 else 0.0
    typer.echo(
        f"synced {len(result.series)} series to {store.shown} (market_bars, {kind}): "
        f"{result.rows_copied:,} bars copied, {result.rows_new:,} new, "
        f"{result.rows_updated:,} updated in {elapsed:.1f} s ({rate:,.0f} bars/s)"
    )
