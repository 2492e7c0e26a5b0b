"""Hyperliquid perp order rules: price sig figs/decimals, size decimals, minimum value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from algotrade.core.errors import AlgoTradeError, OrderRejectedError, RetryableError
from algotrade.venues.hyperliquid.errors import (
    HlOrderRejected,
    HlPayloadError,
    HlRateLimited,
    HlRequestFailed,
    HyperliquidError,
)
from algotrade.venues.hyperliquid.rules import (
    MIN_ORDER_VALUE,
    HlAsset,
    market_price,
    price_step,
    round_price,
    round_size,
    to_instrument,
    validate_order,
)

BTC = HlAsset("BTC", 0, 5, 50)
ETH = HlAsset("ETH", 1, 2, 25)
SZ0 = HlAsset("KPEPE", 7, 0, 10)
SZ3 = HlAsset("SOL", 5, 3, 20)

sz_decimals = st.integers(min_value=0, max_value=6)
assets = sz_decimals.map(lambda d: HlAsset(f"A{d}", d, d, 10))
# Positive Decimals from 1e-14 up to ~1e16 with up to 12 significant digits.
positive = st.builds(
    lambda m, e: Decimal(m).scaleb(e),
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=-14, max_value=4),
)
sides = st.sampled_from([None, "buy", "sell"])


def _decimals(value: Decimal) -> int:
    return max(0, -int(value.normalize().as_tuple().exponent))


def _sig_figs(value: Decimal) -> int:
    return len(value.normalize().as_tuple().digits)


def _is_valid_price(px: Decimal, asset: HlAsset) -> bool:
    if px == px.to_integral_value():
        return True
    return _decimals(px) <= 6 - asset.sz_decimals and _sig_figs(px) <= 5


def _big_enough(px: Decimal, asset: HlAsset) -> bool:
    return px >= price_step(px, asset)


# --- round_price properties -------------------------------------------------------------------


@given(positive, assets, sides)
def test_round_price_is_valid_idempotent_and_within_one_step(
    px: Decimal, asset: HlAsset, side: str | None
) -> None:
    assume(_big_enough(px, asset))
    rounded = round_price(px, asset, side=side)  # type: ignore[arg-type]
    assert rounded > 0
    assert _is_valid_price(rounded, asset)
    assert round_price(rounded, asset, side=side) == rounded  # type: ignore[arg-type]
    assert round_price(rounded, asset) == rounded
    step = price_step(px, asset)
    if side is None:
        assert abs(rounded - px) <= step / 2
    else:
        assert abs(rounded - px) < step
    validate_order(rounded, asset.lot_size, asset, min_value=Decimal(0))


@given(positive, assets)
def test_round_price_buy_rounds_up_and_sell_rounds_down(px: Decimal, asset: HlAsset) -> None:
    assert round_price(px, asset, side="buy") >= px
    assume(_big_enough(px, asset))
    assert round_price(px, asset, side="sell") <= px


@given(st.integers(min_value=1, max_value=10**15), assets, sides)
def test_integer_prices_are_kept(px: int, asset: HlAsset, side: str | None) -> None:
    assert round_price(Decimal(px), asset, side=side) == px  # type: ignore[arg-type]
    validate_order(Decimal(px), asset.lot_size, asset, min_value=Decimal(0))


def test_round_price_examples() -> None:
    assert round_price(Decimal("1234.56"), SZ0) == Decimal("1234.6")
    assert round_price(Decimal("1234.56"), SZ0, side="sell") == Decimal("1234.5")
    assert round_price(Decimal("12345.6"), SZ0) == Decimal("12346")
    assert round_price(Decimal("123456.7"), SZ0, side="buy") == Decimal("123457")
    assert round_price(Decimal("0.0012345"), SZ0) == Decimal("0.001234")  # half-even
    assert round_price(Decimal("0.0012345"), SZ0, side="buy") == Decimal("0.001235")
    assert round_price(Decimal("0.123456"), ETH) == Decimal("0.1235")
    assert round_price(Decimal("99999.5"), BTC, side="buy") == Decimal("100000")
    assert round_price(Decimal("9.99996"), SZ0) == Decimal(10)
    assert str(round_price(Decimal("100.00"), BTC)) == "100"


def test_round_price_rejects_non_positive_and_vanishing_prices() -> None:
    for bad in (Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(HlOrderRejected) as info:
            round_price(bad, BTC)
        assert info.value.rule == "non_positive"
    with pytest.raises(HlOrderRejected, match="rounds to 0"):
        round_price(Decimal("0.000001"), ETH)  # ETH allows 4 decimals
    assert round_price(Decimal("0.000001"), ETH, side="buy") == Decimal("0.0001")
    with pytest.raises(ValueError, match="side"):
        round_price(Decimal(1), BTC, side="up")  # type: ignore[arg-type]


# --- round_size properties --------------------------------------------------------------------


@given(positive, assets, st.booleans())
def test_round_size_never_grows_and_fits_sz_decimals(
    sz: Decimal, asset: HlAsset, negative: bool
) -> None:
    if negative:
        sz = -sz
    rounded = round_size(sz, asset)
    assert abs(rounded) <= abs(sz)
    assert abs(sz) - abs(rounded) < asset.lot_size
    assert _decimals(rounded) <= asset.sz_decimals
    assert round_size(rounded, asset) == rounded
    if rounded > 0:
        validate_order(Decimal(10**6), rounded, asset, min_value=Decimal(0))


def test_round_size_examples() -> None:
    assert round_size(Decimal("0.0015"), SZ3) == Decimal("0.001")
    assert round_size(Decimal("-0.0019"), SZ3) == Decimal("-0.001")
    assert round_size(Decimal("12.9"), SZ0) == Decimal(12)


# --- validate_order ---------------------------------------------------------------------------


@given(positive, assets)
def test_validate_accepts_exactly_rounded_prices(px: Decimal, asset: HlAsset) -> None:
    assume(_big_enough(px, asset))
    valid = round_price(px, asset) == px
    assert valid == _is_valid_price(px, asset)
    if valid:
        validate_order(px, asset.lot_size, asset, min_value=Decimal(0))
        return
    with pytest.raises(HlOrderRejected) as info:
        validate_order(px, asset.lot_size, asset, min_value=Decimal(0))
    if _decimals(px) > 6 - asset.sz_decimals:
        assert info.value.rule == "price_decimals"
        assert f"more than {6 - asset.sz_decimals} decimals" in str(info.value)
    else:
        assert info.value.rule == "price_sig_figs"
        assert "more than 5 significant figures" in str(info.value)


@given(positive, assets)
def test_validate_accepts_exactly_rounded_sizes(sz: Decimal, asset: HlAsset) -> None:
    valid = round_size(sz, asset) == sz
    if valid:
        validate_order(Decimal(10**6), sz, asset, min_value=Decimal(0))
        return
    with pytest.raises(HlOrderRejected) as info:
        validate_order(Decimal(10**6), sz, asset, min_value=Decimal(0))
    assert info.value.rule == "size_decimals"
    assert f"(szDecimals {asset.sz_decimals})" in str(info.value)


@given(
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=10**6),
    assets,
)
def test_validate_min_value(px_units: int, sz_units: int, asset: HlAsset) -> None:
    px = Decimal(px_units)
    sz = Decimal(sz_units) * asset.lot_size
    if px * sz >= MIN_ORDER_VALUE:
        validate_order(px, sz, asset)
    else:
        with pytest.raises(HlOrderRejected) as info:
            validate_order(px, sz, asset)
        assert info.value.rule == "min_value"


@pytest.mark.parametrize(
    ("px", "asset", "valid"),
    [
        ("1234.5", SZ0, True),
        ("1234.56", SZ0, False),
        ("0.001234", SZ0, True),
        ("0.0012345", SZ0, False),
        ("123456", SZ0, True),
        ("12345.6", SZ0, False),
        ("0.1234", ETH, True),
        ("0.12345", ETH, False),
        ("0.1", BTC, True),
        ("0.12", BTC, False),
        ("100000", BTC, True),
        ("1.00000", SZ0, True),
    ],
)
def test_hyperliquid_doc_examples(px: str, asset: HlAsset, valid: bool) -> None:
    price = Decimal(px)
    size = Decimal(10**6)
    if valid:
        validate_order(price, size, asset)
        assert round_price(price, asset) == price
    else:
        with pytest.raises(HlOrderRejected):
            validate_order(price, size, asset)


@pytest.mark.parametrize(
    ("px", "sz", "asset", "rule", "message"),
    [
        (
            "12345.6",
            "1",
            SZ0,
            "price_sig_figs",
            "price 12345.6 has more than 5 significant figures",
        ),
        (
            "0.123456",
            "1000",
            ETH,
            "price_decimals",
            "price 0.123456 has more than 4 decimals for ETH (szDecimals 2)",
        ),
        (
            "100",
            "0.0015",
            SZ3,
            "size_decimals",
            "size 0.0015 is not a multiple of 0.001 (szDecimals 3)",
        ),
        ("9.5", "1", SZ0, "min_value", "order value 9.5 is below the 10 USD minimum"),
        ("0", "1", SZ0, "non_positive", "price 0 must be a positive number"),
        ("100", "-1", SZ0, "non_positive", "size -1 must be a positive number"),
    ],
)
def test_validate_messages_name_the_rule(
    px: str, sz: str, asset: HlAsset, rule: str, message: str
) -> None:
    with pytest.raises(HlOrderRejected) as info:
        validate_order(Decimal(px), Decimal(sz), asset)
    assert info.value.rule == rule
    assert str(info.value) == message
    assert isinstance(info.value, OrderRejectedError)


# --- market_price -----------------------------------------------------------------------------


@given(
    positive,
    assets,
    st.sampled_from(["buy", "sell"]),
    st.decimals(min_value=0, max_value=Decimal("0.5"), places=4),
)
def test_market_price_never_tightens_slippage(
    mid: Decimal, asset: HlAsset, side: str, slippage: Decimal
) -> None:
    assume(_big_enough(mid * (1 - slippage), asset))  # a sell must not floor to 0
    px = market_price(mid, side, slippage, asset)  # type: ignore[arg-type]
    assert _is_valid_price(px, asset)
    if side == "buy":
        assert px >= mid * (1 + slippage)
    else:
        assert px <= mid * (1 - slippage)


def test_market_price_examples() -> None:
    assert market_price(Decimal(60000), "buy", Decimal("0.05"), BTC) == Decimal(63000)
    assert market_price(Decimal("3001.37"), "sell", Decimal("0.01"), ETH) == Decimal("2971.3")
    assert market_price(Decimal("3001.37"), "buy", Decimal("0.01"), ETH) == Decimal("3031.4")
    with pytest.raises(ValueError, match="slippage"):
        market_price(Decimal(1), "buy", Decimal(1), BTC)
    with pytest.raises(ValueError, match="side"):
        market_price(Decimal(1), "hold", Decimal("0.01"), BTC)  # type: ignore[arg-type]


# --- assets, instruments, errors --------------------------------------------------------------


def test_to_instrument() -> None:
    inst = to_instrument(ETH)
    assert inst.symbol == "ETH"
    assert inst.tick_size == Decimal("0.0001")
    assert inst.lot_size == Decimal("0.01")
    assert inst.min_notional == Decimal(10)
    assert inst.venue == "hyperliquid"
    assert inst.extra["asset"] == "1"
    assert to_instrument(HlAsset("X", 3, 6, 3)).tick_size == Decimal(1)


def test_hl_asset_from_meta_and_validation() -> None:
    entry = {"name": "BTC", "szDecimals": 5, "maxLeverage": 50, "onlyIsolated": False}
    assert HlAsset.from_meta(0, entry) == BTC
    with pytest.raises(HlPayloadError, match="szDecimals"):
        HlAsset.from_meta(0, {"name": "BTC", "szDecimals": "5", "maxLeverage": 50})
    with pytest.raises(HlPayloadError, match="name"):
        HlAsset.from_meta(0, {"szDecimals": 5, "maxLeverage": 50})
    with pytest.raises(HlPayloadError, match="outside"):
        HlAsset("X", 0, 7, 1)
    with pytest.raises(HlPayloadError):
        HlAsset("X", -1, 1, 1)


def test_error_tree() -> None:
    assert issubclass(HyperliquidError, AlgoTradeError)
    assert issubclass(HlPayloadError, HyperliquidError)
    assert issubclass(HlOrderRejected, OrderRejectedError)
    assert issubclass(HlRateLimited, RetryableError)
    assert issubclass(HlRequestFailed, RetryableError)
    assert HlOrderRejected("x").rule == ""
