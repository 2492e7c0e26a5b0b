"""What an optimization run is (``OptimizeSpec``, stored as the run's ``run.json`` spec) and
what it produced (``OptimizeOutcome``, stored as ``optimize.json``). See research.optimize."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from algotrade.core.errors import InputError
from algotrade.research.evaluate import EvalConfig, Window
from algotrade.research.objectives import Objective
from algotrade.research.walkforward import WalkForwardSummary

SAMPLERS = ("tpe", "nsga2")
PRUNERS = ("median", "halving")


@dataclass(frozen=True, slots=True)
class OptimizeSpec:
    strategy: str
    params: tuple[str, ...]  # --param texts
    objectives: tuple[Objective, ...]
    datasets: tuple[str, ...]  # executor dataset keys, in a fixed order
    window: Window = (None, None)
    trials: int = 100
    sampler: str = ""  # "" → tpe for one objective, nsga2 for several
    seed: int | None = None
    prune: bool = False
    pruner: str = "median"
    folds: int | None = None
    oos_fraction: float = 0.2
    anchored: bool = False
    parallel: int = 1  # trials asked per wave
    config: EvalConfig = field(default_factory=EvalConfig)
    synthetic: bool = False

    @property
    def sampler_name(self) -> str:
        return self.sampler or ("tpe" if len(self.objectives) == 1 else "nsga2")

    def check(self) -> None:
        if not self.objectives:
            raise InputError("--metric: give at least one metric to optimize")
        if not self.datasets:
            raise InputError("--symbols: no datasets to optimize on")
        if self.trials < 1:
            raise InputError(f"--trials: must be at least 1, got {self.trials}")
        if self.parallel < 1:
            raise InputError(f"--parallel: must be at least 1, got {self.parallel}")
        if self.sampler_name not in SAMPLERS:
            raise InputError(f"--sampler: expected tpe or nsga2, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise InputError(f"--pruner: expected median or halving, got {self.pruner!r}")
        if self.prune and len(self.objectives) > 1:
            raise InputError(
                "--prune: Optuna prunes single-objective studies only; give one --metric"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params": list(self.params),
            "space": {
                name.strip(): text.strip()
                for name, _, text in (param.partition("=") for param in self.params)
            },
            "objectives": [{"metric": o.metric, "direction": o.direction} for o in self.objectives],
            "metric": self.objectives[0].label if self.objectives else None,
            "datasets": list(self.datasets),
            "window": list(self.window),
            "trials": self.trials,
            "sampler": self.sampler_name,
            "seed": self.seed,
            "prune": self.prune,
            "pruner": self.pruner,
            "folds": self.folds,
            "oos_fraction": self.oos_fraction,
            "anchored": self.anchored,
            "parallel": self.parallel,
            "config": self.config.to_json(),
            "synthetic": self.synthetic,
        }


@dataclass(frozen=True, slots=True)
class StudyOutcome:
    name: str
    window: Window
    counts: dict[str, int]  # trial state → trials
    best: list[dict[str, Any]]  # the best trial (one objective) or the Pareto front
    reasons: dict[str, str] = field(default_factory=dict)  # kind → first trial's reason


@dataclass(frozen=True, slots=True)
class OptimizeOutcome:
    run_id: str
    studies: list[StudyOutcome]
    walkforward: WalkForwardSummary | None
    evaluated: int  # backtests run now
    reused: int  # backtests answered from the cache (this run or a stored one)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "studies": [
                {
                    "name": s.name,
                    "window": list(s.window),
                    "counts": s.counts,
                    "best": s.best,
                    "reasons": s.reasons,
                }
                for s in self.studies
            ],
            "walkforward": None if self.walkforward is None else self.walkforward.to_json(),
            "evaluated": self.evaluated,
            "reused": self.reused,
        }
