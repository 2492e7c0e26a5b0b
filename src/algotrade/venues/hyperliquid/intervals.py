"""Hyperliquid's candle intervals (no imports: the daemon validates bot configs with it)."""

from __future__ import annotations

_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS
#: Hyperliquid's fixed-length candle intervals and their length in ms.
INTERVAL_MS: dict[str, int] = {
    "1m": _MINUTE_MS,
    "3m": 3 * _MINUTE_MS,
    "5m": 5 * _MINUTE_MS,
    "15m": 15 * _MINUTE_MS,
    "30m": 30 * _MINUTE_MS,
    "1h": _HOUR_MS,
    "2h": 2 * _HOUR_MS,
    "4h": 4 * _HOUR_MS,
    "8h": 8 * _HOUR_MS,
    "12h": 12 * _HOUR_MS,
    "1d": _DAY_MS,
    "3d": 3 * _DAY_MS,
    "1w": 7 * _DAY_MS,
}
#: Every candle interval, with "1M" (a calendar month) counted as 30 days.
CANDLE_INTERVALS: dict[str, int] = {**INTERVAL_MS, "1M": 30 * _DAY_MS}


def shortest_step_ms(interval: str) -> int:
    """The least time from one candle's open to the next one's (28 days for "1M"): a range
    ends before ``last open + this`` only when no candle can be left in it."""
    return 28 * _DAY_MS if interval == "1M" else CANDLE_INTERVALS[interval]
