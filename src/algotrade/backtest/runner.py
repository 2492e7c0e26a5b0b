"""The backtest runner: historical bars → the engine → the paper venue, in one tight loop.

The engine, strategy, risk policy and paper venue are the same objects a paper bot uses in the
daemon; only the feed (this loop over columnar bars) differs.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from algotrade.backtest.benchmark import buy_and_hold
from algotrade.backtest.equity import equity_curve
from algotrade.backtest.result import BacktestResult
from algotrade.backtest.strategy_failure import strategy_failure
from algotrade.core.engine import Engine
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.portfolio import Portfolio
from algotrade.core.risk_policy import BasicRiskPolicy
from algotrade.core.strategy import Strategy
from algotrade.venues.paper import PaperVenue, PaperVenueConfig

if TYPE_CHECKING:
    from algotrade.data.bars import BarData

CHUNK_BARS = 8_192
# Young-generation collections during the loop: the default (700 allocations) ran one every
# ~4,000 bars, each walking the chunk's fresh column lists and the new orders and fills — 15 %
# of a 1M-bar run (cProfile/gc.callbacks). The daemon uses the same threshold after restore.
GC_YOUNG_THRESHOLD = 50_000
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    initial_cash: Decimal = Decimal(100_000)
    commission: Decimal = Decimal(0)  # taker rate, fraction of notional
    maker_commission: Decimal | None = None  # defaults to ``commission``
    slippage_bps: Decimal = Decimal(0)
    max_leverage: Decimal | None = None
    instruments: Mapping[str, Instrument] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.initial_cash <= 0:
            raise ValueError(f"initial cash must be positive, got {self.initial_cash}")


def build_engine(
    strategy: Strategy, config: BacktestConfig, *, order_id_prefix: str = "bt-"
) -> Engine:
    """The engine + paper venue wiring shared by backtests and paper bots."""
    instruments = InstrumentRegistry(dict(config.instruments))
    venue = PaperVenue(
        PaperVenueConfig(
            taker_fee_rate=config.commission,
            maker_fee_rate=(
                config.commission if config.maker_commission is None else config.maker_commission
            ),
            slippage_bps=config.slippage_bps,
        ),
        instruments,
    )
    return Engine(
        strategy,
        venue,
        portfolio=Portfolio(config.initial_cash, instruments),
        instruments=instruments,
        risk_policy=BasicRiskPolicy(max_leverage=config.max_leverage),
        order_id_prefix=order_id_prefix,
    )


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect young objects less often while a backtest loop runs (cycles are still found,
    only later); the thresholds are restored afterwards."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), middle, old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


def _run_loop(engine: Engine, data: BarData, progress: ProgressCallback | None) -> None:
    with fewer_collections():
        _run_bars(engine, data, progress)


def _run_bars(engine: Engine, data: BarData, progress: ProgressCallback | None) -> None:
    total = len(data)
    done = 0
    engine.start()
    on_bar = engine.on_bar
    for chunk in data.iter_chunks(CHUNK_BARS):
        for bar in chunk:
            on_bar(bar)
        # Every chunk but the last holds CHUNK_BARS bars: no counting in the per-bar loop.
        done = min(done + CHUNK_BARS, total)
        if progress is not None:
            progress(done, total)
    engine.stop()


def run_backtest(
    data: BarData,
    strategy: Strategy,
    config: BacktestConfig | None = None,
    *,
    progress: ProgressCallback | None = None,
    synthetic: bool = False,
) -> BacktestResult:
    """Run ``strategy`` over ``data``; a failure of the strategy's own code raises
    ``StrategyFailedError`` (one line naming its file and line) chained to the original."""
    config = config or BacktestConfig()
    engine = build_engine(strategy, config)
    total = len(data)
    try:
        _run_loop(engine, data, progress)
    except Exception as exc:
        # The strategy's own bug is reported as one line pointing into its file; anything
        # raised without a strategy frame on the stack is ours and keeps its traceback.
        failure = strategy_failure(exc, type(strategy))
        if failure is None:
            raise
        raise failure from exc

    portfolio = engine.portfolio
    times, equity, exposure = equity_curve(
        data.frame, engine.fills, config.initial_cash, engine.instruments
    )
    benchmark = buy_and_hold(
        data.frame,
        times,
        config.initial_cash,
        commission=config.commission,
        slippage_bps=config.slippage_bps,
        instruments=engine.instruments,
    )
    params: dict[str, Any] = strategy.params.model_dump(mode="json")
    return BacktestResult(
        strategy=strategy.name or type(strategy).__name__,
        params=params,
        symbols=data.symbols,
        bar_count=total,
        start_ns=data.start_ns,
        end_ns=data.end_ns,
        initial_cash=config.initial_cash,
        final_equity=portfolio.equity(),
        realized_pnl=portfolio.realized_pnl,
        unrealized_pnl=portfolio.unrealized_pnl(),
        fees=portfolio.fees_paid,
        orders=list(engine.orders.values()),
        fills=list(engine.fills),
        trades=list(portfolio.ledger.closed),
        equity_ts=times,
        equity=equity,
        exposure=exposure,
        synthetic=synthetic,
        benchmark=benchmark,
    )
