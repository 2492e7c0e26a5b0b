"""Which period partitions (``period=2024-05`` or ``period=2024``) a time range touches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from algotrade.core.timeutil import datetime_to_ns


def bounds(name: str) -> tuple[int, int] | None:
    """The [start, end) in ns of a partition named ``period=YYYY`` or ``period=YYYY-MM``."""
    text = name.removeprefix("period=")
    try:
        if len(text) == 4:
            year = int(text)
            return _ns(year, 1), _ns(year + 1, 1)
        year, month = int(text[:4]), int(text[5:7])
        if len(text) != 7 or text[4] != "-" or not 1 <= month <= 12:
            return None
    except ValueError:
        return None
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return _ns(year, month), _ns(*following)


def overlapping(folders: Sequence[Path], start_ns: int | None, end_ns: int | None) -> list[Path]:
    """The partitions holding bars that may open in [start_ns, end_ns)."""
    chosen = []
    for folder in folders:
        span = bounds(folder.name)
        if span is None:
            continue
        if end_ns is not None and span[0] >= end_ns:
            continue
        if start_ns is not None and span[1] <= start_ns:
            continue
        chosen.append(folder)
    return chosen


def _ns(year: int, month: int) -> int:
    return datetime_to_ns(datetime(year, month, 1, tzinfo=UTC))
