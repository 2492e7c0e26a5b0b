"""``algotrade data download``: many symbols of one venue into the bar catalog.

The download engine is ``algotrade.data.download``: symbols are fetched concurrently over
one history source (the venue's rate limiter covers them all), each page is appended to the
catalog as it arrives, and a rerun continues from what the catalog holds. This module holds
the options; ``data_download_job`` runs the download, shows progress on stderr (bars in a
terminal, one line per symbol otherwise) and prints a summary table on stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer

from algotrade.cli.data_options import DEFAULT_DATA_DIR, DataDirOption

DEFAULT_CONCURRENCY = 4


def download(
    venue: Annotated[str, typer.Option("--venue", help="a registered venue, e.g. hyperliquid")],
    symbols: Annotated[
        str, typer.Option("--symbols", help="all, or the venue's symbols separated by commas")
    ],
    interval: Annotated[str, typer.Option("--interval", help="bar interval, e.g. 1m 1h 1d")],
    start: Annotated[str, typer.Option("--start", help="first bar time, UTC date or ISO-8601")],
    end: Annotated[
        str | None,
        typer.Option("--end", help="end time, exclusive (default: now; open bars never stored)"),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", min=1, max=64, help="symbols fetched at once (one shared rate limit)"
        ),
    ] = DEFAULT_CONCURRENCY,
    testnet: Annotated[bool, typer.Option("--testnet", help="use the venue's testnet")] = False,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="REST base URL (default: the public API)")
    ] = None,
) -> None:
    """Download bars of many symbols from a venue into the catalog (resumable)."""
    from algotrade.cli.data_download_job import run_download  # noqa: PLC0415 (heavy: lazy)

    run_download(venue, symbols, interval, start, end, data_dir, concurrency, testnet, api_url)
