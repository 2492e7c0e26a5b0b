from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.money import EXACT, book_money, derived_price
from algotrade.core.portfolio import Portfolio
from testkit.factories import fill

D = Decimal
prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=4)
qtys = st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3)
fees = st.decimals(min_value=D("0"), max_value=D("50"), places=6)
fills_st = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), qtys, prices, fees, st.sampled_from("ABC")),
    min_size=1,
    max_size=40,
)


def _book(sequence: list[tuple[str, Decimal, Decimal, Decimal, str]]) -> Portfolio:
    portfolio = Portfolio(D(10_000))
    for i, (side, qty, price, fee, symbol) in enumerate(sequence):
        portfolio.apply_fill(fill(side, qty, price, fee, symbol=symbol, ts=i))
    return portfolio


@settings(max_examples=300, deadline=None)
@given(fills_st, st.lists(prices, min_size=3, max_size=3))
def test_equity_is_cash_plus_marked_positions(sequence, marks) -> None:
    portfolio = _book(sequence)
    for symbol, mark in zip("ABC", marks, strict=True):
        portfolio.update_mark(symbol, mark)
    marked = sum(
        (book_money(portfolio.position(s).qty * m) for s, m in zip("ABC", marks, strict=True)),
        D(0),
    )
    assert portfolio.equity() == portfolio.cash + marked
    _assert_accounting_identity(portfolio)


def _assert_accounting_identity(portfolio: Portfolio) -> None:
    accounted = (
        portfolio.initial_cash
        + portfolio.realized_pnl
        + portfolio.unrealized_pnl()
        - portfolio.fees_paid
    )
    assert portfolio.equity() == accounted  # exactly: every term is booked on one quantum
    money = [portfolio.cash, portfolio.realized_pnl, portfolio.fees_paid, portfolio.equity()]
    money += [portfolio.unrealized_pnl()]
    money += [p.realized_pnl for p in portfolio.positions.values()]
    assert all(value == book_money(value) for value in money), money
    derived = [p.avg_price for p in portfolio.positions.values()]
    assert all(value == derived_price(value) for value in derived), derived


# Prices and sizes with 8 decimals: notional has 16, and averages are repeating fractions.
fine_prices = st.decimals(min_value=D("0.00000001"), max_value=D("100000"), places=8)
fine_qtys = st.decimals(min_value=D("0.00000001"), max_value=D("1000"), places=8)
fine_fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]), fine_qtys, fine_prices, fees, st.sampled_from("AB")
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(fine_fills, st.lists(fine_prices, min_size=2, max_size=2))
def test_booked_money_is_on_the_quantum_and_the_identity_holds_exactly(sequence, marks) -> None:
    portfolio = _book(sequence)
    for symbol, mark in zip("AB", marks, strict=True):
        portfolio.update_mark(symbol, mark)
    _assert_accounting_identity(portfolio)
    # Σ realized of the closed round trips equals what the positions realized over them.
    for trade in portfolio.ledger.closed:
        assert trade.gross_pnl == book_money(trade.gross_pnl)
        assert trade.entry_price == derived_price(trade.entry_price)


@settings(max_examples=200, deadline=None)
@given(fine_fills)
def test_rebuild_from_fills_gives_the_same_books(sequence) -> None:
    fills = [fill(side, q, p, f, symbol=s, ts=i) for i, (side, q, p, f, s) in enumerate(sequence)]
    original = Portfolio(D(10_000))
    for item in fills:
        original.apply_fill(item)
    rebuilt = Portfolio(D(10_000))
    rebuilt.apply_fill(fill("buy", "5", "7", "0.1", symbol="A"))  # state to be replaced
    rebuilt.rebuild(fills)
    assert rebuilt.cash == original.cash
    assert rebuilt.realized_pnl == original.realized_pnl
    assert rebuilt.fees_paid == original.fees_paid
    assert rebuilt.positions == original.positions
    assert set(rebuilt.ledger.open) == set(original.ledger.open)


def test_rebuild_marks_each_symbol_at_its_last_fill() -> None:
    """Defect: a restarted daemon valued a stopped bot's short at its first fill, years old
    (equity 10,034.72 instead of 9,992.17), because the rebuild kept the first mark."""
    portfolio = Portfolio(D(10_000))
    portfolio.rebuild(
        [
            fill("buy", "1", "2.5", "0", symbol="A", ts=1),
            fill("sell", "2", "45", "0", symbol="A", ts=2),
            fill("buy", "3", "7", "0", symbol="B", ts=3),
            fill("sell", "1", "8", "0", symbol="B", ts=4),
        ]
    )
    assert portfolio.mark("A") == D("45")
    assert portfolio.mark("B") == D("8")
    assert portfolio.unrealized_pnl("A") == D(0)  # short 1 opened at 45, marked at 45
    assert portfolio.unrealized_pnl("B") == D(2)  # long 2 at 7, marked at 8
    assert portfolio.equity() == D(10_000) - D("2.5") + D(90) - D(21) + D(8) - D(45) + D(16)


def test_average_price_has_no_division_noise() -> None:
    """Defect: realized PnL read 108.4833811200000000000000017 (an unrounded average)."""
    portfolio = Portfolio(D(100_000))
    portfolio.apply_fill(fill("buy", "1", "10"))
    portfolio.apply_fill(fill("buy", "1", "10"))
    portfolio.apply_fill(fill("buy", "1", "11"))  # average 31/3
    assert portfolio.position("X").avg_price == D("10.333333333333")
    portfolio.apply_fill(fill("sell", "1", "12.34567891"))
    assert portfolio.realized_pnl == D("2.01234558")  # 12.34567891 − 31/3, booked
    assert portfolio.realized_pnl.as_tuple().exponent >= -8


def test_a_rebuilt_position_flattens_and_trades_again() -> None:
    """Defect: a restored position that flattened raised decimal.DivisionUndefined in the
    trade ledger (it started empty after a restore); rebuilt from fills, it cannot."""
    history = [fill("buy", "2", "100", "0.1", ts=1), fill("sell", "1", "101", "0.1", ts=2)]
    portfolio = Portfolio(D(10_000), keep_closed_trades=False)
    portfolio.rebuild(history)
    trade = portfolio.apply_fill(fill("sell", "1", "102", "0.1", ts=3))
    assert trade is not None
    assert trade.gross_pnl == D(3)  # (101 − 100) + (102 − 100)
    assert portfolio.apply_fill(fill("buy", "1", "103", ts=4)) is None  # opens a new trade
    assert portfolio.apply_fill(fill("sell", "1", "104", ts=5)) is not None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["buy", "sell"]),
    qtys,
    prices,
    prices,
    fees,
    fees,
)
def test_round_trip_realized_is_price_difference_times_qty_minus_fees(
    side, qty, entry, exit_, fee_in, fee_out
) -> None:
    portfolio = Portfolio(D(10_000))
    portfolio.apply_fill(fill(side, qty, entry, fee_in, ts=1))
    closing = "sell" if side == "buy" else "buy"
    trade = portfolio.apply_fill(fill(closing, qty, exit_, fee_out, ts=2))
    direction = 1 if side == "buy" else -1
    assert trade is not None
    expected = (exit_ - entry) * qty * direction - fee_in - fee_out
    assert trade.net_pnl == expected
    assert portfolio.realized_pnl - portfolio.fees_paid == expected
    assert portfolio.position_qty("X") == 0
    assert portfolio.cash == D(10_000) + expected


@settings(max_examples=200, deadline=None)
@given(fills_st)
def test_no_float_reaches_money_fields(sequence) -> None:
    portfolio = _book(sequence)
    for symbol in "ABC":
        portfolio.update_mark(symbol, 123.25)  # marks may come from float bars
    values = [portfolio.cash, portfolio.fees_paid, portfolio.realized_pnl]
    values += [portfolio.equity(), portfolio.unrealized_pnl(), portfolio.market_value()]
    for pos in portfolio.positions.values():
        values += [pos.qty, pos.avg_price, pos.realized_pnl, pos.fees]
    for trade in portfolio.ledger.closed:
        values += [trade.qty, trade.entry_price, trade.exit_price, trade.gross_pnl, trade.fees]
    assert all(type(v) is Decimal for v in values)


def test_float_fill_is_refused() -> None:
    bad = fill("buy", "1", "10")
    object.__setattr__(bad, "price", 10.0)
    with pytest.raises(TypeError, match="price must be Decimal"):
        Portfolio(D(100)).apply_fill(bad)


def test_flip_long_to_short_realizes_and_reopens_at_fill_price() -> None:
    portfolio = Portfolio(D(1000))
    portfolio.apply_fill(fill("buy", "2", "10", "0.02"))
    trade = portfolio.apply_fill(fill("sell", "5", "12", "0.05"))
    pos = portfolio.position("X")
    assert pos.qty == D(-3)
    assert pos.avg_price == D(12)
    assert portfolio.realized_pnl == D(4)  # 2 × (12 − 10)
    assert trade is not None
    assert trade.direction == "long"
    assert trade.fees == D("0.02") + D("0.02")  # entry fee + 2/5 of the flip fee
    assert portfolio.ledger.open["X"].fees == D("0.03")


def test_average_price_and_partial_close() -> None:
    portfolio = Portfolio(D(1000))
    portfolio.apply_fill(fill("buy", "1", "10"))
    portfolio.apply_fill(fill("buy", "3", "14"))
    assert portfolio.position("X").avg_price == D(13)
    assert portfolio.apply_fill(fill("sell", "2", "15")) is None
    assert portfolio.realized_pnl == D(4)
    assert portfolio.position("X").avg_price == D(13)
    portfolio.update_mark("X", D(16))
    assert portfolio.unrealized_pnl() == D(6)


def test_multiplier_scales_pnl_and_cash() -> None:
    registry = InstrumentRegistry({"ES": Instrument("ES", tick_size=D("0.25"), multiplier=D(50))})
    portfolio = Portfolio(D(100_000), registry)
    portfolio.apply_fill(fill("buy", "1", "5000", "2", symbol="ES"))
    trade = portfolio.apply_fill(fill("sell", "1", "5010", "2", symbol="ES"))
    assert trade is not None
    assert trade.gross_pnl == D(500)
    assert portfolio.equity() == D(100_000) + D(500) - D(4)


def test_large_bounded_amounts_are_booked_exactly() -> None:
    """Products of bounded inputs exceed the default context's 28 digits: booked exactly, not
    rounded by the context or refused by quantize."""
    portfolio = Portfolio(D("100000000000000"))
    portfolio.apply_fill(fill("buy", "12345678901.12345678", "98765432109.12345678", "1.5"))
    notional = EXACT.multiply(D("12345678901.12345678"), D("98765432109.12345678"))
    expected = EXACT.subtract(EXACT.subtract(D("100000000000000"), book_money(notional)), D("1.5"))
    assert portfolio.cash == expected
    _assert_accounting_identity(portfolio)
