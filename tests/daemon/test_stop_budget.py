"""``StopBudget``: one deadline for the steps of a stop, a reserve for the closing ones."""

from __future__ import annotations

import pytest

from algotrade.daemon import stop_budget
from algotrade.daemon.stop_budget import StopBudget


def test_steps_share_one_deadline_and_keep_the_reserve(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(stop_budget.time, "monotonic", lambda: now[0])
    budget = StopBudget(10.0, reserve=1.0)
    assert budget.left() == 9.0
    assert budget.left(cap=5.0) == 5.0
    now[0] += 6.0  # a step took 6 s
    assert budget.left() == 3.0
    assert budget.closing() == 4.0
    now[0] += 10.0  # past the deadline: a step still gets a moment
    assert budget.left() == stop_budget.MIN_STEP_S
    assert budget.closing(floor=0.5) == 0.5
