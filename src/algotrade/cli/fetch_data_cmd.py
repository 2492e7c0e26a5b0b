"""``algotrade fetch-data``: download a venue's historical candles into a bar file.

Any venue of the registry (``venues/registry.py``) whose factory has ``history_intervals``
can be downloaded from; only the chosen venue's package is imported.

The download is resumable. Each page of candles is stored as soon as it arrives, as one
Parquet file in ``OUT.partial/`` beside the output (with a ``manifest.json`` naming what is
being fetched); rerunning the same command continues after the last stored candle. When the
range is complete the bars are written to ``OUT`` atomically, in the format ``algotrade
backtest --data`` reads, and the partial directory is removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def fetch_data(
    symbol: Annotated[str, typer.Option(help="the venue's coin name, e.g. BTC")],
    start: Annotated[str, typer.Option(help="first bar time, UTC date or ISO-8601 (inclusive)")],
    end: Annotated[str, typer.Option(help="end time, UTC date or ISO-8601 (exclusive)")],
    out: Annotated[Path, typer.Option(help="bar file to write: .parquet, .pq or .csv")],
    venue: Annotated[
        str, typer.Option(help="where to download from: a registered venue")
    ] = "hyperliquid",
    interval: Annotated[
        str, typer.Option(help="bar interval, e.g. 1m 5m 1h 1d (the venue's own list)")
    ] = "1m",
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="REST base URL (default: the public API)")
    ] = None,
    testnet: Annotated[bool, typer.Option("--testnet", help="use the testnet")] = False,
) -> None:
    """Download historical bars (resumable: rerun the same command to continue)."""
    from algotrade.cli.fetch_data_job import run_fetch  # noqa: PLC0415 (polars, venues: lazy)

    run_fetch(symbol, start, end, out, venue, interval, api_url, testnet)
