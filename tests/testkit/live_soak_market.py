"""The market of a live crash soak (``testkit.live_soak``): a thread that keeps the fake venue
trading whether the daemon is up or not, and the bots' scripts.

Every tick moves each coin's price by a seeded random walk held inside a band around its start
(resting limits the bots placed inside that band fill as the price crosses them, maker, also
while the daemon is down) and publishes the next one-minute candle, the bar the bots act on
(``SoakVenue.tick``).
"""

from __future__ import annotations

import random
import threading
import time

from testkit.live_daemon_session import MINUTE_MS
from testkit.live_soak_venue import SoakCoin, SoakVenue

__all__ = ["Market", "bot_steps"]


BAND = 0.006  # the mid wanders within ±0.6 % of the start
LIMIT_OFFSETS = (0.001, 0.002, 0.004)  # limits rest this far from the start, inside the band


def bot_steps(rng: random.Random, coin: SoakCoin, count: int) -> list[str]:
    """A script for ``testkit/strategies/scripted.py``: market and limit orders on most bars
    (limits rest inside the band, so the wandering mid fills them later), a ``cancel_all`` now
    and then, a few idle bars."""
    steps = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.35:
            steps.append(f"{rng.choice(('buy', 'sell'))}:{coin.qty}")
        elif roll < 0.75:
            side = rng.choice(("buy", "sell"))
            offset = rng.choice(LIMIT_OFFSETS) * (-1 if side == "buy" else 1)
            steps.append(f"limit_{side}:{coin.price(offset)}:{coin.qty}")
        elif roll < 0.85:
            steps.append("cancel_all")
        else:
            steps.append("")
    return steps


class Market(threading.Thread):
    """Ticks the fake's prices and candles every ``tick_s`` until ``close()``; ``pause()``
    holds it still (no fill can happen at the venue while the books are compared)."""

    def __init__(
        self, venue: SoakVenue, coins: tuple[SoakCoin, ...], seed: int, tick_s: float
    ) -> None:
        super().__init__(name="soak-market", daemon=True)
        self.venue = venue
        self.coins = coins
        self.rng = random.Random(seed)
        self.tick_s = tick_s
        self.position = dict.fromkeys((c.name for c in coins), 0.0)  # fraction from start
        # Candles from a while ago: the daemon's warm-up may fetch history before them.
        self.candle_ms = (int(time.time() * 1000) // MINUTE_MS - 3000) * MINUTE_MS
        self.ticks = 0
        self.error: BaseException | None = None
        self._running = threading.Event()
        self._running.set()
        self._closed = threading.Event()
        self._step = threading.Lock()

    def run(self) -> None:
        try:
            while not self._closed.is_set():
                if self._running.wait(0.05):
                    with self._step:
                        if self._running.is_set():
                            self.tick()
                self._closed.wait(self.tick_s)
        except BaseException as exc:  # reported by the soak: the market must not die silently
            self.error = exc

    def tick(self) -> None:
        for coin in self.coins:
            step = self.rng.uniform(-0.0015, 0.0015)
            moved = max(-BAND, min(BAND, self.position[coin.name] + step))
            self.position[coin.name] = moved
            self.venue.tick(coin, coin.price(moved), self.candle_ms)
        self.candle_ms += MINUTE_MS
        self.ticks += 1

    def pause(self) -> None:
        """Returns once no tick is under way and none will start until ``resume()``."""
        self._running.clear()
        with self._step:
            pass

    def resume(self) -> None:
        self._running.set()

    def close(self) -> None:
        self._closed.set()
        self._running.set()
        self.join(5)
