"""RunStore: run.json, atomic parts per batch, resume by id, the research_runs summary."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from algotrade.core.errors import InputError
from algotrade.research.evaluate import ResultRow
from algotrade.research.run_store import RunStore, run_id_for

SPEC = {"strategy": "ma_crossover", "space": {"fast": "5:10:5"}, "metric": "sharpe"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'algotrade.db'}"
    url: str = request.getfixturevalue("pg_url")
    from testkit.postgres import truncate_tables

    with RunStore(tmp_path, url):  # migrate so the table exists to be emptied
        pass
    truncate_tables(url, ["research_runs"])
    return url


def _row(batch: str, fast: int, sharpe: float | None, error: str | None = None) -> ResultRow:
    metrics = {} if error else {"sharpe": sharpe, "trades": 3.0}
    params = {"fast": fast, "qty": "0.5"}
    return ResultRow(batch, params, "v:A:1h", (1, None), "is:0", metrics, error)


def test_run_id_depends_only_on_the_spec() -> None:
    assert run_id_for("sweep", SPEC) == run_id_for("sweep", dict(reversed(SPEC.items())))
    assert run_id_for("sweep", SPEC) != run_id_for("sweep", {**SPEC, "metric": "cagr"})
    assert run_id_for("sweep", SPEC).startswith("sweep-")


def test_parts_round_trip_and_resume_sees_them(tmp_path: Path, db_url: str) -> None:
    run_id = run_id_for("sweep", SPEC)
    with RunStore(tmp_path, db_url) as store:
        assert store.begin(run_id, SPEC, kind="sweep", total_batches=2) == set()
        rows_a = [_row("a", 5, 1.5), _row("a", 10, None)]
        rows_b = [_row("b", 5, 0.5), _row("b", 10, None, error="strategy x.py:3: boom")]
        store.write_part(run_id, "a", rows_a)
        (summary,) = store.runs()
        assert (summary.status, summary.done_batches, summary.total_batches) == ("running", 1, 2)
        store.write_part(run_id, "b", rows_b)
        assert store.rows(run_id) == rows_a + rows_b
        frame = store.results(run_id)
        assert frame["param_fast"].to_list() == [5, 10, 5, 10]
        assert frame["param_qty"].to_list() == ["0.5"] * 4
        assert frame.schema["sharpe"] == pl.Float64
        assert frame["error"].to_list() == [None, None, None, "strategy x.py:3: boom"]
        top = store.top(run_id, 5, "sharpe")
        assert top["sharpe"].to_list() == [1.5, 0.5]
        assert store.top(run_id, 1, "sharpe", maximize=False)["sharpe"].to_list() == [0.5]
        store.finish(run_id, "done", best_metric="sharpe", best_value=1.5)
    with RunStore(tmp_path, db_url) as store:  # a rerun of the same spec finds both parts
        assert store.begin(run_id, SPEC, kind="sweep", total_batches=2) == {"a", "b"}
        (summary,) = store.runs()
        assert summary.status == "running"
        store.finish(run_id, "done", best_metric="sharpe", best_value=1.5)
        (summary,) = store.runs()
    assert (summary.status, summary.done_batches, summary.best_value) == ("done", 2, 1.5)
    assert summary.finished_at is not None
    assert summary.finished_at.tzinfo is not None
    assert Path(summary.path) == (tmp_path / "research" / run_id).resolve()
    stored = json.loads((tmp_path / "research" / run_id / "run.json").read_text())
    assert stored["spec"] == SPEC
    assert stored["kind"] == "sweep"


def test_a_different_spec_under_the_same_id_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.begin("sweep-x", SPEC, kind="sweep", total_batches=1)
    with pytest.raises(InputError, match="exists with a different spec"):
        store.begin("sweep-x", {**SPEC, "metric": "cagr"}, kind="sweep", total_batches=1)


def test_parts_are_written_atomically(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.begin("r1", SPEC, kind="sweep", total_batches=1)
    store.write_part("r1", "a", [_row("a", 5, 1.0)])
    folder = tmp_path / "research" / "r1" / "results"
    assert sorted(p.name for p in folder.iterdir()) == ["part-a.parquet"]  # no temp file left
    assert store.done_batches("r1") == {"a"}


def test_unknown_metric_and_bad_run_ids_are_one_line_errors(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.begin("r1", SPEC, kind="sweep", total_batches=1)
    store.write_part("r1", "a", [_row("a", 5, 1.0)])
    with pytest.raises(InputError, match="'cagr' is not a stored metric; metrics: sharpe, trades"):
        store.top("r1", 3, "cagr")
    with pytest.raises(InputError, match="not a run id"):
        store.run_dir("../etc")
    with pytest.raises(InputError, match="no such run"):
        store.load_run("missing")
