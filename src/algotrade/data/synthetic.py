"""SIMULATED market data: seeded random-walk bars for tests, demos and benchmarks.

Nothing here resembles a real market beyond the OHLCV shape; never draw trading conclusions
from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from algotrade.core.errors import ConfigError
from algotrade.core.timeutil import NS_PER_SECOND
from algotrade.data.bars import BarData

_MIN_PRICE = 0.01  # one cent: rounding to 2 decimals must never produce a zero price
_MIN_VOLUME = 0.0001  # smallest positive volume at 4 decimals
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def generate_bars(
    n: int,
    *,
    symbol: str = "SYN",
    seed: int = 0,
    start: str | int = "2024-01-01T00:00:00Z",
    interval_ns: int = 60_000_000_000,
    start_price: float = 100.0,
    volatility: float = 0.0005,
) -> BarData:
    """``n`` bars of SIMULATED data: a seeded geometric random walk, not market prices.

    Close-to-close log returns are normal with standard deviation ``volatility`` per bar;
    each bar opens at the previous close (the first at ``start_price``), wicks extend
    beyond the body by a random fraction of ``volatility``, and volume is lognormal. Prices
    are rounded to 2 decimals and kept >= 0.01, volumes to 4 decimals and kept > 0. ``start``
    is the first bar's open time, ISO-8601 (no offset means UTC) or epoch ns. The same
    arguments always give the same bars.
    """
    _check_arguments(n, interval_ns, start_price, volatility)
    rng = np.random.default_rng(seed)
    # Draw every random number up front, in a fixed order, so output depends only on seed.
    log_returns = rng.normal(0.0, volatility, n)
    upper_wicks = np.abs(rng.normal(0.0, volatility / 2, n))
    lower_wicks = np.abs(rng.normal(0.0, volatility / 2, n))
    volumes = rng.lognormal(mean=np.log(1_000.0), sigma=0.5, size=n)

    close = _prices(start_price * np.exp(np.cumsum(log_returns)))
    open_ = np.empty(n)
    open_[0] = _prices(np.array([start_price]))[0]
    open_[1:] = close[:-1]
    body_top = np.maximum(open_, close)
    body_bottom = np.minimum(open_, close)
    # Rounding can move a wick back inside the body; max/min put it back on the edge.
    high = np.maximum(_prices(body_top * (1 + upper_wicks)), body_top)
    low = np.minimum(_prices(body_bottom * (1 - lower_wicks)), body_bottom)

    first_ts = _start_ns(start)
    frame = pl.DataFrame(
        {
            "symbol": pl.Series([symbol], dtype=pl.String).new_from_index(0, n),
            "ts": np.arange(n, dtype=np.int64) * interval_ns + first_ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.maximum(np.round(volumes, 4), _MIN_VOLUME),
        }
    )
    return BarData.from_frame(frame, source=f"generate_bars(symbol={symbol!r}, seed={seed})")


def _prices(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(values, 2), _MIN_PRICE)


def _check_arguments(n: int, interval_ns: int, start_price: float, volatility: float) -> None:
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if interval_ns < 1:
        raise ConfigError(f"interval_ns must be >= 1, got {interval_ns}")
    if not np.isfinite(start_price) or start_price < _MIN_PRICE:
        raise ConfigError(f"start_price must be >= {_MIN_PRICE}, got {start_price}")
    if not np.isfinite(volatility) or volatility < 0:
        raise ConfigError(f"volatility must be >= 0, got {volatility}")


def _start_ns(start: str | int) -> int:
    if isinstance(start, int):
        return start
    try:
        moment = datetime.fromisoformat(start)
    except ValueError as error:
        raise ConfigError(f"start {start!r} is not an ISO-8601 timestamp") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Integer timedelta parts, not float seconds, so the result is exact to the microsecond.
    since_epoch = moment - _EPOCH
    whole_seconds = since_epoch.days * 86_400 + since_epoch.seconds
    return whole_seconds * NS_PER_SECOND + since_epoch.microseconds * 1_000
