"""Ctrl-C of a multi-symbol ``algotrade backtest --symbols VENUE:A,B --workers 2`` while its
pool's workers are still starting (importing) and while they run: exit 130 with one line, no
traceback from any process, and no worker left running. Before, a worker that was still
importing printed a KeyboardInterrupt traceback, and the parent's exit waited for the pool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.synthetic import generate_bars
from testkit.process_group import HAS_PROC, ctrl_c, wait_for, worker_importing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAS_PROC, reason="reads /proc (Linux)")]

HOUR_NS = 3_600_000_000_000
EXIT_S = 10.0

# Each symbol's run says it started, then never ends: only Ctrl-C ends the command.
STUCK = """
import time
from pathlib import Path
from algotrade.core.strategy import Strategy, StrategyParams

class Stuck(Strategy):
    name = "stuck"
    Params = StrategyParams

    def on_start(self):
        with open(Path(__file__).parent / "started.log", "a") as log:
            log.write("started\\n")
        while True:
            time.sleep(0.05)

    def on_bar(self, bar):
        pass
"""


@pytest.mark.parametrize("moment", ["worker-start", "running"])
def test_ctrl_c_stops_a_universe_backtest_and_its_workers(tmp_path: Path, moment: str) -> None:
    data_dir = tmp_path / "data"
    catalog = Catalog.for_data_dir(data_dir)
    for number, symbol in enumerate(("AAA", "BBB")):
        bars = generate_bars(200, symbol=symbol, seed=number + 1, interval_ns=HOUR_NS)
        catalog.append(SeriesKey("sim", symbol, "1h"), bars.frame)
    strategy = tmp_path / "stuck.py"
    strategy.write_text(STUCK)
    started = tmp_path / "started.log"
    argv = [sys.executable, "-m", "algotrade", "backtest", "--strategy", str(strategy)]
    argv += ["--symbols", "sim:AAA,BBB", "--interval", "1h", "--workers", "2"]
    argv += ["--data-dir", str(data_dir)]

    def moment_comes(proc: subprocess.Popen[bytes]) -> None:
        if moment == "worker-start":
            wait_for(worker_importing(proc, started), proc, "a starting worker")
        else:
            wait_for(
                lambda: started.exists() and len(started.read_text().split()) == 2,
                proc,
                "both symbols' runs started in workers",
            )

    code, stderr = ctrl_c(argv, tmp_path / "err", moment_comes, within_s=EXIT_S)
    assert code == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines() == ["error: interrupted (nothing written)"], stderr
