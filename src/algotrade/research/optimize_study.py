"""One Optuna study's ask / evaluate / tell loop on one bar window (see research.optimize).

Infeasible trials are told to the sampler as constraint violations, not as failures: a
parameter set the strategy's model rejects (``fast >= slow``) or whose metric is undefined (no
trades) is a COMPLETE trial with a constraint value of 1 and a placeholder value. Samplers learn
from it and move away (a failed trial would teach them nothing, and TPE kept proposing the same
invalid corner), and Optuna's best trial and Pareto front only ever hold feasible trials.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, Trial, TrialState

from algotrade.research.evaluate import ResultRow, Window
from algotrade.research.objectives import params_key
from algotrade.research.optimize_eval import TrialEvaluator, Unit, objective_values
from algotrade.research.optimize_space import SearchSpace
from algotrade.research.optimize_spec import OptimizeSpec, StudyOutcome
from algotrade.research.space import combination_error

PREFIX_STEPS = 3  # pruning steps of a one-symbol trial: ⅓, ⅔ and all of its window
MEDIAN_STARTUP_TRIALS = 5
INTERRUPTED = "interrupted"  # study user attribute: trial numbers an interruption cut short
VALID, DEFINED = "valid", "defined"  # constraint names
ProgressCallback = Callable[[str, int, int], None]  # study name, trials done, trials wanted


class StudyDriver:
    """Runs studies of ``spec`` through ``evaluator``; ``times``: every bar open time."""

    def __init__(
        self,
        spec: OptimizeSpec,
        space: SearchSpace,
        evaluator: TrialEvaluator,
        times: npt.NDArray[np.int64],
        progress: ProgressCallback | None = None,
    ) -> None:
        self.spec = spec
        self.space = space
        self.evaluator = evaluator
        self.times = np.unique(times)
        self.progress = progress

    def rows(self, params: dict[str, Any], window: Window, tag: str) -> list[ResultRow]:
        """``params`` on every dataset over ``window`` (from the cache when already run)."""
        units = [Unit(key, window, tag) for key in self.spec.datasets]
        return self.evaluator.evaluate([(params, unit) for unit in units])

    def steps(self, window: Window, tag: str) -> list[list[Unit]]:
        """The units of each step of a trial (see research.optimize)."""
        full = [Unit(key, window, tag) for key in self.spec.datasets]
        if not self.spec.prune:
            return [full]
        if len(full) > 1:
            return [[unit] for unit in full]
        inside = self.times
        if window[0] is not None:
            inside = inside[inside >= window[0]]
        if window[1] is not None:
            inside = inside[inside < window[1]]
        steps = []
        for step in range(1, PREFIX_STEPS):
            cut = len(inside) * step // PREFIX_STEPS
            if 0 < cut < len(inside):
                prefix = (window[0], int(inside[cut]))
                steps.append([Unit(full[0].dataset, prefix, f"{tag}~{step}/{PREFIX_STEPS}")])
        return [*steps, full]

    def run(
        self,
        storage: str,
        name: str,
        window: Window,
        tag: str,
        enqueue: Sequence[Mapping[str, Any]] = (),
    ) -> StudyOutcome:
        study = self._study(storage, name)
        done = requeue_interrupted(study)
        if done == 0:
            for params in enqueue:
                study.enqueue_trial(dict(params), skip_if_exists=True)
        steps = self.steps(window, tag)
        while done < self.spec.trials:
            size = min(self.spec.parallel, self.spec.trials - done)
            wave = [study.ask(self.space.distributions()) for _ in range(size)]
            self._evaluate_wave(study, wave, steps)
            done += len(wave)
            if self.progress is not None:
                self.progress(name, done, self.spec.trials)
        return study_outcome(study, name, window)

    def _study(self, storage: str, name: str) -> optuna.Study:
        spec = self.spec
        directions = [
            StudyDirection.MAXIMIZE if objective.direction == "max" else StudyDirection.MINIMIZE
            for objective in spec.objectives
        ]
        study = optuna.create_study(
            storage=storage, study_name=name, directions=directions, load_if_exists=True
        )
        # Reseeded by the trials already done: a resumed study proposes new points.
        seed = None if spec.seed is None else spec.seed + finished_trials(study)
        study.sampler = _sampler(spec, seed)
        study.pruner = _pruner(spec)
        return study

    def _evaluate_wave(
        self, study: optuna.Study, wave: list[Trial], steps: list[list[Unit]]
    ) -> None:
        active: list[tuple[Trial, dict[str, Any]]] = []
        for trial in wave:
            params = self.space.to_params(trial.params)
            trial.set_user_attr("params", params)
            reason = combination_error(self.space.strategy, params)
            if reason is None:
                trial.set_constraint(VALID, 0.0)
                active.append((trial, params))
            else:
                trial.set_user_attr("rejected", reason)
                self._tell_infeasible(study, trial, VALID)
        for number, units in enumerate(steps):
            last = number == len(steps) - 1
            rows = self.evaluator.evaluate([(p, unit) for _, p in active for unit in units])
            size = len(units)
            survivors = []
            for index, (trial, params) in enumerate(active):  # trial order: deterministic
                own = rows[index * size : (index + 1) * size]
                if number and len(self.spec.datasets) > 1:  # steps over datasets: cumulative
                    earlier = [(params, unit) for step in steps[:number] for unit in step]
                    own = [*self.evaluator.evaluate(earlier), *own]
                values, reason = objective_values(own, self.spec.objectives)
                if values is None:
                    trial.set_user_attr("undefined", reason)
                    self._tell_infeasible(study, trial, DEFINED)
                    continue
                if last:
                    trial.set_constraint(DEFINED, 0.0)
                    study.tell(trial, values)
                    continue
                trial.report(values[0], number)
                if trial.should_prune():
                    trial.set_constraint(DEFINED, 0.0)
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    survivors.append((trial, params))
            active = survivors

    def _tell_infeasible(self, study: optuna.Study, trial: Trial, violated: str) -> None:
        if violated == VALID:  # rejected before evaluation: neither constraint is set yet
            trial.set_constraint(VALID, 1.0)
            trial.set_constraint(DEFINED, 0.0)
        else:
            trial.set_constraint(DEFINED, 1.0)
        study.tell(trial, [0.0] * len(self.spec.objectives))  # a placeholder: never the best


def _sampler(spec: OptimizeSpec, seed: int | None) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if spec.sampler_name == "nsga2":
            population = max(4, min(50, spec.trials // 5))
            return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, constant_liar=spec.parallel > 1
        )


def _pruner(spec: OptimizeSpec) -> optuna.pruners.BasePruner:
    if not spec.prune:
        return optuna.pruners.NopPruner()
    if spec.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS)


def interrupted_trials(study: optuna.Study) -> set[int]:
    return set(study.user_attrs.get(INTERRUPTED, []))


def finished_trials(study: optuna.Study) -> int:
    """Trials that count towards ``trials`` (finished, not cut short by an interruption)."""
    cut_short = interrupted_trials(study)
    return sum(
        1
        for trial in study.get_trials(deepcopy=False)
        if trial.state.is_finished() and trial.number not in cut_short
    )


def requeue_interrupted(study: optuna.Study) -> int:
    """Trials left running by an interrupted run fail (listed in the study's user attribute
    ``interrupted``, so they do not count) and are asked again with the same parameters;
    returns the finished trials that count towards ``trials``."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if running:
        cut_short = interrupted_trials(study) | {trial.number for trial in running}
        study.set_user_attr(INTERRUPTED, sorted(cut_short))
    for trial in running:
        study.enqueue_trial(dict(trial.params), user_attrs={"requeued_from": trial.number})
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    return finished_trials(study)


def trial_kind(trial: FrozenTrial) -> str:
    """complete | pruned | rejected (the model refused the set) | undefined (no metric) |
    fail | running."""
    if "rejected" in trial.user_attrs:
        return "rejected"
    if "undefined" in trial.user_attrs:
        return "undefined"
    return trial.state.name.lower()


def study_outcome(study: optuna.Study, name: str, window: Window) -> StudyOutcome:
    cut_short = interrupted_trials(study)
    trials = [t for t in study.get_trials(deepcopy=False) if t.number not in cut_short]
    counts: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for trial in trials:
        kind = trial_kind(trial)
        counts[kind] = counts.get(kind, 0) + 1
        if kind in trial.user_attrs:
            reasons.setdefault(kind, str(trial.user_attrs[kind]))
    best = _best_trials(study) if counts.get("complete") else []
    return StudyOutcome(name, window, counts, [_trial_json(trial) for trial in best], reasons)


def _best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best feasible trial (one objective), or the Pareto front, one trial per parameter
    set, best first on the first objective (the walk-forward choice)."""
    if len(study.directions) == 1:
        return [study.best_trial]
    sign = 1.0 if study.directions[0] == StudyDirection.MINIMIZE else -1.0
    front = sorted(study.best_trials, key=lambda t: (sign * t.values[0], t.number))
    seen: set[str] = set()
    unique = []
    for trial in front:
        key = params_key(trial.user_attrs.get("params", trial.params))
        if key not in seen:
            seen.add(key)
            unique.append(trial)
    return unique


def _trial_json(trial: FrozenTrial) -> dict[str, Any]:
    params = trial.user_attrs.get("params", trial.params)
    return {"number": trial.number, "params": params, "values": list(trial.values or [])}
