"""Bars for the warm-tier tests, and exact comparisons."""

from __future__ import annotations

import numpy as np
import polars as pl

from algotrade.data.catalog import Catalog, SeriesKey

MINUTE_NS = 60_000_000_000
START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00Z


def bars(
    n: int, *, start_ns: int = START_NS, step_ns: int = MINUTE_NS, seed: int = 0
) -> pl.DataFrame:
    """``n`` valid bars with awkward floats: values that print long, tiny and huge magnitudes,
    a subnormal and a negative zero volume."""
    rng = np.random.default_rng(seed)
    close = np.exp(rng.normal(0, 3, n)) * rng.choice([1e-8, 0.1, 1.0, 1e6, 1e12], n)
    open_ = close * (1 + rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.01)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.01)
    volume = rng.random(n) * rng.choice([1e-3, 1.0, 1e9, 1e18], n)
    special = [
        (0.1 + 0.2, 0.30000000000000004, 0.1, 0.3, 1e308),
        (1e-300, 2e-300, 5e-324, 1e-300, 5e-324),
        (2.0**53 + 2, 2.0**53 + 4, 2.0**53, 2.0**53 + 2, 2.0**63),
        (1 / 3, 2 / 3, 1 / 7, 0.5, -0.0),
        (1.7976931348623157e308, 1.7976931348623157e308, 1e307, 1.5e308, 0.0),
    ]
    for row, values in enumerate(special[: min(n, len(special))]):
        open_[row], high[row], low[row], close[row], volume[row] = values
    return pl.DataFrame(
        {
            "ts": start_ns + np.arange(n, dtype=np.int64) * step_ns,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


def fill(catalog: Catalog, key: SeriesKey, n: int, **kwargs: int) -> pl.DataFrame:
    frame = bars(n, step_ns=key.interval_ns, **kwargs)
    result = catalog.append(key, frame)
    assert result.added == n
    return frame


def bits(frame: pl.DataFrame) -> dict[str, list[int] | list[str]]:
    """Every value as its exact bits: floats as uint64 (so -0.0 != 0.0), ts as int."""
    out: dict[str, list[int] | list[str]] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == pl.Float64:
            out[name] = column.to_numpy().view(np.uint64).tolist()
        elif column.dtype == pl.String:
            out[name] = column.to_list()
        else:
            out[name] = column.to_list()
    return out
