"""What a backtest may use: the bar files of ``<data_dir>/datasets/`` (listed by name only),
and the series stored in the catalog and the warm tier (PostgreSQL, by URL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algotrade.backtest.job_spec import JobSpec
from algotrade.core.errors import DataError, InputError
from algotrade.core.timeutil import ns_to_iso
from algotrade.daemon.backtest_jobs import Runner, run_job
from algotrade.data.bar_files import ACCEPTED_EXTENSIONS, PARQUET_EXTENSIONS
from algotrade.data.catalog.layout import SeriesKey

if TYPE_CHECKING:
    from algotrade.data.bars import BarData
    from algotrade.data.catalog.store import Catalog

SMALL_CSV_BYTES = 8 << 20  # counting the lines of a bigger CSV is not "cheap"


def _catalog(root: Path) -> Catalog:
    """The catalog at ``root``; polars and pyarrow load with the first use (always in a thread
    or a worker), not with the daemon."""
    from algotrade.data.catalog.store import Catalog  # noqa: PLC0415 - see the docstring

    return Catalog(root)


def list_datasets(folder: Path) -> list[dict[str, Any]]:
    """Bar files directly in ``folder`` (no sub-folders, no dotfiles), by name: ``name``,
    ``size``, ``modified`` and ``rows`` when cheap (Parquet metadata, a small plain CSV)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or not name.lower().endswith(ACCEPTED_EXTENSIONS):
            continue
        try:
            if not path.is_file():
                continue
            stat = path.stat()
        except OSError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")
        found.append(
            {
                "name": name,
                "size": stat.st_size,
                "modified": modified.replace("+00:00", "Z"),
                "rows": _rows(path, stat.st_size),
            }
        )
    return found


def _rows(path: Path, size: int) -> int | None:
    name = path.name.lower()
    try:
        if name.endswith(PARQUET_EXTENSIONS):
            import polars as pl  # noqa: PLC0415 - listing runs in a thread; the daemon starts without polars

            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        if name.endswith(".csv") and size <= SMALL_CSV_BYTES:
            with path.open("rb") as handle:
                lines = [line for line in handle.read().splitlines() if line.strip()]
            return max(0, len(lines) - 1)  # the header is not a row
    except Exception:  # a broken file is listed; loading it says what is wrong
        return None
    return None


# -- series of the catalog and the warm tier as datasets ----------------------------------------
#
# A backtest may name a stored series instead of a file: ``catalog:<venue>:<symbol>:<interval>``
# (the Parquet catalog under the data directory) or ``warm:<venue>:<symbol>:<interval>`` (the
# PostgreSQL warm tier at the daemon's market-data URL). Symbols may contain ``:``
# (``catalog:VENUE:BTC/USDT:USDT:1m``): the venue ends at the first ``:`` after the source, the
# interval starts after the last. File names cannot contain ``:``, so the two never collide.

CATALOG_SOURCE = "catalog"
WARM_SOURCE = "warm"
SERIES_SOURCES = (CATALOG_SOURCE, WARM_SOURCE)
MAX_SERIES_NAME = 128  # the API's limit on a dataset name
MARKET_DATA_OPTION = "market_data.url"  # the setting that names the warm tier, in its errors


@dataclass(frozen=True, slots=True)
class SeriesDataset:
    source: str  # "catalog" | "warm"
    venue: str
    symbol: str
    interval: str

    @property
    def name(self) -> str:
        return f"{self.source}:{self.venue}:{self.symbol}:{self.interval}"


def parse_series_dataset(name: str) -> SeriesDataset | None:
    """The series ``name`` refers to; None when it is not a series reference (a file name);
    ``ValueError`` (a message for the API's 422) when it is one but malformed."""
    source, sep, rest = name.partition(":")
    if not sep or source not in SERIES_SOURCES:
        return None
    venue, _, tail = rest.partition(":")
    symbol, _, interval = tail.rpartition(":")
    if len(name) > MAX_SERIES_NAME or not (venue and symbol and interval):
        raise ValueError(
            f"a stored series is {source}:VENUE:SYMBOL:INTERVAL (at most {MAX_SERIES_NAME} "
            "characters), e.g. catalog:<venue>:BTC:1h"
        )
    try:
        SeriesKey(venue, symbol, interval)  # checks the names and the interval
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return SeriesDataset(source, venue, symbol, interval)


def catalog_datasets(catalog_root: Path) -> list[dict[str, Any]]:
    """Every series of the catalog as a dataset: ``name`` (``catalog:…``), ``source``,
    ``venue``, ``symbol``, ``interval``, ``rows``, ``first`` and ``last`` (bar open times,
    ISO-8601 UTC). Read from the coverage manifests: no bar is read."""
    if not catalog_root.is_dir():
        return []
    return [
        _series_entry(CATALOG_SOURCE, c.key, c.rows, c.first_ns, c.last_ns)
        for c in _catalog(catalog_root).series()
    ]


def warm_datasets(market_data_url: str) -> list[dict[str, Any]]:
    """Every series of the warm tier as a dataset (``warm:…``, same fields as
    ``catalog_datasets``), from its ``market_series`` table. Raises ``ConfigError`` when the
    server cannot be reached (the caller decides whether to list the catalog alone)."""
    from algotrade.data.warm import WarmStore  # noqa: PLC0415 - psycopg only with a URL

    store = WarmStore(market_data_url, option=MARKET_DATA_OPTION)
    return [
        _series_entry(WARM_SOURCE, s.key, s.rows, s.first_ns, s.last_ns) for s in store.series()
    ]


def _series_entry(
    source: str, key: SeriesKey, rows: int, first_ns: int | None, last_ns: int | None
) -> dict[str, Any]:
    dataset = SeriesDataset(source, key.venue, key.symbol, key.interval)
    return {
        "name": dataset.name,
        "source": source,
        "venue": key.venue,
        "symbol": key.symbol,
        "interval": key.interval,
        "rows": rows,
        "first": None if first_ns is None else ns_to_iso(first_ns),
        "last": None if last_ns is None else ns_to_iso(last_ns),
    }


@dataclass(frozen=True, slots=True)
class SeriesLoader:
    """The backtest worker's loader (``backtest.job.run_job(loader=…)``) for series datasets.
    Holds plain values only, so it pickles into the worker process."""

    catalog_root: str
    market_data_url: str | None = None

    def __call__(self, spec: JobSpec) -> BarData | None:
        dataset = parse_series_dataset(spec.dataset) if spec.dataset else None
        if dataset is None:
            return None
        if spec.symbol is not None and spec.symbol != dataset.symbol:
            raise DataError(
                f"dataset {dataset.name} is {dataset.symbol}; symbol {spec.symbol} was asked for"
            )
        args = (dataset.venue, [dataset.symbol], dataset.interval, spec.start_ns, spec.end_ns)
        if dataset.source == CATALOG_SOURCE:
            return self._catalog_bars(*args)
        if self.market_data_url is None:
            raise DataError(
                f"dataset {dataset.name}: this daemon has no warm tier ({MARKET_DATA_OPTION} "
                "is not set)"
            )
        from algotrade.data.warm import WarmStore  # noqa: PLC0415 - psycopg only for warm:

        return WarmStore(self.market_data_url, option=MARKET_DATA_OPTION).load(*args)

    def _catalog_bars(
        self, venue: str, symbols: list[str], interval: str, start: int | None, end: int | None
    ) -> BarData:
        try:
            return _catalog(Path(self.catalog_root)).load(venue, symbols, interval, start, end)
        except DataError as exc:
            # The catalog names its folder; a job's error must not show the daemon's paths.
            message = str(exc).replace(f"catalog {self.catalog_root}", "the catalog")
            raise DataError(message.replace(self.catalog_root, "<catalog>")) from None


def series_runner(data_dir: Path, market_data_url: str | None = None) -> Runner:
    """``run_job`` with a ``SeriesLoader`` for ``data_dir``'s catalog and the warm tier at
    ``market_data_url``: what ``BacktestJobs(runner=…)`` takes."""
    loader = SeriesLoader(str(data_dir / "catalog"), market_data_url)
    return partial(run_job, loader=loader)


def series_dataset_problem(
    dataset: SeriesDataset, catalog_root: Path, market_data_url: str | None
) -> str | None:
    """Why ``dataset`` cannot be backtested now (for the API's 422 on ``dataset``), or None.
    Looks at the catalog's manifest or the warm tier's ``market_series``; reads no bars."""
    key = SeriesKey(dataset.venue, dataset.symbol, dataset.interval)
    if dataset.source == CATALOG_SOURCE:
        if _catalog(catalog_root).coverage(key) is None:
            return f"the catalog has no series {key} (see GET /api/datasets)"
        return None
    if market_data_url is None:
        return f"this daemon has no warm tier ({MARKET_DATA_OPTION} is not set)"
    from algotrade.data.warm import WarmStore  # noqa: PLC0415 - psycopg only with a URL

    stored = WarmStore(market_data_url, option=MARKET_DATA_OPTION).series(dataset.venue)
    if all(series.key != key for series in stored):
        return f"the warm tier has no series {key} (see GET /api/datasets)"
    return None
