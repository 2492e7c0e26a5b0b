"""Walk-forward: rolling in-sample / out-of-sample folds, and picking the in-sample winner.

Used by ``algotrade optimize --folds K`` (research.optimize) and ``algotrade sweep --folds K``
(research.sweep). The contract for both:

1. ``folds(start_ns, end_ns, k, oos_fraction, anchored, ts=bar_times)`` cuts the bars into
   ``k`` folds. Each fold is an in-sample (IS) window immediately followed by an out-of-sample
   (OOS) window, both ``[start_ns, end_ns)`` of bar open times, on bar boundaries, so they go
   straight into ``Batch.window``. The OOS windows are contiguous, never overlap and together
   run to the end of the range; fold ``i``'s IS is the ``is_bars`` bars before its OOS
   (rolling) or everything from the first bar (``anchored``).
2. Tag the batches of a fold with ``fold.is_tag`` / ``fold.oos_tag`` (``"is:2"``, ``"oos:2"``).
3. ``summarize(folds, rows, objective)`` takes the result rows (``ResultRow`` or anything with
   ``params``, ``metrics``, ``error``, ``tag``), picks per fold the parameter set that scores best
   in sample and reports how that same set did out of sample. The OOS rows need only contain the
   IS winner (two phases: ``best_in_sample`` then one OOS batch), or every set (one phase).
4. ``save_summary(run_dir, summary)`` writes ``walkforward.json``; the run report shows it.

Several datasets (symbols): a parameter set's score on a window is the mean of the objective
over the datasets; an error or an undefined value on any of them ranks it last. Ties go to the
smaller canonical parameter text, so the winner does not depend on the order results arrived in.

Fold arithmetic, with ``n`` bars and OOS fraction ``f``: each OOS window has
``o = floor(n / (k + (1 - f) / f))`` bars and the (first) IS window the other ``n - k·o`` bars
(at least ``o·(1-f)/f``), so every bar is used and an IS window is to its OOS window as
``(1-f) : f`` or a little longer.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import DataError, InputError
from algotrade.research.objectives import Direction, Objective, metric_value, params_key

WALKFORWARD_FILE = "walkforward.json"
MIN_FOLD_BARS = 2  # a window needs two bars for any return at all
Phase = Literal["is", "oos"]


class ResultLike(Protocol):
    """What selection reads from a result row (``research.evaluate.ResultRow`` has it)."""

    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def metrics(self) -> Mapping[str, Any]: ...
    @property
    def error(self) -> str | None: ...
    @property
    def tag(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Fold:
    index: int
    is_window: tuple[int, int]  # [start_ns, end_ns) of bar open times
    oos_window: tuple[int, int]
    is_bars: int
    oos_bars: int

    @property
    def is_tag(self) -> str:
        return fold_tag(self.index, "is")

    @property
    def oos_tag(self) -> str:
        return fold_tag(self.index, "oos")


def fold_tag(index: int, phase: Phase) -> str:
    """``"is:2"`` / ``"oos:2"``: the ``Batch.tag`` of fold 2's windows."""
    return f"{phase}:{index}"


def parse_fold_tag(tag: str) -> tuple[int, Phase] | None:
    """``"oos:2"`` → ``(2, "oos")``; anything else → ``None``."""
    phase, _, number = tag.partition(":")
    if phase not in ("is", "oos") or not number.isdigit():
        return None
    return int(number), "is" if phase == "is" else "oos"


def folds(
    start_ns: int | None,
    end_ns: int | None,
    k: int,
    oos_fraction: float,
    anchored: bool = False,
    *,
    ts: Sequence[int] | npt.NDArray[np.int64],
    min_bars: int = MIN_FOLD_BARS,
) -> list[Fold]:
    """``k`` walk-forward folds over the bars of ``ts`` (open times, any order, repeats allowed:
    several symbols) inside ``[start_ns, end_ns)``. See the module docstring."""
    if k < 1:
        raise InputError(f"--folds: expected a positive number of folds, got {k}")
    if not (math.isfinite(oos_fraction) and 0.0 < oos_fraction < 1.0):
        raise InputError(f"--oos-fraction: expected a number in (0, 1), got {oos_fraction}")
    times = np.unique(np.asarray(ts, dtype=np.int64))
    if start_ns is not None:
        times = times[times >= start_ns]
    if end_ns is not None:
        times = times[times < end_ns]
    n = int(times.size)
    if n == 0:
        raise DataError("walk-forward: no bars in the requested time range")
    oos = int(n // (k + (1.0 - oos_fraction) / oos_fraction))
    first_is = n - k * oos
    if oos < min_bars or first_is < min_bars:
        needed = _bars_needed(k, oos_fraction, min_bars)
        raise InputError(
            f"--folds {k} with --oos-fraction {oos_fraction:g}: too few bars per fold "
            f"({n} bars give {oos} out-of-sample and {first_is} in-sample bars per fold, "
            f"at least {min_bars} each needed, i.e. about {needed} bars)"
        )
    last_end = int(end_ns) if end_ns is not None else int(times[-1]) + 1

    def boundary(index: int) -> int:
        return int(times[index]) if index < n else last_end

    result = []
    for index in range(k):
        oos_start = first_is + index * oos
        is_start = 0 if anchored else index * oos
        result.append(
            Fold(
                index=index,
                is_window=(boundary(is_start), boundary(oos_start)),
                oos_window=(boundary(oos_start), boundary(oos_start + oos)),
                is_bars=oos_start - is_start,
                oos_bars=oos,
            )
        )
    return result


def _bars_needed(k: int, oos_fraction: float, min_bars: int) -> int:
    oos = max(min_bars, math.ceil(min_bars * oos_fraction / (1.0 - oos_fraction)))
    return math.ceil(oos * (k + (1.0 - oos_fraction) / oos_fraction)) + 1


# -- selection --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamScore:
    """A parameter set's score on one window, over every dataset it was run on."""

    params: dict[str, Any]
    value: float | None  # mean of the objective; None if undefined or failed anywhere
    metrics: dict[str, float | None]  # each metric's mean (None if undefined anywhere)
    datasets: int
    error: str | None = None


def score_params(rows: Iterable[ResultLike], objective: Objective) -> list[ParamScore]:
    """Scores per distinct parameter set, best first (see the module docstring)."""
    grouped: dict[str, list[ResultLike]] = defaultdict(list)
    for row in rows:
        grouped[params_key(row.params)].append(row)
    scores = [_score(group, objective) for group in grouped.values()]
    scores.sort(key=lambda s: (*objective.sort_key(s.value), params_key(s.params)))
    return scores


def best_in_sample(rows: Iterable[ResultLike], objective: Objective) -> ParamScore | None:
    """The best scored parameter set, or ``None`` when none has a defined score."""
    scores = score_params(rows, objective)
    return scores[0] if scores and scores[0].value is not None else None


def _score(group: list[ResultLike], objective: Objective) -> ParamScore:
    errors = [row.error for row in group if row.error]
    names = sorted({name for row in group if not row.error for name in row.metrics})
    metrics: dict[str, float | None] = {}
    for name in names:
        values = [metric_value(row.metrics, name) for row in group]
        defined = [value for value in values if value is not None]
        metrics[name] = (
            sum(defined) / len(defined) if len(defined) == len(values) and not errors else None
        )
    value = None if errors else metrics.get(objective.metric)
    return ParamScore(
        params=dict(group[0].params),
        value=value,
        metrics=metrics,
        datasets=len(group),
        error=errors[0] if errors else None,
    )


@dataclass(frozen=True, slots=True)
class FoldResult:
    fold: Fold
    params: dict[str, Any] | None  # the IS winner
    is_value: float | None
    oos_value: float | None
    is_metrics: dict[str, float | None] = field(default_factory=dict)
    oos_metrics: dict[str, float | None] = field(default_factory=dict)
    note: str = ""  # why a value is missing


def select_fold(
    fold: Fold, is_rows: Iterable[ResultLike], oos_rows: Iterable[ResultLike], objective: Objective
) -> FoldResult:
    """The IS winner of ``fold`` and its OOS result."""
    best = best_in_sample(is_rows, objective)
    if best is None:
        note = f"no parameter set has a defined {objective.metric} in sample"
        return FoldResult(fold, None, None, None, note=note)
    wanted = params_key(best.params)
    oos = [row for row in oos_rows if params_key(row.params) == wanted]
    if not oos:
        note = "the in-sample winner was not evaluated out of sample"
        return FoldResult(fold, best.params, best.value, None, best.metrics, note=note)
    scored = _score(oos, objective)
    note = scored.error or (
        "" if scored.value is not None else f"{objective.metric} undefined out of sample"
    )
    return FoldResult(
        fold, best.params, best.value, scored.value, best.metrics, scored.metrics, note
    )


@dataclass(frozen=True, slots=True)
class WalkForwardSummary:
    objective: Objective
    anchored: bool
    oos_fraction: float
    results: list[FoldResult]

    @property
    def is_mean(self) -> float | None:
        return _mean([result.is_value for result in self.results])

    @property
    def oos_mean(self) -> float | None:
        return _mean([result.oos_value for result in self.results])

    @property
    def oos_total_return(self) -> float | None:
        """Compounded OOS ``total_return`` across the folds: the return of trading each
        fold's winner on its (contiguous) OOS window in turn. ``None`` unless every fold has
        one."""
        returns = [result.oos_metrics.get("total_return") for result in self.results]
        if not returns or any(value is None for value in returns):
            return None
        return float(np.prod([1.0 + float(value or 0.0) for value in returns]) - 1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.objective.metric,
            "direction": self.objective.direction,
            "anchored": self.anchored,
            "oos_fraction": self.oos_fraction,
            "is_mean": self.is_mean,
            "oos_mean": self.oos_mean,
            "oos_total_return": self.oos_total_return,
            "folds": [_fold_json(result) for result in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WalkForwardSummary:
        direction: Direction = "min" if data["direction"] == "min" else "max"
        results = [
            FoldResult(
                fold=Fold(
                    index=item["index"],
                    is_window=(item["is_window"][0], item["is_window"][1]),
                    oos_window=(item["oos_window"][0], item["oos_window"][1]),
                    is_bars=item["is_bars"],
                    oos_bars=item["oos_bars"],
                ),
                params=item["params"],
                is_value=item["is_value"],
                oos_value=item["oos_value"],
                is_metrics=item["is_metrics"],
                oos_metrics=item["oos_metrics"],
                note=item["note"],
            )
            for item in data["folds"]
        ]
        return cls(
            Objective(data["metric"], direction), data["anchored"], data["oos_fraction"], results
        )


def summarize(
    fold_list: Sequence[Fold],
    rows: Iterable[ResultLike],
    objective: Objective,
    *,
    anchored: bool,
    oos_fraction: float,
) -> WalkForwardSummary:
    """Select every fold from rows tagged ``fold.is_tag`` / ``fold.oos_tag``; other rows are
    ignored."""
    by_tag: dict[str, list[ResultLike]] = defaultdict(list)
    for row in rows:
        by_tag[row.tag].append(row)
    results = [
        select_fold(fold, by_tag[fold.is_tag], by_tag[fold.oos_tag], objective)
        for fold in fold_list
    ]
    return WalkForwardSummary(objective, anchored, oos_fraction, results)


def save_summary(run_dir: Path, summary: WalkForwardSummary) -> Path:
    """Write ``walkforward.json`` into the run folder (atomically)."""
    path = Path(run_dir) / WALKFORWARD_FILE
    write_atomic(path, json.dumps(summary.to_json(), indent=2, default=str) + "\n")
    return path


def load_summary(run_dir: Path) -> WalkForwardSummary | None:
    path = Path(run_dir) / WALKFORWARD_FILE
    if not path.exists():
        return None
    try:
        return WalkForwardSummary.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise DataError(f"{path}: not a walk-forward summary ({exc})") from exc


def _fold_json(result: FoldResult) -> dict[str, Any]:
    fold = result.fold
    return {
        "index": fold.index,
        "is_window": list(fold.is_window),
        "oos_window": list(fold.oos_window),
        "is_bars": fold.is_bars,
        "oos_bars": fold.oos_bars,
        "params": result.params,
        "is_value": result.is_value,
        "oos_value": result.oos_value,
        "is_metrics": result.is_metrics,
        "oos_metrics": result.oos_metrics,
        "note": result.note,
    }


def _mean(values: Iterable[float | None]) -> float | None:
    defined = [value for value in values if value is not None]
    return sum(defined) / len(defined) if defined else None
