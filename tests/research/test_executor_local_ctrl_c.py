"""Ctrl-C of ``algotrade sweep`` and ``algotrade optimize`` on the local process pool, at any
moment: while the command itself is still importing, while the pool's worker processes are
still starting, and mid-run.

Each case runs the real command in its own session and sends SIGINT to the whole process group,
which is what a terminal's Ctrl-C does. Whatever the moment: exit code 130, one line saying it
was interrupted, no traceback from any process, no process of the group left, and a run that
had begun is marked interrupted (so the same command resumes it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrade.data.loader import save_bars
from algotrade.data.synthetic import generate_bars
from testkit.process_group import HAS_PROC
from testkit.research_ctrl_c import assert_interrupted_cleanly, ctrl_c_at, gated_command

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAS_PROC, reason="reads /proc (Linux)"),
]

HOUR_NS = 3_600_000_000_000
EXIT_S = 10.0  # "exits within a few seconds", with room for a loaded 2-core machine

# (command, moment): "+S" = S seconds after the command can catch SIGINT (it is importing, then
# loading data, then starting workers; the first ~30 ms are the interpreter's own start-up,
# which no program can make quiet); "worker-start" = as soon as a pool worker's interpreter
# runs, while it imports, before any evaluation; "mid-run" = two batches stored, the others
# running (and blocked for good).
CASES = [
    ("sweep", "+0.2"),
    ("sweep", "+0.4"),
    ("sweep", "+0.8"),
    ("sweep", "+1.5"),
    ("sweep", "worker-start"),
    ("sweep", "mid-run"),
    ("optimize", "+0.3"),
    ("optimize", "worker-start"),
    ("optimize", "mid-run"),
]


@pytest.fixture(scope="module")
def bars_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bars") / "AAA.parquet"
    save_bars(generate_bars(300, symbol="AAA", seed=5, interval_ns=HOUR_NS), path)
    return path


@pytest.mark.parametrize(("command", "moment"), CASES)
def test_ctrl_c_at_any_moment_exits_130_with_one_line_and_no_process_left(
    tmp_path: Path, bars_file: Path, command: str, moment: str
) -> None:
    argv = gated_command(tmp_path, command, bars_file, ["--workers", "2"])
    code, stderr = ctrl_c_at(moment, argv, tmp_path, within_s=EXIT_S)
    data_dir = tmp_path / "d"
    assert_interrupted_cleanly(
        code, stderr, data_dir, run_begun=moment in ("worker-start", "mid-run")
    )
