"""The time a stopping daemon has left: one deadline shared by every step of the stop."""

from __future__ import annotations

import time

MIN_STEP_S = 0.1  # a step always gets a moment, even past the deadline


class StopBudget:
    """``timeout`` seconds from now; ``reserve`` of them kept for the steps that close up."""

    def __init__(self, timeout: float, *, reserve: float = 0.0) -> None:
        self.timeout = timeout
        self.reserve = reserve
        self._deadline = time.monotonic() + timeout

    def left(self, cap: float | None = None, *, floor: float = MIN_STEP_S) -> float:
        """Seconds for a step before the reserve: what remains, at most ``cap``."""
        return self._bounded(self._deadline - time.monotonic() - self.reserve, cap, floor)

    def closing(self, cap: float | None = None, *, floor: float = MIN_STEP_S) -> float:
        """Seconds for a closing step: what remains, the reserve included, at most ``cap``."""
        return self._bounded(self._deadline - time.monotonic(), cap, floor)

    @staticmethod
    def _bounded(remaining: float, cap: float | None, floor: float) -> float:
        if cap is not None:
            remaining = min(remaining, cap)
        return max(floor, remaining)
