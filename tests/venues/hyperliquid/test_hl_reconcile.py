"""Reconciliation's pure comparisons: positions as of the venue snapshot, order ownership."""

from __future__ import annotations

from decimal import Decimal

from algotrade.venues.hyperliquid.reconcile import align_orders, compare_positions
from algotrade.venues.hyperliquid.schemas import Fill, OpenOrder

D = Decimal


def _fill(coin: str, side: str, sz: str, tid: int) -> Fill:
    return Fill.model_validate(
        {"coin": coin, "px": "100", "sz": sz, "side": side, "time": 1, "oid": 1, "tid": tid}
    )


def _order(oid: int, cloid: str | None) -> OpenOrder:
    payload = {
        "coin": "BTC",
        "side": "B",
        "limitPx": "100",
        "sz": "1",
        "oid": oid,
        "timestamp": 1,
        "origSz": "1",
    }
    if cloid is not None:
        payload["cloid"] = cloid
    return OpenOrder.model_validate(payload)


def test_equal_positions_agree() -> None:
    assert compare_positions({"BTC": D("0.5")}, {"BTC": D("0.5")}) == []


def test_a_missing_venue_position_is_a_mismatch_naming_both_sides() -> None:
    [mismatch] = compare_positions({"BTC": D("0.5")}, {})
    assert (mismatch.coin, mismatch.local, mismatch.venue) == ("BTC", D("0.5"), D(0))
    assert "0.5" in mismatch.message
    assert "BTC" in mismatch.message


def test_a_position_only_at_the_venue_is_a_mismatch() -> None:
    [mismatch] = compare_positions({}, {"ETH": D("-2")})
    assert mismatch.coin == "ETH"
    assert mismatch.venue == D(-2)


def test_fills_after_the_snapshot_are_taken_out_of_the_local_side() -> None:
    # Locally 0.7 after a 0.2 buy that the venue snapshot does not include yet.
    assert (
        compare_positions({"BTC": D("0.7")}, {"BTC": D("0.5")}, [_fill("BTC", "B", "0.2", 1)]) == []
    )
    assert (
        compare_positions({"BTC": D("0.3")}, {"BTC": D("0.5")}, [_fill("BTC", "A", "0.2", 2)]) == []
    )
    assert compare_positions({"BTC": D("0.7")}, {"BTC": D("0.5")}) != []


def test_coins_in_flight_are_skipped() -> None:
    assert compare_positions({"BTC": D(1)}, {}, skip=["BTC"]) == []


def test_orders_split_by_ownership_and_missing_local_orders_listed() -> None:
    mine, theirs = "0x" + "a" * 32, "0x" + "b" * 32
    gone = "0x" + "c" * 32
    result = align_orders([_order(1, mine), _order(2, theirs), _order(3, None)], [mine, gone])
    assert [o.oid for o in result.owned] == [1]
    assert [o.oid for o in result.foreign] == [2, 3]
    assert result.missing_cloids == [gone]
