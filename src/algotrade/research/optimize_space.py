"""Optuna search distributions from ``--param`` texts and the strategy's parameter model.

Syntax (one ``--param`` per parameter), on top of ``research.space``'s:

- ``fast=5:50``: every value from 5 to 50 (an integer field searches integers, a float or
  decimal field the real interval);
- ``lr=0.001:1:log``: the same, sampled log-uniformly;
- ``fast=5:50:5``: the stepped grid of ``research.space`` (5, 10, …, 50);
- ``mode=a,b,c`` / ``long_only=true,false``: categorical choices;
- ``qty=2``: a fixed value, the same in every trial.

Every end point and choice is checked against the field's type and bounds by
``research.space.parse_space`` (one ``InputError`` naming the parameter) before any trial runs.
Stepped grids of non-integers are searched by position (an integer index into the exact values
of the grid), so ``0.1:0.5:0.1`` proposes 0.3 and never 0.30000000000000004. Values handed to the
strategy are in their JSON form, as in a sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from algotrade.core.errors import InputError
from algotrade.core.strategy import Strategy
from algotrade.research.space import parse_decimal, parse_space


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One searched parameter: its Optuna distribution and how a sample becomes a value."""

    name: str
    text: str
    distribution: BaseDistribution | None  # None: a fixed value
    grid: tuple[Any, ...] = ()  # exact values picked by index (stepped non-integer grids)
    kind: str = "value"  # "value" | "index" | "decimal" | "fixed"

    def value(self, sampled: Any) -> Any:
        """The JSON parameter value for an Optuna sample (for "fixed": ignored)."""
        if self.kind == "index":
            return self.grid[int(sampled)]
        if self.kind == "decimal":
            return repr(float(sampled))  # exact text of the float, as the model's Decimal
        if self.kind == "fixed":
            return self.grid[0]
        return sampled


@dataclass(frozen=True, slots=True)
class SearchSpace:
    strategy: type[Strategy]
    params: tuple[SearchParam, ...]

    @property
    def searched(self) -> tuple[SearchParam, ...]:
        return tuple(param for param in self.params if param.distribution is not None)

    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.name: p.distribution for p in self.params if p.distribution is not None}

    def to_params(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """Strategy parameters (JSON form) from an Optuna trial's ``params``."""
        return {
            param.name: param.value(sampled.get(param.name))
            for param in self.params
            if param.distribution is None or param.name in sampled
        }

    def to_json(self) -> dict[str, str]:
        return {param.name: param.text for param in self.params}


def parse_search_space(strategy: type[Strategy], texts: Sequence[str]) -> SearchSpace:
    """Parse ``name=spec`` texts (see the module docstring) against ``strategy``'s model."""
    if not texts:
        raise InputError("--param: give at least one parameter to optimize (name=low:high)")
    params: list[SearchParam] = []
    for text in texts:
        name, _, spec = text.partition("=")
        params.append(_parse_one(strategy, text, name.strip(), spec.strip()))
    if not any(param.distribution is not None for param in params):
        raise InputError("--param: every parameter has one value; nothing to optimize")
    return SearchSpace(strategy, tuple(params))


def _parse_one(strategy: type[Strategy], text: str, name: str, spec: str) -> SearchParam:
    parts = spec.split(":")
    continuous = len(parts) == 2 or (len(parts) == 3 and parts[2].strip().lower() == "log")
    if (
        continuous
        and "," not in spec
        and all(parse_decimal(part) is not None for part in parts[:2])
    ):
        return _interval(strategy, name, spec, parts[0].strip(), parts[1].strip(), len(parts) == 3)
    # Grids, choices and fixed values: research.space parses and checks them.
    values = parse_space(strategy, [text]).ranges[0].values
    if len(values) == 1:
        return SearchParam(name, spec, None, values, "fixed")
    stepped = len(parts) == 3 and "," not in spec
    if stepped and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        step = values[1] - values[0]
        return SearchParam(name, spec, IntDistribution(values[0], values[-1], step=step))
    if stepped:
        return SearchParam(name, spec, IntDistribution(0, len(values) - 1), values, "index")
    choices: tuple[CategoricalChoiceType, ...] = tuple(_choice(name, value) for value in values)
    return SearchParam(name, spec, CategoricalDistribution(choices))


def _interval(
    strategy: type[Strategy], name: str, spec: str, low_text: str, high_text: str, log: bool
) -> SearchParam:
    # Both ends checked against the field's type and bounds, as choices.
    ends = parse_space(strategy, [f"{name}={low_text},{high_text}"]).ranges[0].values
    if len(ends) != 2:
        raise InputError(f"--param {name}: low and high are the same ({spec!r}); give one value")
    low, high = ends
    if isinstance(low, bool) or isinstance(high, bool):
        raise InputError(f"--param {name}: a yes/no parameter takes choices (true,false)")
    if isinstance(low, int) and isinstance(high, int):
        if high < low:
            raise InputError(f"--param {name}: high {high} is below low {low}")
        if log and low <= 0:
            raise InputError(f"--param {name}: a log range needs a positive low, got {low}")
        return SearchParam(name, spec, IntDistribution(low, high, log=log))
    low_number, high_number = parse_decimal(str(low)), parse_decimal(str(high))
    if low_number is None or high_number is None:
        raise InputError(f"--param {name}: {spec!r} is a numeric range, but the parameter is not")
    if high_number < low_number:
        raise InputError(f"--param {name}: high {high} is below low {low}")
    if log and low_number <= 0:
        raise InputError(f"--param {name}: a log range needs a positive low, got {low}")
    kind = "value" if isinstance(low, float) else "decimal"
    distribution = FloatDistribution(float(low_number), float(high_number), log=log)
    return SearchParam(name, spec, distribution, kind=kind)


def _choice(name: str, value: Any) -> CategoricalChoiceType:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise InputError(f"--param {name}: value {value!r} cannot be a choice (not a plain value)")
