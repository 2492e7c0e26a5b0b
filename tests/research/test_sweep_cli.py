"""``algotrade sweep`` end to end: the real command, its files, its errors, and a run killed
with SIGKILL that the same command then finishes without redoing stored batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from algotrade.cli.main import main
from algotrade.data.loader import load_bars, save_bars
from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import Batch, EvalConfig, evaluate_batch
from algotrade.research.run_store import RunStore

HOUR_NS = 3_600_000_000_000

# Appends k to evaluations.log whenever it starts (the evaluation counter) and, for k == 3,
# waits until a file named release exists (the point where the test kills the command).
GATE = """
import time
from decimal import Decimal
from pathlib import Path
from algotrade.core.strategy import Strategy, StrategyParams

HERE = Path(__file__).parent

class P(StrategyParams):
    k: int = 0

class Gate(Strategy):
    name = "gate"
    Params = P

    def on_start(self):
        with open(HERE / "evaluations.log", "a") as log:
            log.write(f"{self.params.k}\\n")
        if self.params.k == 3:
            deadline = time.monotonic() + 120
            while not (HERE / "release").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("never released")
                time.sleep(0.02)
        self._n = 0

    def on_bar(self, bar):
        self._n += 1
        if self._n % (4 + self.params.k) == 0:
            self.ctx.target_position(bar.symbol, Decimal(self._n % 3 - 1))
"""


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps nothing


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    sys_argv = sys.argv
    sys.argv = ["algotrade", *args]
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = sys_argv
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bars_file(tmp_path: Path) -> Path:
    path = tmp_path / "AAA.parquet"
    save_bars(generate_bars(900, symbol="AAA", seed=5, interval_ns=HOUR_NS), path)
    return path


@pytest.mark.slow
def test_sweep_writes_results_json_and_the_summary_row(
    tmp_path: Path, bars_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    args = ["sweep", "--strategy", "ma_crossover", "--data", str(bars_file)]
    args += ["--param", "fast=2:6:2", "--param", "slow=4,12", "--workers", "1"]
    args += ["--data-dir", str(tmp_path / "d"), "--json", str(out), "--metric", "total_return"]
    args += ["--report", str(tmp_path / "report.html"), "--heatmap", "slow,fast"]
    code, stdout, stderr = _run(capsys, *args)
    assert code == 0, stderr
    assert "2 invalid combination(s) dropped (fast (4) must be smaller than slow (4))" in stderr
    document = json.loads(out.read_text())
    ranking = document["ranking"]
    assert len(ranking) == 4
    values = [item["score"] for item in ranking]
    assert values == sorted(values, reverse=True)
    store = RunStore(tmp_path / "d", f"sqlite:///{tmp_path / 'd' / 'algotrade.db'}")
    with store:
        (summary,) = store.runs()
        frame = store.results(document["run_id"])
    assert summary.status == "done"
    assert summary.best_value == values[0]
    assert frame.height == 4
    assert frame["total_return"].max() == values[0]
    assert "top 10 by total_return:max" in stdout
    report = (tmp_path / "report.html").read_text()
    assert document["run_id"] in report
    assert "Heatmap: slow × fast" in report  # by default fast (3 values) would be the x axis


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "fast=0:4:2"], "--param fast: value '0' is not valid"),
        (["--param", "fast=9", "--param", "slow=3"], "--param: no valid parameter combination"),
        (["--cluster", "cloud"], "--cluster: expected local, local:N"),
        (["--resume", "sweep-abc"], "--resume takes the run's stored options; drop --strategy"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--metric", "sharpe:max", "--minimize"], "--minimize: the --metric already says"),
        (["--param", "fast=2:5", "--heatmap", "fast,qty"], "--heatmap: expected two different"),
        (["--commission", "2"], "--commission: must be below 1"),
        (["--slippage-bps", "20000"], "--slippage-bps: must be below 10000"),
        (["--db-url", "bogus://x"], "--db-url: invalid store URL bogus://x"),
        (["--start", "2024-01-01"], "--start: only with --symbols"),
    ],
)
def test_bad_options_are_one_line_errors(
    tmp_path: Path,
    bars_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    data_dir = tmp_path / "d"
    args = ["sweep", "--strategy", "ma_crossover", "--data", str(bars_file)]
    code, stdout, stderr = _run(capsys, *args, "--data-dir", str(data_dir), *extra)
    assert code == 2
    assert stdout == ""
    [line] = stderr.splitlines()  # the error alone: no "sweep sweep-…: N parameter sets" before
    assert line.startswith("error: ")
    assert message in line
    assert not data_dir.exists()  # no database, no run folder


def _wait_for(condition: object, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            pytest.fail(f"sweep exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_repeating_finished_batches(
    tmp_path: Path, bars_file: Path
) -> None:
    strategy = tmp_path / "gate.py"
    strategy.write_text(GATE)
    log = tmp_path / "evaluations.log"
    data_dir = tmp_path / "d"
    command = [sys.executable, "-m", "algotrade", "sweep", "--strategy", str(strategy)]
    command += ["--data", str(bars_file), "--param", "k=0:5:1", "--workers", "1"]
    command += ["--batch-size", "1", "--data-dir", str(data_dir), "--periods-per-year", "365"]

    def parts() -> list[Path]:
        return sorted(data_dir.glob("research/*/results/part-*.parquet"))

    def log_lines() -> list[str]:
        return log.read_text().split() if log.exists() else []

    with (tmp_path / "first.err").open("wb") as err:
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
        try:
            _wait_for(lambda: len(parts()) == 3 and "3" in log_lines(), proc, "3 stored batches")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes
            proc.wait()
    assert len(parts()) == 3
    assert log_lines() == ["0", "1", "2", "3"]  # k=3 was running, unfinished

    (tmp_path / "release").touch()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed: 3 of 6 batches were stored" in rerun.stderr
    assert log_lines() == ["0", "1", "2", "3", "3", "4", "5"]  # 0-2 never ran again

    (run_dir,) = (data_dir / "research").iterdir()
    rows = RunStore(data_dir).rows(run_dir.name)
    assert [row.params["k"] for row in rows] == [0, 1, 2, 3, 4, 5]
    bars = load_bars([str(bars_file)])
    config = EvalConfig(periods_per_year=365)
    for row in rows:
        batch = Batch(row.batch_id, str(strategy), [row.params], row.dataset, (None, None), config)
        assert evaluate_batch(batch, bars) == [row]


def _parts(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("research/*/results/part-*.parquet"))


def _default_sigint() -> None:
    # A command started in the background inherits an ignored SIGINT; a terminal's is not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_stops_at_once_and_marks_the_run_interrupted(
    tmp_path: Path, bars_file: Path
) -> None:
    strategy = tmp_path / "gate.py"
    strategy.write_text(GATE)  # k == 3 blocks until released: never, here
    data_dir = tmp_path / "d"
    command = [sys.executable, "-m", "algotrade", "sweep", "--strategy", str(strategy)]
    command += ["--data", str(bars_file), "--param", "k=0:5:1", "--workers", "1"]
    command += ["--batch-size", "1", "--data-dir", str(data_dir)]
    log = tmp_path / "evaluations.log"
    with (tmp_path / "err").open("wb") as err:
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
        try:
            _wait_for(
                lambda: len(_parts(data_dir)) == 3 and "3" in log.read_text().split(),
                proc,
                "3 stored batches and k=3 running",
            )
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group
            code = proc.wait(timeout=60)  # the blocked batch is not waited for (120 s)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    stderr = (tmp_path / "err").read_text()
    assert code == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted: 3 of 6 batches stored; ")
    store = RunStore(data_dir, f"sqlite:///{data_dir / 'algotrade.db'}")
    with store:
        (summary,) = store.runs()
    assert (summary.status, summary.done_batches, summary.total_batches) == ("interrupted", 3, 6)
