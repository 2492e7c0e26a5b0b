"""What a bot's market data tells the operator: its recent bars and its PnL since midnight UTC.

Both live in memory only. Recent bars refill as the bot runs (warm-up bars included); the
day's opening equity comes from the store at restart (the last equity snapshot before
midnight) and rolls over from the last equity shown when a new UTC day begins.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from algotrade.core.events import Bar
from algotrade.core.timeutil import ns_to_iso

# Enough for a chart; with a shared sim stream the bars are the feed's own objects, so a bot
# holds only references (10,000 bots x 500 x 8 bytes = 40 MB).
RECENT_BARS = 500
DAY_NS = 86_400 * 1_000_000_000


def bar_to_api(bar: Bar) -> dict[str, Any]:
    return {
        "symbol": bar.symbol,
        "ts": bar.ts,
        "time": ns_to_iso(bar.ts),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
    }


class RecentBars:
    """The last ``RECENT_BARS`` bars the bot's strategy saw, oldest first."""

    __slots__ = ("_bars", "append")

    def __init__(self, size: int = RECENT_BARS) -> None:
        self._bars: deque[Bar] = deque(maxlen=size)
        # The deque's own method: called for every bar of every bot, without a Python frame.
        self.append: Callable[[Bar], None] = self._bars.append

    def latest(self, limit: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        bars = list(self._bars)[-limit:]
        return [bar_to_api(bar) for bar in bars]


class DayOpenEquity:
    """Equity at 00:00 UTC of the current day; ``pnl_today`` is the change since."""

    __slots__ = ("_day", "_last", "_open")

    def __init__(self, opening: Decimal, now_ns: int) -> None:
        self._day = now_ns // DAY_NS
        self._open = opening
        self._last: Decimal | None = None

    @property
    def opening(self) -> Decimal:
        return self._open

    def pnl_today(self, equity: Decimal, now_ns: int) -> Decimal:
        day = now_ns // DAY_NS
        if day != self._day:
            # A new day opens at the last equity shown before it (or now, if none was).
            self._day = day
            self._open = self._last if self._last is not None else equity
        self._last = equity
        return equity - self._open
