from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.core.errors import DataError, InputError
from algotrade.research.objectives import Objective, parse_objective
from algotrade.research.walkforward import (
    folds,
    load_summary,
    parse_fold_tag,
    save_summary,
    select_fold,
    summarize,
)

HOUR = 3_600_000_000_000
T0 = 1_704_067_200 * 1_000_000_000


@dataclass(frozen=True)
class Row:
    params: dict[str, Any]
    metrics: dict[str, Any]
    tag: str = ""
    error: str | None = None
    dataset: str = "d"
    window: tuple[int | None, int | None] = (None, None)
    extra: dict[str, Any] = field(default_factory=dict)


def hourly(n: int) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * HOUR


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=4, max_value=3_000),
    k=st.integers(min_value=1, max_value=12),
    fraction=st.floats(min_value=0.05, max_value=0.95),
    anchored=st.booleans(),
    gaps=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=7),
)
def test_fold_windows_cover_without_overlap_oos_after_is(
    n: int, k: int, fraction: float, anchored: bool, gaps: list[int]
) -> None:
    # Irregular bar spacing: windows must sit on bar boundaries, not on a clock grid.
    steps = np.resize(np.asarray(gaps, dtype=np.int64), n) * HOUR
    ts = T0 + np.cumsum(steps)
    message = ""
    try:
        result = folds(None, None, k, fraction, anchored, ts=ts)
    except InputError as exc:
        message, result = str(exc), []
    if not result:
        assert "too few bars per fold" in message
        # Refused only when some layout of k folds would leave a window under 2 bars: with
        # r = (1-f)/f, n >= 2(k+r) bars give 2 OOS bars and n >= 2(k+r)/r give 2 IS bars.
        ratio = (1 - fraction) / fraction
        assert n < 2 * (k + ratio) * max(1.0, 1.0 / ratio)
        return
    assert len(result) == k
    bar_set = set(ts.tolist())
    end = int(ts[-1]) + 1
    for fold in result:
        is_start, is_end = fold.is_window
        oos_start, oos_end = fold.oos_window
        assert is_start < is_end == oos_start < oos_end  # OOS right after IS
        assert {is_start, is_end, oos_start} <= bar_set  # bar boundaries
        assert oos_end in bar_set or oos_end == end
        assert fold.is_bars == int(((ts >= is_start) & (ts < is_end)).sum()) >= 2
        assert fold.oos_bars == int(((ts >= oos_start) & (ts < oos_end)).sum()) >= 2
        if anchored:
            assert is_start == int(ts[0])
    # OOS windows are contiguous, do not overlap and run to the end of the data...
    for before, after in itertools.pairwise(result):
        assert before.oos_window[1] == after.oos_window[0]
    assert result[-1].oos_window[1] == end
    # ...and, with the first IS window, every bar belongs to some window.
    assert result[0].is_window[0] == int(ts[0])
    # Rolling IS windows all have the same length; the first one is at least (1-f)/f of OOS.
    if not anchored:
        assert len({fold.is_bars for fold in result}) == 1
    assert result[0].is_bars >= result[0].oos_bars * (1 - fraction) / fraction - 1e-9


def test_folds_respect_range_and_duplicate_times() -> None:
    ts = hourly(100)
    doubled = np.concatenate([ts, ts])  # two symbols with the same bar times
    plain = folds(int(ts[10]), int(ts[90]), 4, 0.25, ts=ts)
    assert plain == folds(int(ts[10]), int(ts[90]), 4, 0.25, ts=doubled)
    assert plain[0].is_window[0] == int(ts[10])
    assert plain[-1].oos_window[1] == int(ts[90])
    assert sum(fold.oos_bars for fold in plain) + plain[0].is_bars == 80
    # 80 bars, 4 folds at 25 % OOS: o = floor(80 / (4 + 3)) = 11; first IS = 80 - 44 = 36.
    assert [fold.oos_bars for fold in plain] == [11, 11, 11, 11]
    assert plain[0].is_bars == 36
    assert plain[1].is_window[0] == int(ts[10 + 11])


def test_folds_errors_are_one_line() -> None:
    ts = hourly(10)
    with pytest.raises(InputError, match=r"^--folds 6 with --oos-fraction 0.2: too few bars"):
        folds(None, None, 6, 0.2, ts=ts)
    with pytest.raises(InputError, match="--oos-fraction"):
        folds(None, None, 2, 1.0, ts=ts)
    with pytest.raises(InputError, match="--folds"):
        folds(None, None, 0, 0.2, ts=ts)
    with pytest.raises(DataError, match="no bars"):
        folds(int(ts[-1]) + 1, None, 2, 0.2, ts=ts)


def test_fold_tags_round_trip() -> None:
    fold = folds(None, None, 3, 0.3, ts=hourly(50))[2]
    assert parse_fold_tag(fold.is_tag) == (2, "is")
    assert parse_fold_tag(fold.oos_tag) == (2, "oos")
    assert parse_fold_tag("") is None
    assert parse_fold_tag("is:x") is None
    assert parse_fold_tag("both:1") is None
    assert fold.is_tag == "is:2"


def test_selection_picks_the_in_sample_best_and_reports_its_oos() -> None:
    fold = folds(None, None, 1, 0.5, ts=hourly(20))[0]
    sharpe = parse_objective("sharpe")
    is_rows = [
        Row({"fast": 5}, {"sharpe": 1.0, "total_return": 0.1}),
        Row({"fast": 10}, {"sharpe": 2.5, "total_return": 0.2}),  # IS best
        Row({"fast": 15}, {"sharpe": None, "total_return": 0.9}),  # undefined: never chosen
        Row({"fast": 20}, {}, error="boom"),
    ]
    oos_rows = [
        Row({"fast": 5}, {"sharpe": 3.0, "total_return": 0.3}),  # OOS best is not picked
        Row({"fast": 10}, {"sharpe": -0.5, "total_return": -0.05}),
    ]
    result = select_fold(fold, reversed(is_rows), oos_rows, sharpe)
    assert result.params == {"fast": 10}
    assert result.is_value == 2.5
    assert result.oos_value == -0.5
    assert result.oos_metrics["total_return"] == -0.05
    # Minimising picks the other end; undefined values still never win.
    drawdown = Objective("sharpe", "min")
    assert select_fold(fold, is_rows, oos_rows, drawdown).params == {"fast": 5}


def test_selection_over_several_datasets_uses_the_mean_and_breaks_ties_by_params() -> None:
    fold = folds(None, None, 1, 0.5, ts=hourly(20))[0]
    sharpe = parse_objective("sharpe")
    is_rows = [
        Row({"a": 1}, {"sharpe": 3.0}, dataset="x"),
        Row({"a": 1}, {"sharpe": -1.0}, dataset="y"),  # mean 1.0
        Row({"a": 2}, {"sharpe": 1.5}, dataset="x"),
        Row({"a": 2}, {"sharpe": 1.5}, dataset="y"),  # mean 1.5: best
        Row({"a": 3}, {"sharpe": 9.0}, dataset="x"),
        Row({"a": 3}, {}, dataset="y", error="no bars"),  # failed on y: ranked last
    ]
    assert select_fold(fold, is_rows, [], sharpe).params == {"a": 2}
    tied = [Row({"b": 2}, {"sharpe": 1.0}), Row({"b": 1}, {"sharpe": 1.0})]
    assert select_fold(fold, tied, [], sharpe).params == {"b": 1}
    assert select_fold(fold, list(reversed(tied)), [], sharpe).params == {"b": 1}


def test_summary_from_tagged_rows_and_round_trip(tmp_path: Path) -> None:
    fold_list = folds(None, None, 2, 0.25, ts=hourly(40))
    rows = []
    is_sharpe = {0: {1: 1.0, 2: 2.0}, 1: {1: 3.0, 2: 0.5}}
    oos_return = {0: {1: 0.5, 2: 0.10}, 1: {1: -0.20, 2: 0.9}}
    for fold in fold_list:
        for p in (1, 2):
            rows.append(Row({"p": p}, {"sharpe": is_sharpe[fold.index][p]}, tag=fold.is_tag))
            oos = {"sharpe": p * 0.1, "total_return": oos_return[fold.index][p]}
            rows.append(Row({"p": p}, oos, tag=fold.oos_tag))
    rows.append(Row({"p": 1}, {"sharpe": 100.0}, tag="unrelated"))
    sharpe = parse_objective("sharpe")
    summary = summarize(fold_list, rows, sharpe, anchored=False, oos_fraction=0.25)
    assert [result.params for result in summary.results] == [{"p": 2}, {"p": 1}]
    assert summary.is_mean == pytest.approx((2.0 + 3.0) / 2)
    assert summary.oos_mean == pytest.approx((0.2 + 0.1) / 2)
    assert summary.oos_total_return == pytest.approx(1.10 * 0.80 - 1)
    save_summary(tmp_path, summary)
    loaded = load_summary(tmp_path)
    assert loaded == summary
    assert load_summary(tmp_path / "absent") is None


def test_fold_without_oos_result_says_why() -> None:
    fold = folds(None, None, 1, 0.5, ts=hourly(20))[0]
    result = select_fold(fold, [Row({"p": 1}, {"sharpe": 1.0})], [], parse_objective("sharpe"))
    assert result.oos_value is None
    assert "not evaluated out of sample" in result.note
    empty = select_fold(fold, [Row({"p": 1}, {"sharpe": None})], [], parse_objective("sharpe"))
    assert empty.params is None
    assert "no parameter set" in empty.note
