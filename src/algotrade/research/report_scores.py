"""What the run report shows, computed from a run's stored rows (no plotting here).

- Scope: the rows the ranking, heatmap, Pareto front and robustness view are about: the whole
  range when the run has it; a walk-forward sweep's out-of-sample windows (mean over folds:
  every set was run on every one of them); else (a walk-forward optimization: each fold's
  winner alone ran out of sample) the last fold's in-sample study.
- Only parameter sets with a row for every (dataset, window) of the scope are scored: a set cut
  short by pruning or an interruption has no comparable score.
- Pareto front: sets no other set dominates (no worse on every objective, better on one).
- Robustness: the best set against its neighbours, the sets whose every numeric parameter is at
  most one step away in the sorted values evaluated for that parameter (other parameters
  equal) — or, when a sampled space has no such set, the nearest evaluated sets (distance
  scaled to each parameter's range); and a 1-D profile per parameter (the others held at the
  best set's values, plus the best over the others for each value).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from algotrade.research.evaluate import ResultRow
from algotrade.research.objectives import Objective, params_key, parse_objective
from algotrade.research.walkforward import ParamScore, parse_fold_tag, score_params

MAX_GRID_AXIS = 40  # distinct values per axis beyond which a heatmap becomes a scatter


def run_objectives(spec: Mapping[str, Any]) -> list[Objective]:
    """The objectives a run was scored on: ``objectives`` (optimize) or ``metric`` (sweep)."""
    listed = spec.get("objectives")
    if listed:
        return [
            Objective(item["metric"], "min" if item["direction"] == "min" else "max")
            for item in listed
        ]
    return [parse_objective(str(spec.get("metric") or "sharpe"))]


def scope(rows: Sequence[ResultRow]) -> tuple[str, list[ResultRow]]:
    """(label, rows) of the report's scope; see the module docstring."""
    whole = [row for row in rows if row.tag == ""]
    if whole:
        return "whole range", whole
    phases: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        parsed = parse_fold_tag(row.tag)
        if parsed is not None:
            phases[parsed[1]].append(row)
    oos = phases["oos"]
    if _complete_sets(oos) > 1:  # a sweep: every set ran out of sample in every fold
        return "out of sample, mean over the folds", oos
    is_rows = phases["is"]
    if not is_rows:
        return "no rows", []
    last = max(_fold(row) for row in is_rows)
    return f"in sample of fold {last} (the last)", [r for r in is_rows if _fold(r) == last]


def _complete_sets(rows: Sequence[ResultRow]) -> int:
    """Parameter sets with a row for every (dataset, tag) of ``rows``."""
    needed = {(row.dataset, row.tag) for row in rows}
    seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        seen[params_key(row.params)].add((row.dataset, row.tag))
    return sum(1 for units in seen.values() if units == needed)


def _fold(row: ResultRow) -> int:
    parsed = parse_fold_tag(row.tag)
    return -1 if parsed is None else parsed[0]


@dataclass(frozen=True, slots=True)
class Scored:
    """Complete parameter sets, best first on the first objective, and those left out."""

    objectives: list[Objective]
    scores: list[ParamScore]
    incomplete: int

    def values(self, score: ParamScore) -> list[float | None]:
        return [score.metrics.get(objective.metric) for objective in self.objectives]


def score_scope(rows: Sequence[ResultRow], objectives: list[Objective]) -> Scored:
    needed = {(row.dataset, row.tag) for row in rows}
    groups: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        groups[params_key(row.params)].append(row)
    complete = [
        row
        for group in groups.values()
        if {(row.dataset, row.tag) for row in group} == needed
        for row in group
    ]
    scores = score_params(complete, objectives[0])
    return Scored(objectives, scores, len(groups) - len(scores))


def pareto_front(scored: Scored) -> list[ParamScore]:
    """The non-dominated sets among those with every objective defined, best first on the
    first objective. Sorting best-first puts every dominator before what it dominates, so a
    set need only be checked against the front found so far."""
    objectives = scored.objectives
    points: list[tuple[list[float], ParamScore]] = []
    for score in scored.scores:
        values = scored.values(score)
        if all(value is not None for value in values):
            signed = [_gain(o, v) for o, v in zip(objectives, values, strict=True)]
            points.append((signed, score))
    points.sort(key=lambda point: [-value for value in point[0]])
    front: list[tuple[list[float], ParamScore]] = []
    for signed, score in points:
        if not any(_dominates(other, signed) for other, _ in front):
            front.append((signed, score))
    return [score for _, score in front]


def _gain(objective: Objective, value: float | None) -> float:
    """Higher is better, whatever the direction."""
    number = float(value or 0.0)
    return number if objective.direction == "max" else -number


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and a != b


# -- parameters ------------------------------------------------------------------------------


def varied_params(scores: Sequence[ParamScore]) -> list[str]:
    """Parameters taking more than one value, in the order they first appear."""
    return [name for name, count in _distinct_counts(scores).items() if count > 1]


def heatmap_params(scores: Sequence[ParamScore]) -> tuple[str, str] | None:
    """The two varied parameters with the most distinct values (ties: the first ones), in
    their own order; ``None`` when fewer than two vary."""
    counts = _distinct_counts(scores)
    varied = varied_params(scores)
    if len(varied) < 2:
        return None
    chosen = sorted(varied, key=lambda name: -counts[name])[:2]
    first, second = sorted(chosen, key=varied.index)
    return first, second


def _distinct_counts(scores: Sequence[ParamScore]) -> dict[str, int]:
    distinct: dict[str, set[str]] = {}
    for score in scores:
        for name, value in score.params.items():
            distinct.setdefault(name, set()).add(params_key({"v": value}))
    return {name: len(values) for name, values in distinct.items()}


def numeric(value: Any) -> float | None:
    """A parameter value as a number (decimal text included), else ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _axis(scores: Sequence[ParamScore], name: str) -> list[Any]:
    """The distinct values of ``name``, numerically sorted when all are numbers."""
    values: dict[str, Any] = {}
    for score in scores:
        if name in score.params:
            values.setdefault(params_key({"v": score.params[name]}), score.params[name])
    found = list(values.values())
    if all(numeric(value) is not None for value in found):
        return sorted(found, key=lambda value: numeric(value) or 0.0)
    return found


@dataclass(frozen=True, slots=True)
class Grid:
    """The best value per (x, y) cell over the other parameters (``None``: not evaluated)."""

    x_name: str
    y_name: str
    x: list[Any]
    y: list[Any]
    z: list[list[float | None]]  # z[row for y][column for x]
    dense: bool  # small enough for a heatmap (else draw the points)


def grid(scored: Scored, x_name: str, y_name: str) -> Grid:
    objective = scored.objectives[0]
    x_axis, y_axis = _axis(scored.scores, x_name), _axis(scored.scores, y_name)
    x_index = {params_key({"v": value}): i for i, value in enumerate(x_axis)}
    y_index = {params_key({"v": value}): i for i, value in enumerate(y_axis)}
    z: list[list[float | None]] = [[None] * len(x_axis) for _ in y_axis]
    for score in scored.scores:
        if score.value is None or x_name not in score.params or y_name not in score.params:
            continue
        i = y_index[params_key({"v": score.params[y_name]})]
        j = x_index[params_key({"v": score.params[x_name]})]
        current = z[i][j]
        if current is None or objective.better(score.value, current):
            z[i][j] = score.value
    dense = len(x_axis) <= MAX_GRID_AXIS and len(y_axis) <= MAX_GRID_AXIS
    return Grid(x_name, y_name, x_axis, y_axis, z, dense)


@dataclass(frozen=True, slots=True)
class Profile:
    """One parameter around the best set: the value with the others held at the best set's
    (``held``; ``None`` where not evaluated) and the best over the others (``envelope``)."""

    name: str
    values: list[Any]
    held: list[float | None]
    envelope: list[float | None]


@dataclass(frozen=True, slots=True)
class Robustness:
    objective: Objective
    best: ParamScore
    neighbours: list[ParamScore]
    profiles: list[Profile]
    rule: str = ""  # how the neighbours were chosen

    @property
    def neighbour_values(self) -> list[float]:
        return [s.value for s in self.neighbours if s.value is not None]

    @property
    def mean(self) -> float | None:
        values = self.neighbour_values
        return sum(values) / len(values) if values else None

    @property
    def worst(self) -> float | None:
        """The worst neighbour's value (the lowest when maximising)."""
        values = self.neighbour_values
        if not values:
            return None
        return min(values) if self.objective.direction == "max" else max(values)


def robustness(scored: Scored) -> Robustness | None:
    """The best set's neighbourhood and profiles; ``None`` without a scored set."""
    if not scored.scores or scored.scores[0].value is None:
        return None
    best = scored.scores[0]
    names = varied_params(scored.scores)
    axes = {name: _axis(scored.scores, name) for name in names}
    positions = {
        name: {params_key({"v": value}): i for i, value in enumerate(axis)}
        for name, axis in axes.items()
    }

    def step(score: ParamScore, name: str) -> int | None:
        if name not in score.params or name not in best.params:
            return None
        here = positions[name][params_key({"v": score.params[name]})]
        there = positions[name][params_key({"v": best.params[name]})]
        if numeric(best.params[name]) is None:
            return 0 if here == there else None  # a choice: only the same one is near
        return abs(here - there)

    neighbours = []
    for score in scored.scores[1:]:
        steps = [step(score, name) for name in names]
        fixed_equal = all(
            score.params.get(name) == value
            for name, value in best.params.items()
            if name not in names
        )
        if fixed_equal and all(s is not None and s <= 1 for s in steps) and any(steps):
            neighbours.append(score)
    rule = "±1 step of every parameter"
    if not neighbours and names:
        count = 2 * len(names)
        neighbours = _nearest(scored.scores, best, names, count)
        rule = f"the {count} nearest evaluated sets (no set is ±1 step away)"
    profiles = [_profile(scored, best, name, axes[name]) for name in names]
    return Robustness(scored.objectives[0], best, neighbours, profiles, rule)


def _nearest(
    scores: Sequence[ParamScore], best: ParamScore, names: list[str], count: int
) -> list[ParamScore]:
    """The ``count`` sets closest to ``best`` (sampled spaces are no grid): distance over the
    numeric parameters scaled to their evaluated ranges, other parameters equal to the best's."""
    spans: dict[str, tuple[float, float]] = {}
    for name in names:
        numbers = [numeric(s.params.get(name)) for s in scores]
        defined = [n for n in numbers if n is not None]
        if defined and len(defined) == len(numbers):
            spans[name] = (min(defined), max(defined) - min(defined) or 1.0)
    candidates = []
    for score in scores:
        if score is best or any(
            score.params.get(n) != best.params.get(n) for n in names if n not in spans
        ):
            continue
        distance = sum(
            ((numeric(score.params[n]) or 0.0) - (numeric(best.params[n]) or 0.0)) ** 2 / span**2
            for n, (_, span) in spans.items()
        )
        candidates.append((distance, params_key(score.params), score))
    candidates.sort(key=lambda item: (item[0], item[1]))
    return [score for _, _, score in candidates[:count]]


def _profile(scored: Scored, best: ParamScore, name: str, axis: list[Any]) -> Profile:
    objective = scored.objectives[0]
    index = {params_key({"v": value}): i for i, value in enumerate(axis)}
    held: list[float | None] = [None] * len(axis)
    envelope: list[float | None] = [None] * len(axis)
    others = {key: value for key, value in best.params.items() if key != name}
    for score in scored.scores:
        if score.value is None or name not in score.params:
            continue
        i = index[params_key({"v": score.params[name]})]
        current = envelope[i]
        if current is None or objective.better(score.value, current):
            envelope[i] = score.value
        if all(score.params.get(key) == value for key, value in others.items()):
            held[i] = score.value
    return Profile(name, axis, held, envelope)
