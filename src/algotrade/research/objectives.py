"""What a sweep or an optimization scores: a metric name and whether higher or lower is better.

``--metric sharpe`` maximises; ``--metric max_drawdown:min`` minimises. Without a direction a
metric is maximised, except the few that measure a loss or a risk (``LOWER_IS_BETTER``), which
are minimised: nobody wants the largest drawdown.

Metric values come from ``backtest.metrics.compute_metrics``; a value that is undefined for a
backtest (``None``: too few returns, a zero denominator) ranks below every defined value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from algotrade.core.errors import InputError

Direction = Literal["max", "min"]
#: What a run can be ranked by: every number ``backtest.metrics.compute_metrics`` gives (a test
#: keeps the two in step; importing that module here would load numpy into every CLI start).
METRICS = (
    "total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_duration_days", "calmar", "trades", "win_rate", "profit_factor",
    "expectancy", "avg_win", "avg_loss", "exposure", "fills", "bars", "initial_cash",
    "final_equity", "realized_pnl", "unrealized_pnl", "fees_paid", "net_profit",
)  # fmt: skip
LOWER_IS_BETTER = frozenset(
    {"max_drawdown", "max_drawdown_duration_days", "annual_volatility", "fees_paid"}
)
_DIRECTIONS: tuple[Direction, ...] = ("max", "min")


@dataclass(frozen=True, slots=True)
class Objective:
    metric: str
    direction: Direction

    @property
    def label(self) -> str:
        return f"{self.metric}:{self.direction}"

    def value(self, metrics: Mapping[str, Any]) -> float | None:
        """The metric as a finite float, or ``None`` when absent or undefined."""
        return metric_value(metrics, self.metric)

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "max" else a < b

    def sort_key(self, value: float | None) -> tuple[int, float]:
        """Ascending key: the best value first, undefined values last."""
        if value is None:
            return (1, 0.0)
        return (0, -value if self.direction == "max" else value)


def parse_objective(spec: str, *, option: str = "--metric") -> Objective:
    """``"sharpe"`` / ``"sharpe:max"`` / ``"max_drawdown:min"`` → ``Objective``."""
    name, _, direction = spec.strip().partition(":")
    name = name.strip()
    if not name or not name.replace("_", "").isalnum():
        raise InputError(f"{option}: expected METRIC or METRIC:max|min, got {spec!r}")
    if name not in METRICS:
        raise InputError(f"{option}: unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    if not direction:
        return Objective(name, "min" if name in LOWER_IS_BETTER else "max")
    if direction not in _DIRECTIONS:
        raise InputError(f"{option} {spec!r}: direction must be 'max' or 'min', got {direction!r}")
    return Objective(name, "max" if direction == "max" else "min")


def parse_objectives(specs: list[str], *, option: str = "--metric") -> list[Objective]:
    """Several ``--metric`` options; each metric once."""
    objectives = [parse_objective(spec, option=option) for spec in specs]
    names = [objective.metric for objective in objectives]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{option}: metric {', '.join(repeated)} given more than once")
    return objectives


def metric_value(metrics: Mapping[str, Any], name: str) -> float | None:
    """``metrics[name]`` as a finite float (decimal strings are converted), else ``None``."""
    raw = metrics.get(name)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def params_key(params: Mapping[str, Any]) -> str:
    """Canonical text of a parameter set: equal sets give equal keys whatever their order.
    Ties between equally scored sets are broken on it, so the winner never depends on the
    order in which results came back from the workers."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"), default=str)
