"""Exact money helpers: every price, quantity, fee and balance is a ``Decimal``.

Floats are allowed for signals and indicators only. Where a float price must become money
(a fill at a bar's open), it goes through ``to_decimal``: ``repr`` of a float is the shortest
string that round-trips, so a price read as ``2.179012`` becomes exactly ``Decimal("2.179012")``.

Precision (docs/backtest-semantics.md, "Precision"):

- prices and sizes of orders and fills sit on the instrument's tick and lot grid;
- money booked (notional, fees, cash, realized and unrealized PnL, equity) is rounded to
  ``MONEY_QUANTUM`` (1e-8) with ``ROUND_HALF_EVEN`` where it is booked (``book_money``);
- derived prices (average entry, exit and fill prices) are divisions and are rounded to
  ``DERIVED_PRICE_QUANTUM`` (1e-12), half-even (``derived_price``);
- inputs are bounded (``MAX_MAGNITUDE``, ``MAX_DECIMALS``) so every booked value fits the
  28 significant digits of the default decimal context exactly.
"""

from __future__ import annotations

from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal("0.0001")

MONEY_QUANTUM = Decimal("1E-8")
DERIVED_PRICE_QUANTUM = Decimal("1E-12")
MONEY_ROUNDING = ROUND_HALF_EVEN
# Largest magnitude of any price, size, balance or parameter we accept, and the most decimal
# places: 1e15 with 12 decimals is 27 digits, inside the context's 28, so nothing booked is
# ever rounded by the context itself.
MAX_MAGNITUDE = Decimal("1E15")
MAX_DECIMALS = 12


# Products of bounded inputs (27 digits each, up to four factors) are computed in this
# context, exact, and only then rounded once to their quantum; the default context's 28 digits
# would round a product of two such numbers silently, or refuse to quantize it.
EXACT = Context(
    prec=120, rounding=MONEY_ROUNDING, traps=[InvalidOperation, DivisionByZero, Overflow]
)


# Bound once: these run several times per fill, and a keyword argument or an attribute lookup
# on each call costs more than the decimal operation itself.
_multiply = EXACT.multiply
_divide = EXACT.divide


def book_money(value: Decimal) -> Decimal:
    """Round an amount of money to the booking quantum (1e-8, half-even)."""
    return value.quantize(MONEY_QUANTUM, MONEY_ROUNDING, EXACT)


def derived_price(value: Decimal) -> Decimal:
    """Round a derived price (an average) to 1e-12, half-even."""
    return value.quantize(DERIVED_PRICE_QUANTUM, MONEY_ROUNDING, EXACT)


def book_product(*factors: Decimal) -> Decimal:
    """The exact product of ``factors`` (qty × price × multiplier [× rate]), booked."""
    product = ONE
    for factor in factors:
        product = _multiply(product, factor)
    return product.quantize(MONEY_QUANTUM, MONEY_ROUNDING, EXACT)


def book_share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``amount × part ÷ whole`` (a pro-rata share of booked money), booked."""
    return _divide(_multiply(amount, part), whole).quantize(MONEY_QUANTUM, MONEY_ROUNDING, EXACT)


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
    units = (value / step).quantize(ONE, rounding)
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


def bounded_decimal(value: Decimal, what: str, *, max_decimals: int = MAX_DECIMALS) -> Decimal:
    """``value`` if it is finite, below ``MAX_MAGNITUDE`` and has at most ``max_decimals``
    decimal places; else ``ValueError`` naming ``what``. Guards every numeric input, so an
    absurd exponent (``1e-999999999``) never reaches arithmetic, text or a database. Only
    structural checks here: arithmetic on such a value could itself overflow."""
    if not value.is_finite():
        raise ValueError(f"{what}: expected a finite number, got {value}")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    if not any(digits):
        return ZERO  # 0E-999999999 is zero too, without a billion digits of text
    if value.adjusted() >= MAX_MAGNITUDE.adjusted():
        raise ValueError(f"{what}: expected a magnitude below 1e15, got {_short(value)}")
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if -exponent - trailing_zeros > max_decimals:
        raise ValueError(
            f"{what}: expected at most {max_decimals} decimal places, got {_short(value)}"
        )
    return value


def _short(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 30 else f"a number of the order of 1e{value.adjusted()}"
