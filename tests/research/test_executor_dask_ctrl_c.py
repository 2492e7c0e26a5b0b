"""Ctrl-C of ``algotrade sweep`` and ``algotrade optimize`` on a Dask ``LocalCluster`` started for
the run (``--cluster local:2``), as ``test_executor_local_ctrl_c`` does for the process pool:
while the cluster's worker processes start (they import), mid-run (at once: the batches the
workers run are not waited for), and as the last batch is stored.

Each case runs the real command in its own session and sends SIGINT to the whole process group,
as a terminal's Ctrl-C does (the cluster's workers included). Whatever the moment: exit code
130, one line, nothing from a worker (no traceback, no "failed to teardown"), no warning (no
leaked semaphores, no "port 8787 in use"), no process of the group left, and a run that had begun
is marked interrupted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from algotrade.data.loader import save_bars
from algotrade.data.synthetic import generate_bars
from algotrade.research.run_store import RunStore
from testkit.process_group import HAS_PROC, ctrl_c, wait_for
from testkit.research_ctrl_c import (
    assert_interrupted_cleanly,
    assert_one_line_and_exit_130,
    ctrl_c_at,
    gated_command,
    stored_parts,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAS_PROC, reason="reads /proc (Linux)"),
]

HOUR_NS = 3_600_000_000_000
# A Ctrl-C while the cluster starts takes effect once it is up (a few seconds on a loaded 2-core
# machine). Mid-run, the workers' batches are not waited for: the workers are stopped (0.3-0.8 s
# to the exit, measured), where Dask's nanny waits 4 s for a busy worker to close, then kills it.
EXIT_S = {"worker-start": 10.0, "mid-run": 4.0}

# (command, moment): "worker-start" = as soon as a cluster worker's interpreter runs, while it
# imports and the cluster starts (the run is not stored yet); "mid-run" = two batches stored,
# the others running on the workers (and blocked for good).
CASES = [
    ("sweep", "worker-start"),
    ("sweep", "mid-run"),
    ("optimize", "mid-run"),
]


@pytest.fixture(scope="module")
def bars_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bars") / "AAA.parquet"
    save_bars(generate_bars(300, symbol="AAA", seed=5, interval_ns=HOUR_NS), path)
    return path


@pytest.mark.parametrize(("command", "moment"), CASES)
def test_ctrl_c_on_a_local_dask_cluster_exits_130_with_one_line_and_no_process_left(
    tmp_path: Path, bars_file: Path, command: str, moment: str
) -> None:
    argv = gated_command(tmp_path, command, bars_file, ["--cluster", "local:2"])
    code, stderr = ctrl_c_at(moment, argv, tmp_path, within_s=EXIT_S[moment])
    data_dir = tmp_path / "d"
    assert_interrupted_cleanly(code, stderr, data_dir, run_begun=moment == "mid-run")


def test_ctrl_c_as_the_last_batch_is_stored_exits_130_with_one_line(
    tmp_path: Path, bars_file: Path
) -> None:
    # The run ends meanwhile: its futures are dropped, the cluster closes. Before, a Ctrl-C then
    # landed in a Dask future's __del__ (printed, and lost: exit 0) or cut the close short.
    data_dir = tmp_path / "d"
    argv = [sys.executable, "-m", "algotrade", "sweep", "--strategy", "ma_crossover"]
    argv += ["--param", "fast=2:7:1", "--param", "slow=20", "--batch-size", "1"]
    argv += ["--data", str(bars_file), "--data-dir", str(data_dir), "--cluster", "local:2"]
    env = {**os.environ, "COLUMNS": "200"}

    def moment_comes(proc: subprocess.Popen[bytes]) -> None:
        wait_for(lambda: stored_parts(data_dir) == 6, proc, "every batch stored")

    code, stderr = ctrl_c(argv, tmp_path / "err", moment_comes, within_s=EXIT_S["mid-run"], env=env)
    line = assert_one_line_and_exit_130(code, stderr)
    with RunStore(data_dir, f"sqlite:///{data_dir / 'algotrade.db'}") as store:
        (run,) = store.runs()
    # Marked done already, or interrupted (and then resumable, as the line says).
    assert run.status in ("done", "interrupted"), stderr
    assert (run.status == "interrupted") == ("--resume" in line), stderr
