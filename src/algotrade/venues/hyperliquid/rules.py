"""Hyperliquid perpetuals' local order rules ("Tick and lot size" in Hyperliquid's docs).

- A price has at most 5 significant figures and at most ``6 - szDecimals`` decimal places.
  Integer prices are always allowed, whatever their number of significant figures
  (``123456`` is valid, ``12345.6`` is not).
- A size is a multiple of ``10^-szDecimals``.
- An order's value (size × price) is at least 10 USD.

The price grid is therefore not fixed: its step at a price ``px`` is
``10^-max(0, min(6 - szDecimals, 4 - exponent(px)))`` (see ``price_step``).

Rounding direction (``round_price``'s ``side``):

- ``side=None``: half-even, to the nearest valid price.
- ``side="buy"``: up (``ROUND_CEILING``); ``side="sell"``: down (``ROUND_FLOOR``). This is the
  aggressive direction, used for marketable IOC "market" orders so that rounding never tightens
  the slippage bound. For a resting limit order that must never be more aggressive than asked,
  pass the opposite side (a buy limit rounded with ``side="sell"`` rounds down).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

from algotrade.core.instruments import Instrument
from algotrade.core.money import ONE, ZERO, decimal_text
from algotrade.venues.hyperliquid.errors import HlOrderRejected, HlPayloadError

__all__ = [
    "MAX_PERP_DECIMALS",
    "MAX_PRICE_SIG_FIGS",
    "MIN_ORDER_VALUE",
    "HlAsset",
    "Side",
    "market_price",
    "max_price_decimals",
    "price_step",
    "round_price",
    "round_size",
    "to_instrument",
    "validate_order",
]

Side = Literal["buy", "sell"]

MAX_PERP_DECIMALS = 6
MAX_PRICE_SIG_FIGS = 5
MIN_ORDER_VALUE = Decimal(10)
VENUE = "hyperliquid"


@dataclass(frozen=True, slots=True)
class HlAsset:
    """One perpetual from ``meta.universe``: ``asset`` is its index there (the order's ``a``)."""

    name: str
    asset: int
    sz_decimals: int
    max_leverage: int
    isolated_only: bool = False  # the venue allows no cross margin on it

    def __post_init__(self) -> None:
        if not self.name:
            raise HlPayloadError("asset name must not be empty")
        if self.asset < 0:
            raise HlPayloadError(f"asset {self.name}: index {self.asset} must not be negative")
        if not 0 <= self.sz_decimals <= MAX_PERP_DECIMALS:
            raise HlPayloadError(
                f"asset {self.name}: szDecimals {self.sz_decimals} "
                f"is outside 0..{MAX_PERP_DECIMALS}"
            )
        if self.max_leverage < 1:
            raise HlPayloadError(
                f"asset {self.name}: maxLeverage {self.max_leverage} must be at least 1"
            )

    @classmethod
    def from_meta(cls, index: int, entry: Mapping[str, object]) -> HlAsset:
        """Build from one ``meta.universe`` entry (``{"name", "szDecimals", "maxLeverage"}``)."""
        name = entry.get("name")
        sz_decimals = entry.get("szDecimals")
        max_leverage = entry.get("maxLeverage")
        if not isinstance(name, str):
            raise HlPayloadError(f"meta.universe[{index}]: name missing or not a string")
        for key, value in (("szDecimals", sz_decimals), ("maxLeverage", max_leverage)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise HlPayloadError(f"meta.universe[{index}] ({name}): {key} is not an integer")
        assert isinstance(sz_decimals, int)
        assert isinstance(max_leverage, int)
        return cls(name=name, asset=index, sz_decimals=sz_decimals, max_leverage=max_leverage)

    @property
    def lot_size(self) -> Decimal:
        return Decimal(1).scaleb(-self.sz_decimals)

    @property
    def max_price_decimals(self) -> int:
        return MAX_PERP_DECIMALS - self.sz_decimals


def to_instrument(asset: HlAsset) -> Instrument:
    """The asset as a generic ``Instrument``, with its grids as closely as a fixed grid allows.

    ``tick_size`` is ``10^-(6 - szDecimals)``, the finest price step; the 5-significant-figure
    rule makes the real step coarser for larger prices, so prices must still go through
    ``round_price``/``validate_order`` before being sent.
    """
    return Instrument(
        symbol=asset.name,
        tick_size=Decimal(1).scaleb(-asset.max_price_decimals),
        lot_size=asset.lot_size,
        min_qty=asset.lot_size,
        min_notional=MIN_ORDER_VALUE,
        venue=VENUE,
        extra={
            "asset": str(asset.asset),
            "sz_decimals": str(asset.sz_decimals),
            "max_leverage": str(asset.max_leverage),
            "price_rule": f"<= {MAX_PRICE_SIG_FIGS} significant figures unless integer",
        },
    )


def max_price_decimals(px: Decimal, asset: HlAsset) -> int:
    """Decimal places a price of this magnitude may have (0 means integers only)."""
    sig_fig_decimals = MAX_PRICE_SIG_FIGS - 1 - px.adjusted()
    return max(0, min(asset.max_price_decimals, sig_fig_decimals))


def price_step(px: Decimal, asset: HlAsset) -> Decimal:
    """The valid-price grid step around ``px`` (positive ``px``)."""
    return Decimal(1).scaleb(-max_price_decimals(px, asset))


def _canonical(value: Decimal) -> Decimal:
    """Strip trailing zeros without turning integers into exponent form (``1E+2``)."""
    if value == value.to_integral_value():
        return value.quantize(ONE)
    return value.normalize()


def _check_positive(what: str, value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise HlOrderRejected(f"{what} {value} must be a positive number", rule="non_positive")


def round_price(px: Decimal, asset: HlAsset, *, side: Side | None = None) -> Decimal:
    """Round a positive price to a valid Hyperliquid price.

    Half-even when ``side`` is None; up for ``"buy"`` and down for ``"sell"`` (see the module
    docstring). Integers are returned unchanged. Raises ``HlOrderRejected`` for a non-positive
    price or one that rounds to zero.
    """
    _check_positive("price", px)
    if side is None:
        rounding = ROUND_HALF_EVEN
    elif side == "buy":
        rounding = ROUND_CEILING
    elif side == "sell":
        rounding = ROUND_FLOOR
    else:
        raise ValueError(f"side must be 'buy', 'sell' or None, got {side!r}")
    if px == px.to_integral_value():
        return _canonical(px)
    rounded = px.quantize(price_step(px, asset), rounding=rounding)
    if rounded <= 0:
        raise HlOrderRejected(
            f"price {decimal_text(px)} rounds to 0 for {asset.name} "
            f"(at most {asset.max_price_decimals} decimals)",
            rule="non_positive",
        )
    return _canonical(rounded)


def round_size(sz: Decimal, asset: HlAsset) -> Decimal:
    """Round a size toward zero to ``szDecimals`` decimals (never increases ``|sz|``)."""
    if not sz.is_finite():
        raise HlOrderRejected(f"size {sz} is not a finite number", rule="non_positive")
    return sz.quantize(asset.lot_size, rounding=ROUND_DOWN)


def validate_order(
    px: Decimal, sz: Decimal, asset: HlAsset, *, min_value: Decimal = MIN_ORDER_VALUE
) -> None:
    """Raise ``HlOrderRejected`` naming the first rule that ``px``/``sz`` break.

    Checks, in order: positive price and size, price decimals (``6 - szDecimals``), price
    significant figures (5, integers exempt), size decimals (``szDecimals``), order value
    (``px × sz >= min_value``; pass ``min_value=0`` to skip it).
    """
    _check_positive("price", px)
    _check_positive("size", sz)
    px_text = decimal_text(px)
    norm = px.normalize()
    if px != px.to_integral_value():
        decimals = -norm.as_tuple().exponent  # type: ignore[operator]
        if decimals > asset.max_price_decimals:
            raise HlOrderRejected(
                f"price {px_text} has more than {asset.max_price_decimals} decimals for "
                f"{asset.name} (szDecimals {asset.sz_decimals})",
                rule="price_decimals",
            )
        if len(norm.as_tuple().digits) > MAX_PRICE_SIG_FIGS:
            raise HlOrderRejected(
                f"price {px_text} has more than {MAX_PRICE_SIG_FIGS} significant figures",
                rule="price_sig_figs",
            )
    if sz.quantize(asset.lot_size, rounding=ROUND_DOWN) != sz:
        raise HlOrderRejected(
            f"size {decimal_text(sz)} is not a multiple of {decimal_text(asset.lot_size)} "
            f"(szDecimals {asset.sz_decimals})",
            rule="size_decimals",
        )
    value = px * sz
    if value < min_value:
        raise HlOrderRejected(
            f"order value {decimal_text(value)} is below the {decimal_text(min_value)} USD minimum",
            rule="min_value",
        )


def market_price(mid: Decimal, side: Side, slippage: Decimal, asset: HlAsset) -> Decimal:
    """The limit price of an IOC "market" order: ``mid × (1 ± slippage)``, rounded outward.

    Buys use ``mid × (1 + slippage)`` rounded up, sells ``mid × (1 - slippage)`` rounded down,
    so rounding only widens the slippage bound. ``slippage`` must be in ``[0, 1)``.
    """
    if not ZERO <= slippage < ONE:
        raise ValueError(f"slippage must be in [0, 1), got {slippage}")
    _check_positive("mid price", mid)
    if side == "buy":
        raw = mid * (ONE + slippage)
    elif side == "sell":
        raw = mid * (ONE - slippage)
    else:
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    return round_price(raw, asset, side=side)
