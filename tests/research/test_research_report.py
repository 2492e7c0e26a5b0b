"""The research run report: sections, numbers checked independently, self-contained HTML."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs_version

from algotrade.backtest.report import SIMULATED_BANNER
from algotrade.core.errors import InputError
from algotrade.research.evaluate import ResultRow
from algotrade.research.objectives import parse_objective
from algotrade.research.report import write_run_report
from algotrade.research.report_scores import (
    pareto_front,
    robustness,
    run_objectives,
    scope,
    score_scope,
)
from algotrade.research.run_store import RunStore
from algotrade.research.walkforward import folds, save_summary, summarize

HOUR = 3_600_000_000_000
T0 = 1_704_067_200 * 1_000_000_000
FASTS = [5, 10, 15, 20]
SLOWS = [20, 30, 40, 50, 60]


def sharpe_of(fast: int, slow: int) -> float:
    """A smooth hill with its top at fast=10, slow=40 (a known best and neighbourhood)."""
    return 3.0 - 0.01 * (fast - 10) ** 2 - 0.002 * (slow - 40) ** 2


def drawdown_of(fast: int, slow: int) -> float:
    return 0.05 + 0.002 * fast + 0.001 * (60 - slow)


def row(params: dict[str, Any], dataset: str = "hl:BTC:1h", tag: str = "", **metrics: Any):
    return ResultRow("b", params, dataset, (None, None), tag, metrics)


def grid_rows(datasets: tuple[str, ...] = ("hl:BTC:1h",), tag: str = "") -> list[ResultRow]:
    return [
        row(
            {"fast": fast, "slow": slow},
            dataset,
            tag,
            sharpe=sharpe_of(fast, slow),
            max_drawdown=drawdown_of(fast, slow),
            total_return=0.01 * fast,
            trades=float(slow),
        )
        for dataset in datasets
        for fast, slow in itertools.product(FASTS, SLOWS)
    ]


def store_run(
    tmp_path: Path, rows: list[ResultRow], spec: dict[str, Any], kind: str = "sweep"
) -> Path:
    store = RunStore(tmp_path / "data")
    run_id = f"{kind}-test"
    store.begin(run_id, spec, kind=kind, total_batches=1)
    for number, offset in enumerate(range(0, len(rows), 7)):
        store.write_part(run_id, f"b{number:04d}", rows[offset : offset + 7])
    return store.run_dir(run_id)


SWEEP_SPEC: dict[str, Any] = {
    "strategy": "ma_crossover",
    "space": [["fast", "5:20:5"], ["slow", "20:60:10"]],
    "metric": "sharpe:max",
    "datasets": {"hl:BTC:1h": {}},
}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_sweep_report_has_every_section_and_is_self_contained(tmp_path: Path) -> None:
    run_dir = store_run(tmp_path, grid_rows(), SWEEP_SPEC)
    out = tmp_path / "out" / "report.html"
    write_run_report(run_dir, out)
    text = read(out)
    assert text.startswith("<!DOCTYPE html>")
    for heading in ("Top parameter sets", "Heatmap: fast × slow", "Robustness around the best"):
        assert heading in text
    assert "Pareto front" not in text  # one objective
    assert "Walk-forward" not in text  # no folds
    assert SIMULATED_BANNER not in text
    # Offline: plotly.js inlined once, nothing fetched from elsewhere.
    assert text.count(f"plotly.js v{get_plotlyjs_version()}") == 1
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    # No URL outside the bundle (whose defaults name a CDN for geo maps it never loads here).
    page = re.sub(r"<script>/\*\*\s*\* plotly\.js v.*?</script>", "", text, flags=re.S)
    assert len(page) < len(text) / 10
    assert not re.findall(r"https?://", page)
    assert not list(out.parent.glob("*.tmp"))


def test_ranking_and_robustness_numbers(tmp_path: Path) -> None:
    rows = grid_rows()
    label, scoped = scope(rows)
    assert label == "whole range"
    scored = score_scope(scoped, [parse_objective("sharpe")])
    assert scored.scores[0].params == {"fast": 10, "slow": 40}
    found = robustness(scored)
    assert found is not None
    # ±1 grid step of fast=10 (5, 15) and slow=40 (30, 50), the best itself excluded.
    expected = {(f, s) for f in (5, 10, 15) for s in (30, 40, 50) if (f, s) != (10, 40)}
    assert {(n.params["fast"], n.params["slow"]) for n in found.neighbours} == expected
    values = [sharpe_of(f, s) for f, s in expected]
    assert found.mean == pytest.approx(sum(values) / len(values))
    assert found.worst == pytest.approx(min(values))
    slow_profile = next(p for p in found.profiles if p.name == "slow")
    assert slow_profile.values == SLOWS
    assert slow_profile.held == pytest.approx([sharpe_of(10, s) for s in SLOWS])


def dominated(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """b dominates a (sharpe max, drawdown min)."""
    return b[0] >= a[0] and b[1] <= a[1] and b != a


def test_pareto_front_is_the_non_dominated_sets(tmp_path: Path) -> None:
    spec = {
        **SWEEP_SPEC,
        "objectives": [
            {"metric": "sharpe", "direction": "max"},
            {"metric": "max_drawdown", "direction": "min"},
        ],
    }
    rows = grid_rows()
    scored = score_scope(rows, run_objectives(spec))
    front = {(s.params["fast"], s.params["slow"]) for s in pareto_front(scored)}
    points = {(f, s): (sharpe_of(f, s), drawdown_of(f, s)) for f in FASTS for s in SLOWS}
    expected = {
        key
        for key, point in points.items()
        if not any(dominated(point, other) for other in points.values())
    }
    assert front == expected
    assert len(expected) > 1
    run_dir = store_run(tmp_path, rows, spec, kind="optimize")
    write_run_report(run_dir, tmp_path / "r.html")
    assert f"Pareto front ({len(expected)} of 20 parameter sets)" in read(tmp_path / "r.html")


def test_incomplete_sets_are_not_ranked(tmp_path: Path) -> None:
    rows = grid_rows(("A", "B"))
    # fast=10/slow=40 (the best) lost its B row: pruned or interrupted.
    rows = [r for r in rows if not (r.params == {"fast": 10, "slow": 40} and r.dataset == "B")]
    scored = score_scope(rows, [parse_objective("sharpe")])
    assert scored.incomplete == 1
    assert {"fast": 10, "slow": 40} not in [s.params for s in scored.scores]
    run_dir = store_run(tmp_path, rows, SWEEP_SPEC)
    write_run_report(run_dir, tmp_path / "r.html")
    assert "1 parameter set(s) without a result on every dataset" in read(tmp_path / "r.html")


def test_walk_forward_section_and_simulated_label(tmp_path: Path) -> None:
    ts = [T0 + i * HOUR for i in range(100)]
    fold_list = folds(None, None, 2, 0.25, ts=ts)
    rows = []
    for fold in fold_list:
        rows += grid_rows(tag=fold.is_tag)
        oos = grid_rows(tag=fold.oos_tag)
        rows += [
            ResultRow(
                r.batch_id, r.params, r.dataset, r.window, r.tag, {"sharpe": -1.0 - fold.index}
            )
            for r in oos
        ]
    spec = {**SWEEP_SPEC, "folds": 2, "oos_fraction": 0.25, "synthetic": True}
    run_dir = store_run(tmp_path, rows, spec)
    summary = summarize(
        fold_list, rows, parse_objective("sharpe"), anchored=False, oos_fraction=0.25
    )
    save_summary(run_dir, summary)
    write_run_report(run_dir, tmp_path / "wf.html")
    text = read(tmp_path / "wf.html")
    assert SIMULATED_BANNER in text
    assert "<title>[SIMULATED]" in text
    assert "Walk-forward: out of sample (sharpe:max)" in text
    assert "out of sample, mean over the folds" in text  # a sweep's OOS ranking
    assert text.count("fast=10, slow=40") >= 2  # each fold's IS winner
    assert "-1.00" in text
    assert "-2.00" in text


def test_heatmap_choice_is_checked(tmp_path: Path) -> None:
    run_dir = store_run(tmp_path, grid_rows(), SWEEP_SPEC)
    write_run_report(run_dir, tmp_path / "h.html", heatmap=("slow", "fast"))
    assert "Heatmap: slow × fast" in read(tmp_path / "h.html")
    with pytest.raises(InputError, match="--heatmap"):
        write_run_report(run_dir, tmp_path / "bad.html", heatmap=("fast", "qty"))
    with pytest.raises(InputError, match="not a research run"):
        write_run_report(tmp_path / "nothing", tmp_path / "x.html")


def test_escapes_parameter_text(tmp_path: Path) -> None:
    hostile = "</script><script>alert(1)</script>"
    rows = [
        row({"mode": mode, "n": n}, sharpe=float(n), max_drawdown=0.1)
        for mode in ("<b>x</b>", hostile)
        for n in range(3)
    ]
    run_dir = store_run(tmp_path, rows, {**SWEEP_SPEC, "space": [["mode", "<b>x</b>"]]})
    write_run_report(run_dir, tmp_path / "e.html")
    text = read(tmp_path / "e.html")
    assert "Heatmap: mode × n" in text  # the text values are on a chart axis too
    assert "<b>x</b>" not in text
    assert "<script>alert" not in text


def test_walk_forward_optimization_scope_is_the_last_in_sample_study() -> None:
    # Each fold's study ran its own sets in sample; only each winner ran out of sample.
    rows = grid_rows(tag="is:0") + grid_rows(tag="is:1")
    rows += [row({"fast": 10, "slow": 40}, tag="oos:0", sharpe=1.0)]
    rows += [row({"fast": 15, "slow": 30}, tag="oos:1", sharpe=0.5)]
    label, scoped = scope(rows)
    assert label == "in sample of fold 1 (the last)"
    assert {r.tag for r in scoped} == {"is:1"}
    assert len(scoped) == len(FASTS) * len(SLOWS)
