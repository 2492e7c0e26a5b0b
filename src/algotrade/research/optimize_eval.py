"""Evaluating optimization trials on the shared executor, with a cache and the run store.

A trial's parameter set is backtested on *units*: one dataset on one bar window. Every unit of
a parameter set is one ``Batch`` (research.evaluate), run by the executor that sweeps use, and
its rows are stored in the run store as soon as the batch finishes.

The cache is keyed by content (parameter set, dataset, window), never by trial: Optuna proposes
the same integer point more than once, a resumed run asks again for the trials an interruption
cut short, and the last pruning step of a one-symbol run is the full window. None of them runs a
backtest twice. The batch id is a digest of the same content, so the run store's parts are the
cache on disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from algotrade.research.evaluate import Batch, EvalConfig, ResultRow, Window
from algotrade.research.executors import Executor
from algotrade.research.objectives import Objective, params_key
from algotrade.research.run_store import RunStore
from algotrade.research.walkforward import score_params

CacheKey = tuple[str, str, int | None, int | None]


@dataclass(frozen=True, slots=True)
class Unit:
    """One dataset on one window; ``tag`` labels the rows (walk-forward: ``is:N``)."""

    dataset: str
    window: Window
    tag: str


def cache_key(params: dict[str, object], unit: Unit) -> CacheKey:
    return (params_key(params), unit.dataset, unit.window[0], unit.window[1])


def batch_id_for(strategy: str, key: CacheKey) -> str:
    text = "\x1f".join((strategy, *(str(part) for part in key)))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class TrialEvaluator:
    """Runs units of parameter sets through ``executor``; stores and caches their rows."""

    def __init__(
        self,
        *,
        strategy: str,
        config: EvalConfig,
        executor: Executor,
        store: RunStore,
        run_id: str,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self.strategy = strategy
        self.config = config
        self._executor = executor
        self._store = store
        self._run_id = run_id
        self._on_rows = on_rows
        self._cache: dict[CacheKey, ResultRow] = {}
        self.evaluated = 0  # backtests run by this evaluator (cache misses)
        self.reused = 0  # backtests answered from the cache

    def load_stored(self) -> int:
        """Fill the cache from the run's stored parts (a resumed run); returns rows loaded."""
        rows = self._store.rows(self._run_id)
        for row in rows:
            unit = Unit(row.dataset, row.window, row.tag)
            self._cache[cache_key(row.params, unit)] = row
        return len(rows)

    def evaluate(self, requests: Sequence[tuple[dict[str, object], Unit]]) -> list[ResultRow]:
        """Rows for every (parameter set, unit), in request order; only cache misses run."""
        batches: dict[CacheKey, Batch] = {}
        for params, unit in requests:
            key = cache_key(params, unit)
            if key in self._cache or key in batches:
                continue
            batches[key] = Batch(
                batch_id=batch_id_for(self.strategy, key),
                strategy=self.strategy,
                param_sets=[dict(params)],
                dataset=unit.dataset,
                window=unit.window,
                config=self.config,
                tag=unit.tag,
            )
        self.reused += len(requests) - len(batches)
        if batches:
            by_id = {batch.batch_id: key for key, batch in batches.items()}
            for rows in self._executor.run(list(batches.values())):
                if not rows:
                    continue
                self._store.write_part(self._run_id, rows[0].batch_id, rows)
                self._cache[by_id[rows[0].batch_id]] = rows[0]
                self.evaluated += len(rows)
                if self._on_rows is not None:
                    self._on_rows(len(rows))
        # A cached row may carry another unit's tag (same window): label it as asked.
        result = []
        for params, unit in requests:
            row = self._cache[cache_key(params, unit)]
            result.append(row if row.tag == unit.tag else replace(row, tag=unit.tag))
        return result


def objective_values(
    rows: Iterable[ResultRow], objectives: Sequence[Objective]
) -> tuple[list[float] | None, str]:
    """The trial's value per objective (mean over its units' datasets), or ``None`` and why."""
    rows = list(rows)
    values: list[float] = []
    for objective in objectives:
        scores = score_params(rows, objective)
        score = scores[0] if scores else None
        if score is None or score.value is None:
            reason = (score.error if score is not None else None) or (
                f"{objective.metric} is undefined for this parameter set"
            )
            return None, reason
        values.append(score.value)
    return values, ""
