"""What ``algotrade data download`` still has to fetch, per symbol: the requested range minus
the bars the catalog holds and the ranges the venue is known to have none in (the ledger,
``<data_dir>/downloads/venue=<v>/interval=<i>.json``), and where the pages go (``CatalogSink``)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from algotrade.atomic_file import write_atomic
from algotrade.data.catalog import AppendResult, Catalog, Coverage, SeriesKey
from algotrade.data.catalog.layout import encode
from algotrade.data.intervals import NS_PER_DAY, interval_ns

_log = logging.getLogger(__name__)

NS_PER_MS = 1_000_000
Window = tuple[int, int]  # [start, end) in ms (plans) or ns (catalog ranges)
#: Missing windows closer than this many bars are fetched as one (the stored bars between
#: them are skipped by the catalog): one page more instead of one request more.
MERGE_BARS = 1000
#: Empty ranges ending later than this before now are not remembered (late closed bars).
SETTLE_NS = NS_PER_DAY


@dataclass(frozen=True, slots=True)
class SymbolPlan:
    """The windows of one symbol still to fetch, ``[start_ms, end_ms)`` each, in time order."""

    symbol: str
    windows: tuple[Window, ...]

    @property
    def span_ms(self) -> int:
        return sum(end - start for start, end in self.windows)


# ---------------------------------------------------------------------------- windows
def subtract(ranges: Iterable[Window], cuts: Iterable[Window]) -> list[Window]:
    """``ranges`` without ``cuts`` (both [start, end) ranges), sorted and non-empty."""
    result: list[Window] = []
    ordered_cuts = sorted(c for c in cuts if c[0] < c[1])
    for start, end in sorted(ranges):
        cursor = start
        for cut_start, cut_end in ordered_cuts:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                result.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
        if cursor < end:
            result.append((cursor, end))
    return result


def merge_close(windows: Sequence[Window], distance: int) -> list[Window]:
    """Sorted ``windows`` with those less than ``distance`` apart joined."""
    merged: list[Window] = []
    for start, end in windows:
        if merged and start - merged[-1][1] < distance:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def present_ranges(coverage: Coverage | None) -> list[Window]:
    """The ns ranges a coverage holds bars for."""
    if coverage is None or coverage.first_ns is None or coverage.last_ns is None:
        return []
    whole = (coverage.first_ns, coverage.last_ns + coverage.key.interval_ns)
    return subtract([whole], coverage.gaps)


# ---------------------------------------------------------------------------- the catalog
class CatalogSink:
    """Pages into the bar catalog; plans from its coverage and the ledger of empty ranges."""

    def __init__(self, catalog: Catalog, venue: str, interval: str, ledger_dir: Path) -> None:
        self.catalog = catalog
        self.venue = venue
        self.interval = interval
        self.step_ns = interval_ns(interval)
        self.ledger = EmptyLedger(
            ledger_dir / f"venue={encode(venue)}" / f"interval={interval}.json"
        )

    def key(self, symbol: str) -> SeriesKey:
        return SeriesKey(self.venue, symbol, self.interval)

    def plan(self, symbol: str, start_ms: int, end_ms: int, now_ms: int) -> SymbolPlan:
        del now_ms
        known = present_ranges(self.catalog.coverage(self.key(symbol)))
        known += self.ledger.empty(symbol)
        missing = subtract([(start_ms * NS_PER_MS, end_ms * NS_PER_MS)], known)
        windows = merge_close(missing, MERGE_BARS * self.step_ns)
        return SymbolPlan(symbol, tuple((a // NS_PER_MS, b // NS_PER_MS) for a, b in windows))

    def append(self, symbol: str, frame: pl.DataFrame) -> AppendResult:
        return self.catalog.append(self.key(symbol), frame)

    def window_done(self, symbol: str, window: Window, now_ms: int) -> None:
        settled_end = min(window[1] * NS_PER_MS, now_ms * NS_PER_MS - SETTLE_NS)
        settled = (window[0] * NS_PER_MS, settled_end)
        present = present_ranges(self.catalog.coverage(self.key(symbol)))
        self.ledger.add(symbol, subtract([settled], present))

    def finish(self, symbol: str) -> None:
        self.catalog.compact(self.key(symbol))

    def gaps_left(self, symbol: str, start_ms: int, end_ms: int) -> int:
        """Bars missing between the first and last stored bar inside ``[start, end)``."""
        coverage = self.catalog.coverage(self.key(symbol))
        if coverage is None:
            return 0
        lo, hi = start_ms * NS_PER_MS, end_ms * NS_PER_MS
        return sum(
            (min(end, hi) - max(start, lo)) // self.step_ns
            for start, end in coverage.gaps
            if min(end, hi) > max(start, lo)
        )


class EmptyLedger:
    """Ranges (ns) per symbol the venue served completely and had no bars in: one JSON file,
    written atomically. Only an optimisation: a lost or unreadable ledger costs requests."""

    VERSION = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ranges: dict[str, list[Window]] | None = None

    def empty(self, symbol: str) -> list[Window]:
        with self._lock:
            return list(self._load().get(symbol, []))

    def add(self, symbol: str, ranges: Sequence[Window]) -> None:
        if not ranges:
            return
        with self._lock:
            table = self._load()
            table[symbol] = merge_close(sorted([*table.get(symbol, []), *ranges]), 1)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            payload = {
                "version": self.VERSION,
                "empty_ns": {s: [list(r) for r in rs] for s, rs in sorted(table.items())},
            }
            write_atomic(self.path, json.dumps(payload, indent=1) + "\n")

    def _load(self) -> dict[str, list[Window]]:
        if self._ranges is None:
            self._ranges = {}
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                if raw.get("version") == self.VERSION:
                    self._ranges = {
                        str(s): [(int(a), int(b)) for a, b in rs]
                        for s, rs in raw["empty_ns"].items()
                    }
            except FileNotFoundError:
                pass  # no download of this venue and interval finished a window yet
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                # Only an optimisation: planning from the catalog alone costs requests, not bars.
                _log.warning("%s: ignored (%s); it will be rewritten", self.path, exc)
        return self._ranges
