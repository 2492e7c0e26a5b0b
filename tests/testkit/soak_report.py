"""Figures and findings of a crash soak (``testkit.soak``), as text and JSON."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from testkit.soak_told import Violation

SEED_ENV = "ALGOTRADE_SOAK_SEED"


@dataclass(slots=True)
class Figures:
    bots: int = 0
    endings: Counter[str] = field(default_factory=Counter)
    config_changes: int = 0
    fills_acknowledged: int = 0
    fills_told_by: dict[str, int] = field(default_factory=dict)  # first source of each
    statuses_checked: int = 0
    fills_stored: int = 0
    healthy_s: list[float] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def restarts(self) -> int:
        return sum(self.endings.values())

    def to_json(self) -> dict[str, Any]:
        healthy = sorted(self.healthy_s)
        return {
            "bots": self.bots,
            "restarts": self.restarts,
            "endings": dict(self.endings),  # not asdict: it rebuilds a Counter from pairs
            "config_changes": self.config_changes,
            "fills_stored": self.fills_stored,
            "fills_acknowledged": self.fills_acknowledged,
            "fills_told_by": self.fills_told_by,
            "statuses_checked": self.statuses_checked,
            "healthy_p50_s": statistics.median(healthy) if healthy else None,
            "healthy_max_s": healthy[-1] if healthy else None,
            "healthy_s": self.healthy_s,
            "duration_s": self.duration_s,
        }

    def lines(self) -> list[str]:
        endings = ", ".join(f"{name} {n}" for name, n in sorted(self.endings.items()))
        told_by = ", ".join(f"{name} {n}" for name, n in sorted(self.fills_told_by.items()))
        healthy = sorted(self.healthy_s) or [float("nan")]
        return [
            f"restarts: {self.restarts} ({endings}); config changes: {self.config_changes}",
            f"fills: {self.fills_stored} stored, {self.fills_acknowledged} acknowledged and "
            f"checked at every restart (first told by: {told_by}); "
            f"{self.statuses_checked} statuses checked",
            f"time to healthy: p50 {statistics.median(healthy):.2f} s, max {healthy[-1]:.2f} s "
            f"over {len(self.healthy_s)} starts",
            f"duration: {self.duration_s:.1f} s",
        ]


class RunSettings(Protocol):
    """What a report tells of the run it describes (``testkit.soak``, ``testkit.live_soak``)."""

    @property
    def seed(self) -> int: ...

    def describe(self) -> str:
        """What ran, after the seed in the summary's first line."""
        ...


@dataclass(slots=True)
class SoakReport:
    settings: RunSettings
    figures: Figures
    violations: list[Violation]

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_check(self) -> dict[str, list[Violation]]:
        """Violations per check, each defect once (the first time it was seen)."""
        seen: set[str] = set()
        out: dict[str, list[Violation]] = defaultdict(list)
        for violation in self.violations:
            if violation.key not in seen:
                seen.add(violation.key)
                out[violation.check].append(violation)
        return dict(out)

    def summary(self) -> str:
        s = self.settings
        lines = [
            f"crash soak: seed {s.seed} (rerun with {SEED_ENV}={s.seed}), {s.describe()}",
            *self.figures.lines(),
        ]
        if self.ok:
            return "\n".join([*lines, "all checks passed"])
        lines.append("FAILED checks:")
        for check, found in sorted(self.by_check().items()):
            bots = len({v.bot_id for v in found})
            lines.append(f"  {check}: {len(found)} ({bots} bots)")
            lines += [f"    life {v.life} {v.bot_id}: {v.detail}" for v in found[:4]]
        return "\n".join(lines)
