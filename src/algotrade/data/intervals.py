"""Bar intervals: ``1s``, ``5m``, ``1h``, ``1d`` … and their length in nanoseconds."""

from __future__ import annotations

import re

from algotrade.core.errors import InputError

INTERVAL_PATTERN = re.compile(r"^([1-9]\d{0,5})(s|m|h|d)$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND


def interval_seconds(interval: str, *, field: str = "interval") -> int:
    """Length of ``interval`` in seconds; ``InputError`` naming ``field`` when malformed."""
    match = INTERVAL_PATTERN.match(interval)
    if match is None:
        raise InputError(
            f"{field}: {interval!r} is not a bar interval; expected a count and a unit, "
            "e.g. 1m, 5m, 1h, 1d"
        )
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def interval_ns(interval: str, *, field: str = "interval") -> int:
    """Length of ``interval`` in nanoseconds; ``InputError`` naming ``field`` when malformed."""
    return interval_seconds(interval, field=field) * NS_PER_SECOND


def format_span(ns: int) -> str:
    """A time span in the largest unit that divides it: ``86_400 s`` → ``1d``, ``90 min`` →
    ``90m``; spans of no whole second in ``ms``, ``us`` or ``ns`` (the inverse of
    ``interval_ns`` for every interval)."""
    units = (
        ("d", NS_PER_DAY),
        ("h", 3600 * NS_PER_SECOND),
        ("m", 60 * NS_PER_SECOND),
        ("s", NS_PER_SECOND),
        ("ms", 1_000_000),
        ("us", 1_000),
    )
    for unit, size in units:
        if ns and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"
