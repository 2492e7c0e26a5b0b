"""Ingest throughput: bars/s appended to the catalog and copied into PostgreSQL (``COPY``).

Builds SYMBOLS x BARS seeded SIMULATED 1-minute bars (not timed), then measures:

- catalog append: ``Catalog.append`` of every series into an empty catalog, then again (every
  bar already stored: the idempotent re-run);
- warm sync: ``WarmStore.sync_from`` of the whole catalog into an empty ``market_bars`` (catalog
  read + binary COPY into the staging table + upsert, one transaction per series), then again
  (nothing new: the bits are compared, no row is rewritten);
- the COPY step alone, binary (what sync uses) against CSV text written by polars, each
  into an empty staging table, and whether each round-trips every float bit;
- reading back: ``WarmStore.scan`` of every series (server-side binary COPY).

Uses a throwaway database ``algotrade_bench_<hex>`` on the server at ``--admin-url``
(dropped at the end).

    .venv/bin/python benchmarks/warm_ingest.py --symbols 100 --bars 10000
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl
import psycopg
from psycopg import sql

from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.warm import WarmStore
from algotrade.data.warm.copy_binary import encode
from algotrade.data.warm.sync import _COPY, _CREATE_STAGING, STAGING_TABLE

T = TypeVar("T")
START_NS = 1_704_067_200_000_000_000
MINUTE_NS = 60_000_000_000


def series_bars(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.0005, n)) * close
    return pl.DataFrame(
        {
            "ts": START_NS + np.arange(n, dtype=np.int64) * MINUTE_NS,
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.random(n) * 1e6,
        }
    )


def big_endian(column: pl.Series) -> list[bytes]:
    """Each float's 8 bytes as PostgreSQL's float8send gives them."""
    raw = column.to_numpy().astype(">f8").tobytes()
    return [raw[offset : offset + 8] for offset in range(0, len(raw), 8)]


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = work()
    return value, time.perf_counter() - started


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    name = f"algotrade_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def copy_only(url: str, frames: list[pl.DataFrame], fmt: str) -> tuple[float, bool]:
    """Seconds to COPY every frame into an empty staging table (one transaction each), and
    whether what PostgreSQL stored equals the frames bit for bit."""
    exact = True
    elapsed = 0.0
    with psycopg.connect(url, autocommit=True) as connection:
        for frame in frames:
            with connection.transaction():
                connection.execute(_CREATE_STAGING)
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    if fmt == "binary":
                        with cursor.copy(_COPY) as copy:
                            for block in encode(frame):
                                copy.write(block)
                    else:
                        text = io.BytesIO()
                        frame.write_csv(text, include_header=False)
                        statement = _COPY.replace("(FORMAT binary)", "(FORMAT csv)")
                        with cursor.copy(statement) as copy:
                            copy.write(text.getvalue())
                elapsed += time.perf_counter() - started
                stored = connection.execute(
                    f"SELECT float8send(open), float8send(volume) FROM {STAGING_TABLE} "
                    "ORDER BY ts_ns"
                ).fetchall()
                expected = list(
                    zip(big_endian(frame["open"]), big_endian(frame["volume"]), strict=True)
                )
                exact = exact and stored == expected
    return elapsed, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--bars", type=int, default=10_000, help="bars per symbol")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    total = args.symbols * args.bars
    keys = [SeriesKey("bench", f"S{index:04d}", "1m") for index in range(args.symbols)]
    frames = [series_bars(args.bars, seed) for seed in range(args.symbols)]
    report: dict[str, object] = {"symbols": args.symbols, "bars_per_symbol": args.bars}
    report["bars"] = total

    with tempfile.TemporaryDirectory() as folder:
        catalog = Catalog(Path(folder) / "catalog")
        _, seconds = timed(
            lambda: [catalog.append(k, f) for k, f in zip(keys, frames, strict=True)]
        )
        report["catalog_append_bars_per_s"] = round(total / seconds)
        _, seconds = timed(
            lambda: [catalog.append(k, f) for k, f in zip(keys, frames, strict=True)]
        )
        report["catalog_reappend_bars_per_s"] = round(total / seconds)

        with throwaway_database(args.admin_url) as url:
            store = WarmStore(url)
            report["storage"] = store.ensure_schema()
            result, seconds = timed(lambda: store.sync_from(catalog))
            assert result.rows_new == total, result
            report["sync_new_bars_per_s"] = round(total / seconds)
            report["sync_new_seconds"] = round(seconds, 2)
            result, seconds = timed(lambda: store.sync_from(catalog))
            assert (result.rows_new, result.rows_updated) == (0, 0), result
            report["resync_unchanged_bars_per_s"] = round(total / seconds)
            read, seconds = timed(
                lambda: store.scan("bench", [k.symbol for k in keys], "1m").collect()
            )
            assert read.height == total
            report["scan_bars_per_s"] = round(total / seconds)
            for fmt in ("binary", "csv"):
                seconds, exact = copy_only(url, frames, fmt)
                report[f"copy_{fmt}_bars_per_s"] = round(total / seconds)
                report[f"copy_{fmt}_bit_exact"] = exact
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
