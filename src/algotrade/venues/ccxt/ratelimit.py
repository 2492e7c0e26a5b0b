"""Client-side rate limiting: per-endpoint and per-IP rolling windows, and pauses.

``acquire(path)`` waits until one more request to ``path`` fits both the endpoint's limit
(requests per second, as the venue documents them per UID) and the IP-wide limit (requests per
5 s), then counts it. ``pause_until(path, epoch_ms)`` holds every request to ``path`` (or to
any path, for ``None``) until the venue says its limit resets: Bybit's
``X-Bapi-Limit-Reset-Timestamp`` after a retCode 10006, or a long pause after HTTP 403.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["WINDOW_MARGIN_S", "LimiterStats", "RateLimiter"]

#: Added to each window: the venue counts a request when it arrives, and requests sent a
#: window apart can arrive closer together (network and scheduling jitter). Without it a client
#: sending exactly at the documented rate still meets retCode 10006 now and then.
WINDOW_MARGIN_S = 0.1


@dataclass(slots=True)
class LimiterStats:
    requests: int = 0
    waits: int = 0  # requests that had to wait for a window or a pause
    waited_s: float = 0.0
    pauses: int = 0  # pauses ordered by the venue (10006, 429, 403)


class RateLimiter:
    def __init__(
        self,
        per_second: Mapping[str, int],
        ip_per_5s: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        sleep: Callable[[float], object] = asyncio.sleep,
        margin_s: float = WINDOW_MARGIN_S,
    ) -> None:
        self._limits = dict(per_second)
        self._second = 1.0 + margin_s
        self._five_seconds = 5.0 + margin_s
        self._ip_limit = ip_per_5s
        self._clock = clock
        self._wall_ms = wall_ms
        self._sleep = sleep
        self._hits: dict[str, deque[float]] = {}
        self._ip_hits: deque[float] = deque()
        self._paused: dict[str | None, float] = {}  # path (None: all) → monotonic deadline
        self.stats = LimiterStats()

    def delay(self, path: str) -> float:
        """Seconds until a request to ``path`` may go (0: now)."""
        now = self._clock()
        wait = max(self._paused.get(path, 0.0), self._paused.get(None, 0.0)) - now
        limit = self._limits.get(path)
        if limit:
            hits = self._hits.setdefault(path, deque())
            while hits and hits[0] <= now - self._second:
                hits.popleft()
            if len(hits) >= limit:
                wait = max(wait, hits[0] + self._second - now)
        while self._ip_hits and self._ip_hits[0] <= now - self._five_seconds:
            self._ip_hits.popleft()
        if len(self._ip_hits) >= self._ip_limit:
            wait = max(wait, self._ip_hits[0] + self._five_seconds - now)
        return max(wait, 0.0)

    async def acquire(self, path: str) -> None:
        waited = False
        while True:
            wait = self.delay(path)
            if wait <= 0:
                break
            if not waited:
                self.stats.waits += 1
                waited = True
            self.stats.waited_s += wait
            await self._sleep(wait)  # type: ignore[misc]
        now = self._clock()
        if self._limits.get(path):
            self._hits.setdefault(path, deque()).append(now)
        self._ip_hits.append(now)
        self.stats.requests += 1

    def pause_until(self, path: str | None, epoch_ms: int) -> float:
        """Hold requests to ``path`` (None: every path) until ``epoch_ms``; the seconds."""
        seconds = max(0.0, (epoch_ms - self._wall_ms()) / 1000)
        deadline = self._clock() + seconds
        self._paused[path] = max(self._paused.get(path, 0.0), deadline)
        self.stats.pauses += 1
        return seconds
