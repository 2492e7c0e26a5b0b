"""Local-time math for daily resets and trading sessions (event time, never the wall clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from algotrade.core.timeutil import datetime_to_ns
from algotrade.risk.rules_config import DailyReset, SessionHours


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(ts: int, tz: str) -> datetime:
    return datetime.fromtimestamp(ts / 1e9, tz=UTC).astimezone(zone(tz))


def reset_on(day: date, reset: DailyReset) -> int:
    """The reset moment on a local calendar day (DST-aware), in ns."""
    moment = datetime.combine(day, reset.at(), tzinfo=zone(reset.timezone))
    return datetime_to_ns(moment)


def last_reset_at_or_before(ts: int, reset: DailyReset) -> int:
    today = local(ts, reset.timezone).date()
    moment = reset_on(today, reset)
    return moment if moment <= ts else reset_on(today - timedelta(days=1), reset)


def next_reset_after(ts: int, reset: DailyReset) -> int:
    today = local(ts, reset.timezone).date()
    moment = reset_on(today, reset)
    return moment if moment > ts else reset_on(today + timedelta(days=1), reset)


def trading_day(ts: int, reset: DailyReset) -> str:
    """The session a moment belongs to, named by the local date on which it ends (resets)."""
    return local(next_reset_after(ts, reset), reset.timezone).date().isoformat()


def in_session(ts: int, session: SessionHours) -> bool:
    moment = local(ts, session.timezone)
    if moment.date() in session.holidays:
        return False
    now = moment.time()
    return any(start <= now < end for start, end in session.by_weekday.get(moment.weekday(), []))


def next_session_start(ts: int, session: SessionHours, horizon_days: int = 14) -> int | None:
    """The next moment a window opens after ``ts`` (for 'locked until session start')."""
    moment = local(ts, session.timezone)
    windows = session.by_weekday
    for offset in range(horizon_days):
        day = moment.date() + timedelta(days=offset)
        if day in session.holidays:
            continue
        for start, _ in sorted(windows.get(day.weekday(), [])):
            candidate = datetime.combine(day, start, tzinfo=zone(session.timezone))
            ns = datetime_to_ns(candidate)
            if ns > ts:
                return ns
    return None
