"""Where a series lives in the catalog, and its partitions by period.

``<root>/venue=<v>/symbol=<s>/interval=<i>/period=<p>/`` holds ``data.parquet`` (compacted)
and ``delta-NNNNNN.parquet`` files (appends not yet compacted; a higher number was written
later). Intraday series are partitioned by month (``2024-05``), daily and longer ones by year
(``2024``), so a month of 1-minute bars is one file of ~43k rows once compacted. Names are
percent-encoded outside ``[A-Za-z0-9._-]`` so any venue symbol (``BTC/USDT:USDT``) is one
path component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from algotrade.core.errors import InputError
from algotrade.data.intervals import NS_PER_DAY, interval_ns

DATA_FILE = "data.parquet"
DELTA_PREFIX = "delta-"
COVERAGE_FILE = "coverage.json"
LOCK_FILE = ".lock"
_SAFE = "-._"
_DELTA = re.compile(r"^delta-(\d{6,})\.parquet$")
MAX_NAME = 120


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """One series of bars: a venue's symbol at one interval."""

    venue: str
    symbol: str
    interval: str

    def __post_init__(self) -> None:
        for field, value in (("venue", self.venue), ("symbol", self.symbol)):
            usable = 0 < len(value) <= MAX_NAME and value.isprintable()
            if not usable or value != value.strip():
                raise InputError(
                    f"{field}: {value!r} is not a usable name; expected 1-{MAX_NAME} printable "
                    "characters without surrounding spaces"
                )
        interval_ns(self.interval)

    @property
    def interval_ns(self) -> int:
        return interval_ns(self.interval)

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}:{self.interval}"


def encode(name: str) -> str:
    return quote(name, safe=_SAFE)


def decode(part: str) -> str:
    return unquote(part)


def series_dir(root: Path, key: SeriesKey) -> Path:
    return (
        root
        / f"venue={encode(key.venue)}"
        / f"symbol={encode(key.symbol)}"
        / f"interval={key.interval}"
    )


def key_of(series: Path) -> SeriesKey | None:
    """The key a series directory stands for, or None when the path is not one."""
    parts = [series.parent.parent.name, series.parent.name, series.name]
    prefixes = ("venue=", "symbol=", "interval=")
    if not all(part.startswith(prefix) for part, prefix in zip(parts, prefixes, strict=True)):
        return None
    try:
        return SeriesKey(
            decode(parts[0].removeprefix("venue=")),
            decode(parts[1].removeprefix("symbol=")),
            parts[2].removeprefix("interval="),
        )
    except InputError:
        return None


def period_format(interval_length_ns: int) -> str:
    """strftime layout of the period partitions of a series with bars this long."""
    return "%Y" if interval_length_ns >= NS_PER_DAY else "%Y-%m"


def period_dirs(series: Path) -> list[Path]:
    if not series.is_dir():
        return []
    return sorted(p for p in series.iterdir() if p.is_dir() and p.name.startswith("period="))


def partition_files(period: Path) -> list[Path]:
    """The partition's files in the order their rows were written: ``data.parquet`` first,
    then deltas by number (a bar stored twice keeps its first-written values)."""
    files = [period / DATA_FILE] if (period / DATA_FILE).is_file() else []
    deltas = sorted(
        (int(match.group(1)), path)
        for path in period.glob(f"{DELTA_PREFIX}*.parquet")
        if (match := _DELTA.match(path.name)) is not None
    )
    return files + [path for _, path in deltas]


def next_delta(period: Path) -> Path:
    numbers = [
        int(match.group(1))
        for path in period.glob(f"{DELTA_PREFIX}*.parquet")
        if (match := _DELTA.match(path.name)) is not None
    ]
    return period / f"{DELTA_PREFIX}{max(numbers, default=0) + 1:06d}.parquet"
