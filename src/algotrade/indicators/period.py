"""The one check every indicator makes of its lookback periods."""

from __future__ import annotations


def check_period(label: str, period: object) -> int:
    """``period`` when it is a positive integer (not a bool), else ``ValueError`` naming
    ``label`` ("SMA", "MACD fast", ...)."""
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise ValueError(f"{label} period must be a positive integer, got {period!r}")
    return period
