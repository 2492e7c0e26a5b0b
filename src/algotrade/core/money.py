"""Exact money helpers: every price, quantity, fee and balance is a ``Decimal``.

Floats are allowed for signals and indicators only. Where a float price must become money
(a fill at a bar's open), it goes through ``to_decimal``: ``repr`` of a float is the shortest
string that round-trips, so a price read as ``2.179012`` becomes exactly ``Decimal("2.179012")``.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal("0.0001")


def to_decimal(value: Decimal | int | float | str) -> Decimal:
    """Convert to ``Decimal`` without binary-float noise; rejects NaN and infinities."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError("a bool is not a number")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        result = Decimal(value.strip())
    else:
        raise TypeError(f"cannot convert {type(value).__name__} to Decimal")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def quantize_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``value`` to a multiple of ``step`` (tick or lot size) with the given rounding."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    units = (value / step).quantize(ONE, rounding=rounding)
    return (units * step).quantize(step)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round toward zero to a multiple of ``step``: sizes never round up past what was asked."""
    return quantize_to_step(value, step, ROUND_DOWN)


def decimal_text(value: Decimal) -> str:
    """Exact plain text: no exponent, no trailing zeros (``1E+2`` → ``100``, ``2.50`` → ``2.5``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
