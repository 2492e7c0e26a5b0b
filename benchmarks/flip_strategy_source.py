"""The BENCHMARK-ONLY strategy of the daemon benchmarks, as the source of a user strategy file:
every bar it targets -1 or +1 in turn, so every bot sends one market order on every bar."""

FLIP_STRATEGY = '''"""BENCHMARK ONLY (benchmarks/flip_strategy_source.py): -1, +1 in turn."""

from algotrade.core.strategy import Strategy


class BenchFlip(Strategy):
    name = "bench_flip"

    def on_start(self) -> None:
        self._sign = 1

    def on_bar(self, bar) -> None:
        self._sign = -self._sign
        self.ctx.target_position(bar.symbol, self._sign)
'''
