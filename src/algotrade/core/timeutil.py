"""Timestamps are int nanoseconds since the Unix epoch (UTC); these helpers format and parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND


def ns_to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def ns_to_iso(ns: int) -> str:
    """ISO-8601 with a ``Z``; sub-second digits only when present."""
    moment = ns_to_datetime(ns)
    if ns % NS_PER_SECOND == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ns_to_iso_exact(ns: int) -> str:
    """ISO-8601 with a ``Z`` at full nanosecond precision; sub-second digits only when
    present, trailing zeros dropped (``...T09:30:00.5Z``)."""
    seconds, fraction = divmod(ns, NS_PER_SECOND)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def datetime_to_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone (UTC) first")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def iso_to_ns(text: str) -> int:
    """Parse ISO-8601 (``Z`` or offset; naive means UTC)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime_to_ns(moment)
