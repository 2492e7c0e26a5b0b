"""Ctrl-C of ``algotrade sweep`` / ``optimize`` (run through ``process_group.ctrl_c``): the
strategy that blocks the run for good, the command line, and what every case must show."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from algotrade.research.run_store import RunStore
from testkit.process_group import ctrl_c, wait_for, worker_importing

# The first two evaluations finish; every later one blocks for good, so the run can only end by
# Ctrl-C (and a worker left behind would still be there when the test looks).
GATE = """
import time
from decimal import Decimal
from pathlib import Path
from algotrade.core.strategy import Strategy, StrategyParams

LOG = Path(__file__).parent / "evaluations.log"

class P(StrategyParams):
    k: int = 0

class Gate(Strategy):
    name = "gate"
    Params = P

    def on_start(self):
        with open(LOG, "a") as log:
            log.write(f"{self.params.k}\\n")
        if len(LOG.read_text().split()) > 2:
            while True:
                time.sleep(0.05)
        self._n = 0

    def on_bar(self, bar):
        self._n += 1
        if self._n % (4 + self.params.k) == 0:
            self.ctx.target_position(bar.symbol, Decimal(self._n % 3 - 1))
"""


def gated_command(
    tmp_path: Path, command: str, bars_file: Path, executor_options: list[str]
) -> list[str]:
    """``command`` (sweep or optimize) of the GATE strategy, written to ``tmp_path``, whose
    evaluations are logged to ``tmp_path / "evaluations.log"``; data in ``tmp_path / "d"``."""
    strategy = tmp_path / "gate.py"
    strategy.write_text(GATE)
    argv = [sys.executable, "-m", "algotrade", command, "--strategy", str(strategy)]
    argv += ["--data", str(bars_file), "--data-dir", str(tmp_path / "d"), *executor_options]
    if command == "sweep":
        return [*argv, "--param", "k=0:5:1", "--batch-size", "1"]
    return [*argv, "--param", "k=0:5", "--trials", "10", "--seed", "1"]


def stored_parts(data_dir: Path) -> int:
    return len(list(data_dir.glob("research/*/results/part-*.parquet")))


def assert_one_line_and_exit_130(code: int, stderr: str) -> str:
    """Exit code 130 and one line saying it was interrupted (the last one, returned); no
    traceback, warning or error from any process."""
    assert code == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr
    noise = re.compile(r"warn|error|exception|leaked", re.IGNORECASE)
    assert [line for line in stderr.splitlines() if noise.search(line)] in (
        [],
        ["error: interrupted"],
    ), stderr
    lines = [line for line in stderr.splitlines() if "interrupted" in line]
    assert len(lines) == 1, stderr
    assert re.match(r"(error: )?interrupted\b", lines[0]), stderr
    assert stderr.strip().splitlines()[-1] == lines[0], stderr
    return lines[0]


def assert_interrupted_cleanly(code: int, stderr: str, data_dir: Path, *, run_begun: bool) -> None:
    """``assert_one_line_and_exit_130``, and the run, if stored (always when ``run_begun``), is
    marked interrupted and the line says how to go on."""
    line = assert_one_line_and_exit_130(code, stderr)
    runs = []
    if (data_dir / "algotrade.db").exists():
        with RunStore(data_dir, f"sqlite:///{data_dir / 'algotrade.db'}") as store:
            runs = store.runs()
        assert [run.status for run in runs] in ([], ["interrupted"]), stderr
    if run_begun:
        assert "run the same command or --resume " in line, stderr
        assert [run.status for run in runs] == ["interrupted"]


def ctrl_c_at(moment: str, argv: list[str], tmp_path: Path, *, within_s: float) -> tuple[int, str]:
    """Run ``argv`` (a ``gated_command`` storing in ``tmp_path / "d"``) and press Ctrl-C at
    ``moment``: "+S" = S seconds after it can catch SIGINT, "worker-start" = as soon as a
    worker's interpreter runs, "mid-run" = two batches stored; its exit code and stderr."""
    log = tmp_path / "evaluations.log"
    data_dir = tmp_path / "d"

    def moment_comes(proc: subprocess.Popen[bytes]) -> None:
        if moment.startswith("+"):
            time.sleep(float(moment[1:]))
        elif moment == "worker-start":
            wait_for(worker_importing(proc, log), proc, "a starting worker")
        else:
            wait_for(lambda: stored_parts(data_dir) >= 2, proc, "two stored batches")

    env = {**os.environ, "COLUMNS": "200"}
    return ctrl_c(argv, tmp_path / "err", moment_comes, within_s=within_s, env=env)
