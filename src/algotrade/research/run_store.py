"""Where research runs keep their results, and how they resume.

Layout, under ``<data_dir>/research/<run_id>/``:

- ``run.json``: what the run is (its spec: strategy, space, datasets, windows, metric, config)
  and when it was created. The run id is a digest of the spec, so the same command run again
  is the same run;
- ``results/part-<batch_id>.parquet``: one file per finished batch, written atomically. A run
  started again skips every batch whose part exists: an interrupted sweep continues where it
  stopped.

A summary row per run lives in the daemon's database (table ``research_runs``): status,
progress and best score, for listings that should not open every run's files.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, select, update

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import InputError
from algotrade.research.evaluate import ResultRow
from algotrade.store import Store
from algotrade.store.models import Base
from algotrade.store.models_research import RUN_KINDS, RUN_STATUSES, ResearchRunRow

RUNS = Base.metadata.tables[ResearchRunRow.__tablename__]
SPEC_FILE = "run.json"
PARTS_DIR = "results"
PARAM_PREFIX = "param_"
# Columns of a part that are not metrics (metrics are every other Float64 column).
BASE_COLUMNS = (
    "batch_id",
    "row",
    "dataset",
    "window_start",
    "window_end",
    "tag",
    "params",
    "error",
)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    kind: str
    strategy: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    total_batches: int
    done_batches: int
    best_metric: str | None
    best_value: float | None
    path: str


def run_id_for(kind: str, spec: dict[str, Any]) -> str:
    """``<kind>-<12 hex>``: the same spec always gives the same id."""
    digest = hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise InputError(f"--resume: {run_id!r} is not a run id (letters, digits, . _ -)")
    return run_id


class RunStore:
    """Results of research runs under ``data_dir`` and their summary rows in ``db_url``'s
    database (no database: files only, ``runs()`` reads the run folders)."""

    def __init__(self, data_dir: Path, db_url: str | None = None) -> None:
        self.root = Path(data_dir) / "research"
        self._store = Store(db_url) if db_url is not None else None
        # run id -> stored batch ids, from begin() on: counting parts must not list the folder
        # again after every batch (a run may have 100,000 of them).
        self._done: dict[str, set[str]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        if self._store is not None:
            self._store.open()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> RunStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs --------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.root / check_run_id(run_id)

    def begin(
        self, run_id: str, spec: dict[str, Any], *, kind: str, total_batches: int
    ) -> set[str]:
        """Create the run (or take up the stored one: its spec must equal ``spec``) and mark
        it running; returns the ids of the batches already stored."""
        if kind not in RUN_KINDS:
            raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}")
        folder = self.run_dir(run_id)
        spec_path = folder / SPEC_FILE
        now = datetime.now(UTC)
        if spec_path.exists():
            stored = self.load_run(run_id)
            if canonical_json(stored["spec"]) != canonical_json(spec):
                raise InputError(
                    f"run {run_id} exists with a different spec ({spec_path}); "
                    "resume it with its own options or start a new run"
                )
            created = datetime.fromisoformat(stored["created"])
        else:
            (folder / PARTS_DIR).mkdir(parents=True, exist_ok=True)
            created = now
            document = {"run_id": run_id, "kind": kind, "created": now.isoformat(), "spec": spec}
            write_atomic(spec_path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        done = self.done_batches(run_id)
        self._done[run_id] = set(done)
        self._upsert_summary(
            {
                "run_id": run_id,
                "kind": kind,
                "strategy": str(spec.get("strategy", "")),
                "status": "running",
                "created_at": created,
                "finished_at": None,
                "total_batches": total_batches,
                "done_batches": len(done),
                "path": str(folder.resolve()),
            }
        )
        return done

    def has_run(self, run_id: str) -> bool:
        return (self.run_dir(run_id) / SPEC_FILE).exists()

    def load_run(self, run_id: str) -> dict[str, Any]:
        """The stored ``run.json`` (``InputError`` when the run does not exist)."""
        path = self.run_dir(run_id) / SPEC_FILE
        try:
            document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"run {run_id}: no such run under {self.root}") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"run {run_id}: cannot read {path}: {exc}") from None
        return document

    def done_batches(self, run_id: str) -> set[str]:
        parts = self.run_dir(run_id) / PARTS_DIR
        if not parts.is_dir():
            return set()
        return {path.stem.removeprefix("part-") for path in parts.glob("part-*.parquet")}

    def write_part(self, run_id: str, batch_id: str, rows: Sequence[ResultRow]) -> None:
        """Store one finished batch's rows, atomically, and count it in the summary row."""
        buffer = io.BytesIO()
        rows_frame(rows).write_parquet(buffer)
        write_atomic(
            self.run_dir(run_id) / PARTS_DIR / f"part-{batch_id}.parquet", buffer.getvalue()
        )
        self._set(run_id, done_batches=len(self.done_batches(run_id)))

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        best_metric: str | None = None,
        best_value: float | None = None,
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
        self._set(
            run_id,
            status=status,
            finished_at=datetime.now(UTC),
            done_batches=len(self.done_batches(run_id)),
            best_metric=best_metric,
            best_value=best_value,
        )

    # -- reads -------------------------------------------------------------------------------

    def results(self, run_id: str) -> pl.DataFrame:
        """Every stored row of the run (see ``read_results``)."""
        return read_results(self.run_dir(run_id))

    def rows(self, run_id: str) -> list[ResultRow]:
        """The stored rows as ``ResultRow``s, in batch order."""
        return read_rows(self.run_dir(run_id))

    def top(
        self, run_id: str, n: int, metric: str, *, maximize: bool = True, tag: str | None = None
    ) -> pl.DataFrame:
        """The ``n`` best rows by ``metric`` (rows without a value left out), optionally only
        those of windows tagged ``tag``."""
        frame = self.results(run_id)
        if metric not in frame.columns:
            known = ", ".join(metric_columns(frame)) or "none yet"
            raise InputError(f"--metric: {metric!r} is not a stored metric; metrics: {known}")
        if tag is not None:
            frame = frame.filter(pl.col("tag") == tag)
        frame = frame.filter(pl.col(metric).is_not_null() & pl.col(metric).is_not_nan())
        return frame.sort(metric, descending=maximize, maintain_order=True).head(n)

    def runs(self) -> list[RunSummary]:
        """Every run's summary, newest first."""
        if self._store is None:
            raise InputError("listing runs needs the database (--db-url)")
        with self._read("read research runs") as connection:
            found = connection.execute(select(RUNS).order_by(RUNS.c.created_at.desc())).all()
        return [RunSummary(**row._asdict()) for row in found]

    # -- database ----------------------------------------------------------------------------

    def _upsert_summary(self, values: dict[str, Any]) -> None:
        if self._store is None:
            return
        with self._write("record research run") as connection:
            exists = connection.execute(
                select(RUNS.c.run_id).where(RUNS.c.run_id == values["run_id"])
            ).first()
            if exists is None:
                connection.execute(RUNS.insert().values(**values))
            else:
                connection.execute(
                    update(RUNS).where(RUNS.c.run_id == values["run_id"]).values(**values)
                )

    def _set(self, run_id: str, **values: Any) -> None:
        if self._store is None:
            return
        with self._write("update research run") as connection:
            connection.execute(update(RUNS).where(RUNS.c.run_id == run_id).values(**values))

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        assert self._store is not None
        # The store's own transaction discipline and error translation (as RiskStore uses it).
        with self._store._write(action) as connection:
            yield connection

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        assert self._store is not None
        with self._store._read(action) as connection:
            yield connection


def metric_columns(frame: pl.DataFrame) -> list[str]:
    """The metric columns of a results frame (every column that is not a base or param one)."""
    return [
        name
        for name in frame.columns
        if name not in BASE_COLUMNS and not name.startswith(PARAM_PREFIX)
    ]


def rows_frame(rows: Sequence[ResultRow]) -> pl.DataFrame:
    """``rows`` as one table (see ``RunStore.results`` for the columns)."""
    columns: dict[str, pl.Series] = {
        "batch_id": pl.Series([r.batch_id for r in rows], dtype=pl.String),
        "row": pl.Series(list(range(len(rows))), dtype=pl.Int64),
        "dataset": pl.Series([r.dataset for r in rows], dtype=pl.String),
        "window_start": pl.Series([r.window[0] for r in rows], dtype=pl.Int64),
        "window_end": pl.Series([r.window[1] for r in rows], dtype=pl.Int64),
        "tag": pl.Series([r.tag for r in rows], dtype=pl.String),
        "params": pl.Series([canonical_json(r.params) for r in rows], dtype=pl.String),
        "error": pl.Series([r.error for r in rows], dtype=pl.String),
    }
    param_names = dict.fromkeys(name for r in rows for name in r.params)
    for name in param_names:
        columns[PARAM_PREFIX + name] = _param_series(
            PARAM_PREFIX + name, [r.params.get(name) for r in rows]
        )
    metric_names = dict.fromkeys(name for r in rows for name in r.metrics)
    for name in metric_names:
        columns[name] = pl.Series(
            name, [r.metrics.get(name) for r in rows], dtype=pl.Float64, strict=False
        )
    return pl.DataFrame(columns)


def _param_series(name: str, values: list[Any]) -> pl.Series:
    """A typed column when the values share a type, else their JSON text (a parameter that
    is ``"first_close" | decimal`` may mix a word and a number)."""
    kinds = {type(value) for value in values if value is not None}
    if len(kinds) <= 1:
        return pl.Series(name, values)
    return pl.Series(name, [None if v is None else json.dumps(v) for v in values], dtype=pl.String)


def read_results(run_dir: Path) -> pl.DataFrame:
    """Every row stored in ``run_dir``: ``batch_id, row, dataset, window_start, window_end,
    tag, params`` (JSON), ``param_<name>`` columns, metric columns, ``error``; in batch order."""
    parts = sorted((run_dir / PARTS_DIR).glob("part-*.parquet"))
    if not parts:
        return pl.DataFrame(schema={"batch_id": pl.String, "row": pl.Int64})
    frame = pl.concat([pl.read_parquet(path) for path in parts], how="diagonal_relaxed")
    return frame.sort("batch_id", "row")


def read_rows(run_dir: Path) -> list[ResultRow]:
    """The rows stored in ``run_dir`` as ``ResultRow``s, in batch order."""
    frame = read_results(run_dir)
    names = metric_columns(frame)
    rows = []
    for record in frame.iter_rows(named=True):
        failed = record["error"] is not None
        rows.append(
            ResultRow(
                batch_id=record["batch_id"],
                params=json.loads(record["params"]),
                dataset=record["dataset"],
                window=(record["window_start"], record["window_end"]),
                tag=record["tag"],
                metrics={} if failed else {name: record[name] for name in names},
                error=record["error"],
            )
        )
    return rows
