"""``algotrade optimize`` end to end: the real command on the local process pool, its files,
its rerun (nothing evaluated twice) and its one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import run_backtest
from algotrade.cli.main import main
from algotrade.data.loader import load_bars, save_bars
from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import EvalConfig
from algotrade.research.run_store import RunStore
from algotrade.strategies.ma_crossover import MACrossover

HOUR_NS = 3_600_000_000_000


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps nothing


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    saved = sys.argv
    sys.argv = ["algotrade", *args]
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bars_file(tmp_path: Path) -> Path:
    path = tmp_path / "AAA.parquet"
    save_bars(generate_bars(900, symbol="AAA", seed=5, interval_ns=HOUR_NS, volatility=0.01), path)
    return path


@pytest.mark.slow
def test_optimize_runs_stores_reports_and_reruns_for_free(
    tmp_path: Path, bars_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "d"
    out, report = tmp_path / "out.json", tmp_path / "report.html"
    args = ["optimize", "--strategy", "ma_crossover", "--data", str(bars_file)]
    args += ["--param", "fast=2:12", "--param", "slow=10:40", "--metric", "total_return"]
    args += ["--trials", "8", "--seed", "3", "--workers", "1", "--data-dir", str(data_dir)]
    code, stdout, stderr = _run(capsys, *args, "--json", str(out), "--report", str(report))
    assert code == 0, stderr
    document = json.loads(out.read_text())
    (study,) = document["studies"]
    assert sum(study["counts"].values()) == 8
    best = study["best"][0]
    # The best trial's value is the backtest of its parameters run alone.
    result = run_backtest(
        load_bars([bars_file]), MACrossover(best["params"]), EvalConfig().backtest_config()
    )
    assert best["values"] == [compute_metrics(result)["total_return"]]
    assert "main: best trial" in stdout
    text = report.read_text(encoding="utf-8")
    assert "Optimize report" in text
    assert "Heatmap: fast × slow" in text
    store = RunStore(data_dir, f"sqlite:///{data_dir / 'algotrade.db'}")
    with store:
        (summary,) = store.runs()
    assert summary.run_id == document["run_id"]
    assert summary.status == "done"
    assert summary.best_value == best["values"][0]
    # The same command again is the same run, finished: nothing is evaluated.
    code, _, stderr = _run(capsys, *args)
    assert code == 0, stderr
    assert f"0 backtests run, 0 answered from the cache; run {document['run_id']}" in stderr
    code, _, stderr = _run(
        capsys, "optimize", "--resume", document["run_id"], "--data-dir", str(data_dir)
    )
    assert code == 0, stderr
    assert f"run {document['run_id']}" in stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "fast=0:4"], "--param fast: value '0' is not valid"),
        (["--param", "fast=3"], "--param: every parameter has one value"),
        (
            ["--param", "fast=2:5", "--metric", "sharpe", "--metric", "max_drawdown", "--prune"],
            "--prune: Optuna prunes single-objective studies only",
        ),
        (["--param", "fast=2:5", "--sampler", "grid"], "--sampler: expected tpe or nsga2"),
        (["--param", "fast=2:5", "--trials", "0"], "--trials: must be at least 1"),
        (["--param", "fast=2:5", "--metric", "sharpe:up"], "direction must be 'max' or 'min'"),
        (["--param", "fast=2:5", "--heatmap", "fast,qty"], "--heatmap: expected two different"),
        (["--param", "fast=2:5", "--resume", "optimize-abc"], "--resume takes the run's stored"),
        (["--param", "fast=2:5", "--folds", "1000"], "too few bars per fold"),
        (["--param", "fast=2:5", "--commission", "1"], "--commission: must be below 1"),
        (["--param", "fast=2:5", "--slippage-bps", "10000"], "--slippage-bps: must be below"),
        (["--param", "fast=9:3"], "--param fast: high 3 is below low 9"),
        (["--param", "nope=1:3"], "--param nope: strategy ma_crossover has no such parameter"),
        (["--param", "fast=2:10:0"], "--param fast: step must be positive"),
        (["--param", "fast=2:5", "--folds", "1000"], "--folds 1000 with --oos-fraction 0.25"),
        (["--param", "fast=2:5", "--db-url", "bogus://x"], "--db-url: invalid store URL"),
        (["--param", "fast=2:5", "--interval", "1h"], "--interval: only with --symbols"),
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
    args = ["optimize", "--strategy", "ma_crossover", "--data", str(bars_file)]
    code, stdout, stderr = _run(
        capsys, *args, "--data-dir", str(data_dir), "--workers", "1", *extra
    )
    assert code == 2, stderr
    assert stdout == ""
    [line] = stderr.splitlines()  # the error alone: no "optimize ... trials" line before it
    assert line.startswith("error: "), stderr
    assert message in line
    assert not data_dir.exists()  # no database, no run folder
