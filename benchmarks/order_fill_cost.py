"""What one order and its fill cost on the engine's path, without the daemon around it.

The engine, the paper venue, the basic risk policy and the portfolio of a backtest run a
BENCHMARK-ONLY strategy that targets -1/+1 on alternate bars, so every bar sends one market
order and books the fill of the previous one (a flip of 2). The same bars with a strategy
that never trades give the quiet bar's cost; the difference is the order-and-fill cost that
limits issue 14's targets 1 and 3 (docs/benchmarks.md). SIMULATED prices; best of
``--repeat`` runs in this process.

    .venv/bin/python benchmarks/order_fill_cost.py
    git archive COMMIT src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/order_fill_cost.py  # that commit
"""

from __future__ import annotations

import argparse
import gc
import time
from decimal import Decimal

from algotrade.backtest.runner import BacktestConfig, build_engine
from algotrade.core.events import Bar
from algotrade.core.strategy import Strategy


class Flip(Strategy):
    """BENCHMARK ONLY: -1, +1 in turn."""

    name = "bench_flip"

    def on_start(self) -> None:
        self._sign = 1

    def on_bar(self, bar: Bar) -> None:
        self._sign = -self._sign
        self.ctx.target_position(bar.symbol, self._sign)


class Quiet(Strategy):
    """BENCHMARK ONLY: never trades."""

    name = "bench_quiet"


def simulated_bars(count: int) -> list[Bar]:
    bars = []
    for i in range(count):
        price = 100 + (i % 13) * 0.25
        bars.append(Bar("SIM-X", i * 60_000_000_000, price, price + 1, price - 1, price, 10.0))
    return bars


def microseconds_per_bar(strategy: Strategy, bars: list[Bar]) -> float:
    engine = build_engine(strategy, BacktestConfig(commission=Decimal("0.001")))
    engine.portfolio.ledger.keep_closed = False  # a long-running bot keeps no closed trades
    engine.start()
    on_bar = engine.on_bar
    gc.collect()
    started = time.perf_counter()
    for bar in bars:
        on_bar(bar)
    return (time.perf_counter() - started) / len(bars) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = simulated_bars(args.bars)
    trading = min(microseconds_per_bar(Flip(), bars) for _ in range(args.repeat))
    quiet = min(microseconds_per_bar(Quiet(), bars) for _ in range(args.repeat))
    print(f"SIMULATED bars: {args.bars:,}, best of {args.repeat}")
    print(f"  bar with one order and one fill   {trading:8.2f} µs")
    print(f"  quiet bar (no order)              {quiet:8.2f} µs")
    print(f"  one order and its fill            {trading - quiet:8.2f} µs")


if __name__ == "__main__":
    main()
