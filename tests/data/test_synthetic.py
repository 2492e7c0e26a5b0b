"""generate_bars: SIMULATED random-walk bars that are valid, reproducible and well formed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.core.errors import ConfigError
from algotrade.data import synthetic
from algotrade.data.synthetic import generate_bars

JAN_1_2024 = 1_704_067_200_000_000_000


def _assert_well_formed(frame_columns: dict[str, np.ndarray]) -> None:
    open_, high, low, close, volume = (
        frame_columns[name] for name in ("open", "high", "low", "close", "volume")
    )
    assert (open_[1:] == close[:-1]).all()  # each bar opens at the previous close
    assert (high >= np.maximum(open_, close)).all()
    assert (low <= np.minimum(open_, close)).all()
    assert (low > 0).all()
    assert (volume > 0).all()
    for prices in (open_, high, low, close):
        assert np.array_equal(prices, np.round(prices, 2))
    assert np.array_equal(volume, np.round(volume, 4))


def _columns(n: int, **kwargs: object) -> dict[str, np.ndarray]:
    frame = generate_bars(n, **kwargs).frame  # type: ignore[arg-type]
    return {name: frame[name].to_numpy() for name in frame.columns}


def test_shape_symbol_and_timestamps() -> None:
    data = generate_bars(1_000, symbol="XYZ", interval_ns=5 * 60_000_000_000)

    assert len(data) == 1_000
    assert data.symbols == ["XYZ"]
    assert data.start_ns == JAN_1_2024
    assert np.all(np.diff(data.frame["ts"].to_numpy()) == 5 * 60_000_000_000)
    assert data.frame["open"][0] == 100.0


def test_bars_are_well_formed() -> None:
    _assert_well_formed(_columns(100_000))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    volatility=st.sampled_from([0.0, 0.0005, 0.01, 0.2, 1.0]),
    start_price=st.sampled_from([0.01, 0.5, 100.0, 50_000.0]),
)
def test_bars_are_well_formed_for_any_seed_and_volatility(
    seed: int, volatility: float, start_price: float
) -> None:
    _assert_well_formed(_columns(2_000, seed=seed, volatility=volatility, start_price=start_price))


def test_same_seed_same_bars_and_other_seed_other_bars() -> None:
    first = generate_bars(1_000, seed=42).frame
    again = generate_bars(1_000, seed=42).frame
    other = generate_bars(1_000, seed=43).frame

    assert first.equals(again)
    assert not first["close"].equals(other["close"])
    assert not first["volume"].equals(other["volume"])


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2024-01-01T00:00:00Z", JAN_1_2024),
        ("2024-01-01T01:00:00+01:00", JAN_1_2024),
        ("2024-01-01", JAN_1_2024),
        ("2024-01-01T00:00:00.000001", JAN_1_2024 + 1_000),
        (JAN_1_2024 + 7, JAN_1_2024 + 7),
    ],
)
def test_start_accepts_iso_text_or_epoch_ns(start: str | int, expected: int) -> None:
    assert generate_bars(1, start=start).start_ns == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n": 0}, "n must be >= 1"),
        ({"n": 5, "interval_ns": 0}, "interval_ns must be >= 1"),
        ({"n": 5, "start_price": 0.0}, "start_price must be >= 0.01"),
        ({"n": 5, "start_price": float("nan")}, "start_price must be"),
        ({"n": 5, "volatility": -0.1}, "volatility must be >= 0"),
        ({"n": 5, "start": "not a date"}, "start 'not a date' is not an ISO-8601 timestamp"),
    ],
)
def test_invalid_arguments(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_bars(**arguments)  # type: ignore[arg-type]


def test_docs_say_the_data_is_simulated() -> None:
    assert "SIMULATED" in (synthetic.__doc__ or "")
    assert "SIMULATED" in (generate_bars.__doc__ or "")
