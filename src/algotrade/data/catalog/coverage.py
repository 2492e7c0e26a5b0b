"""The manifest of a series: first and last bar, row count and the gaps between them.

``coverage.json`` in the series directory also lists the files it accounts for. A reader that
finds other files (a crash between writing a file and the manifest, a compaction) rebuilds it
from the files themselves, so the manifest is a cache that can never lie for long.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from algotrade.atomic_file import write_atomic
from algotrade.data.catalog.layout import COVERAGE_FILE, SeriesKey

Gap = tuple[int, int]  # bars missing in [start_ns, end_ns)
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a series holds: bars from ``first_ns`` to ``last_ns`` (open times), ``rows`` of
    them, missing the ``gaps`` ([start, end) ranges of open times with no bar)."""

    key: SeriesKey
    first_ns: int | None
    last_ns: int | None
    rows: int
    gaps: tuple[Gap, ...]
    files: tuple[str, ...] = ()

    @property
    def missing_bars(self) -> int:
        step = self.key.interval_ns
        return sum((end - start) // step for start, end in self.gaps)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "venue": self.key.venue,
            "symbol": self.key.symbol,
            "interval": self.key.interval,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "rows": self.rows,
            "gaps": [list(gap) for gap in self.gaps],
            "files": list(self.files),
        }


def coverage_of(key: SeriesKey, ts: npt.NDArray[np.int64], files: tuple[str, ...]) -> Coverage:
    """Coverage of the distinct, sorted bar open times ``ts``."""
    if ts.size == 0:
        return Coverage(key, None, None, 0, (), files)
    step = key.interval_ns
    jumps = np.flatnonzero(np.diff(ts) > step)
    gaps = tuple((int(ts[i]) + step, int(ts[i + 1])) for i in jumps)
    return Coverage(key, int(ts[0]), int(ts[-1]), int(ts.size), gaps, files)


def extended(old: Coverage, added: npt.NDArray[np.int64], files: tuple[str, ...]) -> Coverage:
    """``old`` plus the bars ``added`` (sorted, distinct, none of them already covered): the
    gaps they fall in are split, and new gaps open before or after the old range."""
    if old.first_ns is None or old.last_ns is None:
        return coverage_of(old.key, added, files)
    if added.size == 0:
        return Coverage(old.key, old.first_ns, old.last_ns, old.rows, old.gaps, files)
    step = old.key.interval_ns
    # The runs of consecutive bars, old ones and one per added bar, merged in time order.
    runs = sorted(_present_runs(old) + [(int(t), int(t)) for t in added])
    gaps: list[Gap] = []
    merged_end = runs[0][1]
    for start, end in runs[1:]:
        if start - merged_end > step:
            gaps.append((merged_end + step, start))
        merged_end = max(merged_end, end)
    return Coverage(old.key, runs[0][0], merged_end, old.rows + int(added.size), tuple(gaps), files)


def _present_runs(coverage: Coverage) -> list[tuple[int, int]]:
    """The [first, last] runs of consecutive bars a coverage describes."""
    assert coverage.first_ns is not None
    assert coverage.last_ns is not None
    step = coverage.key.interval_ns
    runs = []
    start = coverage.first_ns
    for gap_start, gap_end in coverage.gaps:
        runs.append((start, gap_start - step))
        start = gap_end
    runs.append((start, coverage.last_ns))
    return runs


def read_coverage(path: Path, key: SeriesKey) -> Coverage | None:
    """The stored manifest, or None when missing, unreadable or of another series."""
    try:
        raw = json.loads((path / COVERAGE_FILE).read_text(encoding="utf-8"))
        if raw.get("version") != FORMAT_VERSION or (
            raw["venue"],
            raw["symbol"],
            raw["interval"],
        ) != (key.venue, key.symbol, key.interval):
            return None
        return Coverage(
            key,
            raw["first_ns"],
            raw["last_ns"],
            int(raw["rows"]),
            tuple((int(a), int(b)) for a, b in raw["gaps"]),
            tuple(raw["files"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_coverage(path: Path, coverage: Coverage) -> None:
    write_atomic(path / COVERAGE_FILE, json.dumps(coverage.to_json(), indent=1) + "\n")
