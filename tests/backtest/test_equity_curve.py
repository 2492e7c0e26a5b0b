"""``backtest.equity.equity_curve`` against a direct valuation, with several symbols and a
contract multiplier."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from algotrade.backtest.equity import equity_curve
from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.instruments import Instrument, InstrumentRegistry

MINUTE = 60_000_000_000


def fill(number: int, symbol: str, side: OrderSide, qty: str, price: str, ts: int) -> OrderFilled:
    return OrderFilled(
        f"o-{number}", f"v-{number}", f"t-{number}", symbol, side, Decimal(qty), Decimal(price),
        Decimal("0.05"), Liquidity.TAKER, ts,
    )  # fmt: skip


def test_equity_is_cash_plus_positions_at_the_close() -> None:
    rng = np.random.default_rng(2)
    rows = []
    for symbol, offset in (("AAA", 0), ("BBB", 1)):  # BBB starts a minute later
        for step in range(offset, 40):
            rows.append((symbol, step * MINUTE, float(np.round(100 + rng.normal(0, 2), 2))))
    bars = pl.DataFrame(rows, schema=["symbol", "ts", "close"], orient="row").sort("ts")
    fills = [
        fill(1, "BBB", OrderSide.BUY, "2", "101.5", 3 * MINUTE),
        fill(2, "AAA", OrderSide.BUY, "1.5", "99.25", 5 * MINUTE),
        fill(3, "BBB", OrderSide.SELL, "3", "102", 9 * MINUTE),
        fill(4, "AAA", OrderSide.SELL, "1.5", "98", 20 * MINUTE),
    ]
    instruments = InstrumentRegistry({"BBB": Instrument("BBB", multiplier=Decimal("2.5"))})
    times, equity, exposure = equity_curve(bars, fills, Decimal(10_000), instruments)

    assert times.tolist() == sorted({ts for _, ts, _ in rows})
    closes = {(symbol, ts): close for symbol, ts, close in rows}
    expected = []
    for ts in times.tolist():
        cash = Decimal(10_000)
        held = {"AAA": Decimal(0), "BBB": Decimal(0)}
        for f in fills:
            if f.ts <= ts:
                multiplier = instruments.get(f.symbol).multiplier
                cash -= f.signed_qty * f.price * multiplier + f.fee
                held[f.symbol] += f.signed_qty
        value = float(cash)
        for symbol, qty in held.items():
            last = max((t for s, t in closes if s == symbol and t <= ts), default=None)
            close = 0.0 if last is None else closes[(symbol, last)]
            value += float(qty) * close * float(instruments.get(symbol).multiplier)
        expected.append(value)
    assert equity.tolist() == pytest.approx(expected, rel=1e-12)
    open_at = [ts >= 3 * MINUTE for ts in times.tolist()]  # BBB stays short from minute 9
    assert exposure == pytest.approx(sum(open_at) / len(open_at))
