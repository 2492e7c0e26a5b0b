"""A bar file against its declared interval: the closest bars must be one interval apart,
longer gaps are fine however many, closer bars are not (``data.spacing``)."""

from __future__ import annotations

import polars as pl
import pytest

from algotrade.core.errors import DataError
from algotrade.data.intervals import format_span, interval_ns
from algotrade.data.spacing import check_bar_spacing

HOUR = interval_ns("1h")
DAY = interval_ns("1d")
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z, a Monday


def bars(times: list[int], symbol: str = "AAA") -> pl.DataFrame:
    return pl.DataFrame({"symbol": [symbol] * len(times), "ts": times})


def weekdays(count: int) -> list[int]:
    """``count`` daily bars, Monday to Friday: spacings of 1d and, over weekends, 3d."""
    return [T0 + DAY * (week * 7 + day) for week in range(count // 5 + 1) for day in range(5)][
        :count
    ]


def test_daily_bars_declared_hourly_are_refused_naming_file_spacing_and_interval() -> None:
    with pytest.raises(DataError) as caught:
        check_bar_spacing(bars(weekdays(30)), "1h", where="spy.csv")
    assert str(caught.value) == (
        "spy.csv: no two bars are closer than 1d, but the interval given is 1h"
    )


def test_gaps_longer_than_the_interval_are_accepted() -> None:
    check_bar_spacing(bars(weekdays(30)), "1d", where="spy.csv")  # weekends
    nights = [T0 + HOUR * (day * 24 + hour) for day in range(5) for hour in range(9, 17)]
    check_bar_spacing(bars(nights), "1h", where="spy-1h.csv")  # nights: 16h gaps
    missing = [T0 + HOUR * i for i in range(50) if i % 7 != 3]
    check_bar_spacing(bars(missing), "1h", where="btc.csv")  # missing bars


def test_bars_closer_than_the_interval_are_refused() -> None:
    times = [T0 + HOUR * i for i in range(10)]
    times.insert(5, times[4] + HOUR // 2)
    with pytest.raises(DataError) as caught:
        check_bar_spacing(bars(times), "1h", where="btc.csv")
    assert str(caught.value) == (
        "btc.csv: the bar at 2024-01-01T04:30:00Z is only 30m after the one before, "
        "closer than the interval given, 1h"
    )


def test_minute_bars_declared_hourly_name_their_spacing() -> None:
    with pytest.raises(DataError, match="is only 1m after the one before, closer than the"):
        check_bar_spacing(bars([T0 + 60_000_000_000 * i for i in range(90)]), "1h", where="f")


def test_a_single_bar_has_no_spacing_to_check() -> None:
    check_bar_spacing(bars([T0]), "1h", where="one.csv")
    check_bar_spacing(bars([T0, T0 + HOUR]), "1h", where="two.csv")


def test_each_symbol_is_checked_on_its_own_and_named() -> None:
    hourly = bars([T0 + HOUR * i for i in range(24)], "AAA")
    daily = bars([T0 + DAY * i for i in range(10)], "BBB")
    check_bar_spacing(pl.concat([hourly, bars([T0], "CCC")]), "1h", where="long.csv")
    with pytest.raises(DataError, match=r"^long.csv \(BBB\): no two bars are closer than 1d"):
        check_bar_spacing(pl.concat([hourly, daily]), "1h", where="long.csv")


def test_a_sparse_file_whose_most_common_gap_is_longer_is_accepted() -> None:
    # A venue that leaves out minutes without trades: most gaps are 2m or 3m, some are 1m.
    minute = 60_000_000_000
    gaps = [2, 3, 1, 2, 2, 3, 1, 2, 3, 2]
    times = [T0 + minute * sum(gaps[:i]) for i in range(len(gaps) + 1)]
    check_bar_spacing(bars(times), "1m", where="thin.csv")
    # No two bars one interval apart: these are 3d bars, not 1d ones.
    with pytest.raises(DataError, match="no two bars are closer than 3d, but the interval"):
        check_bar_spacing(bars([T0, T0 + 3 * DAY, T0 + 6 * DAY, T0 + 9 * DAY]), "1d", where="f")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (DAY, "1d"),
        (7 * DAY, "7d"),
        (HOUR, "1h"),
        (36 * HOUR, "36h"),
        (90 * 60_000_000_000, "90m"),
        (15_000_000_000, "15s"),
        (500_000_000, "500ms"),
        (7, "7ns"),
    ],
)
def test_format_span_uses_the_largest_whole_unit(ns: int, text: str) -> None:
    assert format_span(ns) == text
