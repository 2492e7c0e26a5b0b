"""Turn a column of timestamps as files write them into integer nanoseconds since the epoch, UTC.

Accepted: ISO-8601 text (``2024-01-02T09:30:00Z``, ``+02:00`` offsets, a space instead of
``T``, optional fractional seconds or seconds, a bare date; no offset means UTC), integer
epochs (unit read from the magnitude, see ``EPOCH_UNITS``) as text or integers, and polars
datetime or date columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

_INT64_MAX = 2**63 - 1

# (exclusive upper bound of the column's largest |value|, unit name, ns per unit). Each
# unit's range starts where the previous one ends, so dates from 1973-03-03 to the year 5138
# read correctly in any unit; earlier epoch values would be read in too coarse a unit.
EPOCH_UNITS = (
    (10**11, "seconds", 1_000_000_000),
    (10**14, "milliseconds", 1_000_000),
    (10**17, "microseconds", 1_000),
    (None, "nanoseconds", 1),
)

# The layout nearly every file uses, tried alone first because an exact format parses ~3x
# faster than one with optional parts.
_COMMON_ISO = "%Y-%m-%dT%H:%M:%SZ"
_AWARE_ISO = (  # "%#z" takes Z, +02, +0200 and +02:00
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M%#z",
)
_NAIVE_ISO = (  # read as UTC
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_YYYYMMDD_RANGE = (19_000_101, 21_001_231)


@dataclass(frozen=True, slots=True)
class TimestampProblem:
    """The first timestamp that cannot be read: its 0-based row and what is wrong."""

    row: int
    message: str


def timestamps_to_ns(column: pl.Series) -> tuple[pl.Series, TimestampProblem | None]:
    """``column`` as Int64 ns UTC, and the first value that cannot be read, if any.

    The returned series holds nulls where the values could not be read.
    """
    dtype = column.dtype
    if dtype == pl.String:
        text = column.str.strip_chars()
        first = text.drop_nulls().first()
        if isinstance(first, str) and _INTEGER_TEXT.fullmatch(first):
            numbers = text.cast(pl.Int64, strict=False)
            problem = _first_unread(
                numbers, text, "is not an integer epoch timestamp like the first row"
            )
            if problem is not None:
                return numbers, problem
            return _epoch_to_ns(numbers)
        parsed = _parse_iso(text)
        return parsed, _first_unread(
            parsed, text, "is not an ISO-8601 timestamp like 2024-01-02T09:30:00Z"
        )
    if dtype.is_integer():
        numbers = column.cast(pl.Int64)
        problem = _first_unread(numbers, column)
        return (numbers, problem) if problem is not None else _epoch_to_ns(numbers)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC")
        ns = column.dt.cast_time_unit("ns").cast(pl.Int64)
        return ns, _first_unread(ns, column)
    if dtype == pl.Date:
        ns = column.cast(pl.Datetime("ns")).cast(pl.Int64)
        return ns, _first_unread(ns, column)
    unreadable = pl.Series(column.name, [None] * column.len(), pl.Int64)
    return unreadable, TimestampProblem(
        0, f"type {dtype} is not a timestamp; use ISO-8601 text, an integer epoch or a datetime"
    )


def _parse_iso(text: pl.Series) -> pl.Series:
    """Try each layout only on the rows no earlier layout could read."""
    result = _strptime(text, _COMMON_ISO, time_zone="UTC")
    for layout in (*_AWARE_ISO, *_NAIVE_ISO):
        unread = result.is_null() & text.is_not_null()
        if not unread.any():
            break
        rows = unread.arg_true()
        result = result.scatter(rows, _strptime(text.gather(rows), layout))
    return result


def _strptime(text: pl.Series, layout: str, time_zone: str | None = None) -> pl.Series:
    # A layout with an offset yields UTC datetimes; one without yields naive ones, whose
    # integer value is the same wall time read as UTC.
    parsed = text.str.to_datetime(layout, time_unit="ns", time_zone=time_zone, strict=False)
    return parsed.cast(pl.Int64)


def _first_unread(
    values: pl.Series, source: pl.Series, reason: str = "cannot be read"
) -> TimestampProblem | None:
    unread = values.is_null()
    if not unread.any():
        return None
    row = int(unread.arg_true()[0])
    original = source[row]
    if original is None or original == "":
        return TimestampProblem(row, "empty value")
    return TimestampProblem(row, f"{original!r} {reason}")


def _epoch_to_ns(numbers: pl.Series) -> tuple[pl.Series, TimestampProblem | None]:
    largest = numbers.abs().max()
    magnitude = largest if isinstance(largest, int) else 0
    if numbers.is_between(*_YYYYMMDD_RANGE).all():
        # 20240102 would silently become epoch second 20,240,102 (August 1970).
        return numbers, TimestampProblem(
            0, f"{numbers[0]} looks like a YYYYMMDD date, not an epoch; write it as ISO-8601"
        )
    unit, ns_per_unit = next(
        (unit, ns) for bound, unit, ns in EPOCH_UNITS if bound is None or magnitude < bound
    )
    limit = _INT64_MAX // ns_per_unit
    too_far = numbers.abs() > limit
    if too_far.any():
        row = int(too_far.arg_true()[0])
        return numbers, TimestampProblem(
            row,
            f"{numbers[row]} {unit} since 1970 is outside the years 1678..2261 "
            "that nanosecond timestamps can hold",
        )
    return numbers * ns_per_unit, None
