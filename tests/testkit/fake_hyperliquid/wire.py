"""Wire helpers of the fake Hyperliquid: number text, venue order rules, candle intervals.

The fake checks prices and sizes with its own code (not ``algotrade.venues.hyperliquid.rules``)
so that a bug in the client's rounding is caught rather than mirrored.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "INTERVAL_MS",
    "MAX_DECIMALS",
    "AssetSpec",
    "BadRequest",
    "fmt",
    "fmt_opt",
    "make_hash",
    "parse_decimal",
    "price_is_valid",
    "round_sig",
    "size_is_valid",
    "synthetic_candles",
]

MAX_DECIMALS = 6  # perpetuals: a price has at most 6 - szDecimals decimals
MAX_SIG_FIGS = 5

_MINUTE = 60_000
INTERVAL_MS: dict[str, int] = {
    "1m": _MINUTE,
    "3m": 3 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "1h": 60 * _MINUTE,
    "2h": 120 * _MINUTE,
    "4h": 240 * _MINUTE,
    "8h": 480 * _MINUTE,
    "12h": 720 * _MINUTE,
    "1d": 1440 * _MINUTE,
    "3d": 3 * 1440 * _MINUTE,
    "1w": 7 * 1440 * _MINUTE,
    "1M": 30 * 1440 * _MINUTE,
}


class BadRequest(Exception):
    """A request the real API would refuse to deserialize: answered with HTTP 422."""


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """One perpetual of the fake's universe; its index in the universe is the order's ``a``."""

    name: str
    sz_decimals: int
    max_leverage: int
    mid: Decimal
    margin_mode: str | None = None  # "strictIsolated" / "noCross": no cross margin

    @property
    def lot(self) -> Decimal:
        return Decimal(1).scaleb(-self.sz_decimals)


def fmt(value: Decimal | int) -> str:
    """Number text as Hyperliquid renders it: plain, at least one decimal (``65000.0``)."""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    else:
        text += ".0"
    return "0.0" if text in ("-0.0", "") else text


def fmt_opt(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def parse_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequest(f"{what}: expected a number string, got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"{what}: not a number: {value!r}") from None
    if not result.is_finite():
        raise BadRequest(f"{what}: not a finite number: {value!r}")
    return result


def price_is_valid(px: Decimal, sz_decimals: int) -> bool:
    """At most 5 significant figures (integers always pass) and 6 - szDecimals decimals."""
    if px <= 0:
        return False
    norm = px.normalize()
    exponent = int(norm.as_tuple().exponent)
    if exponent >= 0:  # an integer price
        return True
    if -exponent > MAX_DECIMALS - sz_decimals:
        return False
    return len(norm.as_tuple().digits) <= MAX_SIG_FIGS


def size_is_valid(sz: Decimal, sz_decimals: int) -> bool:
    """Positive and a multiple of 10^-szDecimals."""
    if sz <= 0:
        return False
    return int(sz.normalize().as_tuple().exponent) >= -sz_decimals


def round_sig(value: Decimal, sz_decimals: int) -> Decimal:
    """``value`` rounded to a valid price: 5 significant figures, 6 - szDecimals decimals."""
    if value >= Decimal(10) ** MAX_SIG_FIGS:
        return value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    step_exp = max(value.adjusted() - (MAX_SIG_FIGS - 1), -(MAX_DECIMALS - sz_decimals))
    return value.quantize(Decimal(1).scaleb(step_exp), rounding=ROUND_HALF_EVEN)


def make_hash(*parts: object) -> str:
    """A deterministic 32-byte transaction hash (``0x`` + 64 hex digits)."""
    text = "|".join(str(p) for p in parts)
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def candle(
    coin: str,
    interval: str,
    t_ms: int,
    o: Decimal,
    h: Decimal,
    low: Decimal,
    c: Decimal,
    v: Decimal,
    n: int,
) -> dict[str, Any]:
    """A candle as ``candleSnapshot`` and the ``candle`` channel send it (T = t + interval - 1)."""
    return {
        "t": t_ms,
        "T": t_ms + INTERVAL_MS[interval] - 1,
        "s": coin,
        "i": interval,
        "o": fmt(o),
        "c": fmt(c),
        "h": fmt(h),
        "l": fmt(low),
        "v": fmt(v),
        "n": n,
    }


def synthetic_candles(
    coin: str,
    interval: str,
    start_ms: int,
    count: int,
    start_price: Decimal,
    seed: int,
    sz_decimals: int,
) -> list[dict[str, Any]]:
    """A deterministic random walk of ``count`` candles from ``start_ms`` (same seed: same bars)."""
    if interval not in INTERVAL_MS:
        raise ValueError(f"unknown interval {interval!r}")
    rng = random.Random(seed)
    step = INTERVAL_MS[interval]
    price = float(start_price)
    out = []
    for i in range(count):
        open_px = price
        close_px = max(open_px * (1 + rng.gauss(0, 0.002)), 1e-6)
        high_px = max(open_px, close_px) * (1 + abs(rng.gauss(0, 0.001)))
        low_px = min(open_px, close_px) * (1 - abs(rng.gauss(0, 0.001)))
        o, h, lo, c = (
            round_sig(Decimal(repr(x)), sz_decimals) for x in (open_px, high_px, low_px, close_px)
        )
        h = max(h, o, c)
        lo = min(lo, o, c)
        volume = Decimal(repr(round(rng.uniform(1, 100), 2)))
        out.append(
            candle(coin, interval, start_ms + i * step, o, h, lo, c, volume, rng.randint(1, 500))
        )
        price = close_px
    return out
