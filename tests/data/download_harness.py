"""What the download tests share: running ``download_to_catalog``, an observer that records,
and the catalog's content as comparable values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from algotrade.data.catalog import Catalog
from algotrade.data.download import (
    DownloadRequest,
    SymbolReport,
    download_to_catalog,
    history_factory,
)
from algotrade.data.download_plan import SymbolPlan
from algotrade.venues.registry import HistoryOptions

MIN_MS = 60_000
HOUR_MS = 3_600_000
NS_PER_MS = 1_000_000


@dataclass
class Recorder:
    """A ``DownloadObserver`` that remembers what it was told; ``on_page`` is called with the
    number of pages stored so far (a test interrupts the download from it)."""

    plans: list[SymbolPlan] = field(default_factory=list)
    started_symbols: list[str] = field(default_factory=list)
    finished_symbols: list[str] = field(default_factory=list)
    pages_of: dict[str, int] = field(default_factory=dict)
    most_in_flight: int = 0
    on_page: Callable[[int], None] | None = None

    @property
    def pages(self) -> int:
        return sum(self.pages_of.values())

    def planned(self, plans: Sequence[SymbolPlan]) -> None:
        self.plans = list(plans)

    def started(self, plan: SymbolPlan, report: SymbolReport) -> None:
        self.started_symbols.append(plan.symbol)
        in_flight = len(self.started_symbols) - len(self.finished_symbols)
        self.most_in_flight = max(self.most_in_flight, in_flight)

    def advanced(self, report: SymbolReport) -> None:
        if report.pages != self.pages_of.get(report.symbol, 0):
            self.pages_of[report.symbol] = report.pages
            if self.on_page is not None:
                self.on_page(self.pages)

    def finished(self, report: SymbolReport) -> None:
        self.finished_symbols.append(report.symbol)


def request(
    venue: str,
    symbols: Sequence[str] | None,
    interval: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    url: str,
    concurrency: int = 3,
) -> DownloadRequest:
    return DownloadRequest(
        factory=history_factory(venue),
        symbols=None if symbols is None else tuple(symbols),
        interval=interval,
        start_ms=start_ms,
        end_ms=end_ms,
        concurrency=concurrency,
        options=HistoryOptions(api_url=url),
    )


def run(
    job: DownloadRequest,
    data_dir: Path,
    observer: Any | None = None,
    clock: Callable[[], int] | None = None,
) -> list[SymbolReport]:
    catalog = Catalog.for_data_dir(data_dir)
    kwargs = {} if clock is None else {"clock": clock}
    return asyncio.run(
        download_to_catalog(job, catalog, data_dir / "downloads", observer or Recorder(), **kwargs)
    )


def content(data_dir: Path, venue: str, symbols: Sequence[str], interval: str) -> tuple[Any, ...]:
    """Every stored bar and every series' coverage (files aside: their names differ)."""
    catalog = Catalog.for_data_dir(data_dir)
    frame = catalog.scan(venue, symbols, interval).collect()
    coverage = tuple((c.key, c.first_ns, c.last_ns, c.rows, c.gaps) for c in catalog.series(venue))
    return frame, coverage


def frames_equal(left: pl.DataFrame, right: pl.DataFrame) -> bool:
    return left.schema == right.schema and left.equals(right)
