"""Charts drawn with Unicode characters: candlesticks with fill markers and open-order lines,
and a line chart (the equity curve). ``candles`` and ``line_chart`` are pure (lists of Rich
``Text`` lines, tested without a terminal); ``ChartView`` is the widget that redraws them at
its size. Values are floats: a chart is for the eye, the API keeps exact money.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widget import Widget

from algotrade.tui.format import number

AXIS_WIDTH = 12
UP, DOWN = "green", "red"
BUY_MARK, SELL_MARK = "▲", "▼"
ORDER_LINE = "┄"


@dataclass(frozen=True, slots=True)
class Marker:
    ts: int  # ns: the bar it belongs to is the last one opened at or before it
    price: float
    side: str  # buy or sell


@dataclass(frozen=True, slots=True)
class Level:
    price: float
    side: str


@dataclass(slots=True)
class _Scale:
    low: float
    high: float
    rows: int

    def row(self, value: float) -> int:
        """0 is the top row."""
        if self.high <= self.low:
            return self.rows // 2
        fraction = (value - self.low) / (self.high - self.low)
        return min(self.rows - 1, max(0, round((1 - fraction) * (self.rows - 1))))

    def value(self, row: int) -> float:
        if self.rows <= 1:
            return self.high
        return self.high - (self.high - self.low) * row / (self.rows - 1)


def _axis(scale: _Scale, row: int) -> str:
    if row in (0, scale.rows - 1, scale.rows // 2):
        return f"{scale.value(row):>{AXIS_WIDTH - 1}.6g} "
    return " " * AXIS_WIDTH


def candles(
    bars: Sequence[Mapping[str, Any]],
    width: int,
    height: int,
    markers: Sequence[Marker] = (),
    levels: Sequence[Level] = (),
) -> list[Text]:
    """The newest bars that fit, one column each, with buy/sell markers at their fill price
    and dotted lines at open orders' prices."""
    columns = max(width - AXIS_WIDTH, 1)
    rows = max(height, 3)
    shown = [b for b in bars if _ohlc(b) is not None][-columns:]
    if not shown:
        return [Text("no bars yet", style="dim")]
    ohlc = [_ohlc(b) for b in shown]
    prices = [p for bar in ohlc if bar is not None for p in bar]
    prices += [m.price for m in markers] + [level.price for level in levels]
    scale = _Scale(min(prices), max(prices), rows)
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * len(shown) for _ in range(rows)]
    for x, bar in enumerate(ohlc):
        if bar is None:
            continue
        open_, high, low, close = bar
        style = UP if close >= open_ else DOWN
        top, bottom = scale.row(max(open_, close)), scale.row(min(open_, close))
        for y in range(scale.row(high), scale.row(low) + 1):
            grid[y][x] = ("█" if top <= y <= bottom else "│", style)
    for level in levels:
        y = scale.row(level.price)
        style = "yellow" if level.side == "buy" else "magenta"
        grid[y] = [(ORDER_LINE, style) if ch == " " else (ch, s) for ch, s in grid[y]]
    starts = [int(b.get("ts") or 0) for b in shown]
    for marker in markers:
        x = bisect.bisect_right(starts, marker.ts) - 1
        if 0 <= x < len(shown):
            buy = marker.side == "buy"
            grid[scale.row(marker.price)][x] = (
                (BUY_MARK, "bold bright_green") if buy else (SELL_MARK, "bold bright_red")
            )
    lines = []
    for y, cells in enumerate(grid):
        line = Text(_axis(scale, y), style="dim")
        for char, style in cells:
            line.append(char, style)
        lines.append(line)
    return lines


def line_chart(values: Sequence[float], width: int, height: int, style: str = "cyan") -> list[Text]:
    """``values`` (the newest that fit, one column each) as a filled line chart."""
    columns = max(width - AXIS_WIDTH, 1)
    rows = max(height, 2)
    shown = list(values)[-columns:]
    if not shown:
        return [Text("no data yet", style="dim")]
    scale = _Scale(min(shown), max(shown), rows)
    tops = [scale.row(v) for v in shown]
    lines = []
    for y in range(rows):
        line = Text(_axis(scale, y), style="dim")
        for top in tops:
            line.append("▀" if y == top else ("░" if y > top else " "), style)
        lines.append(line)
    return lines


def _ohlc(bar: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    values = [number(bar.get(key)) for key in ("open", "high", "low", "close")]
    if any(v is None for v in values):
        return None
    open_, high, low, close = (float(v) for v in values if v is not None)
    return open_, max(high, open_, close), min(low, open_, close), close


def fill_markers(fills: Sequence[Mapping[str, Any]]) -> list[Marker]:
    markers = []
    for fill in fills:
        price = number(fill.get("price"))
        if price is not None and fill.get("side") in ("buy", "sell"):
            markers.append(Marker(int(fill.get("ts") or 0), price, str(fill["side"])))
    return markers


OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled", "pending", "open"})


def order_levels(orders: Sequence[Mapping[str, Any]]) -> list[Level]:
    levels = []
    for order in orders:
        if order.get("status") not in OPEN_STATUSES:
            continue
        price = number(order.get("limit_price")) or number(order.get("stop_price"))
        if price is not None:
            levels.append(Level(price, str(order.get("side", ""))))
    return levels


@dataclass(slots=True)
class ChartData:
    bars: list[dict[str, Any]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # a line chart when no bars


class ChartView(Widget):
    """Draws ``data`` at the widget's size: candles when it has bars, else a line chart."""

    DEFAULT_CSS = "ChartView { height: 1fr; min-height: 6; }"

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chart_title = title
        self.data = ChartData()

    def show(self, data: ChartData) -> None:
        self.data = data
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, max(self.size.height - 1, 2)
        if self.data.bars:
            lines = candles(self.data.bars, width, height, self.data.markers, self.data.levels)
        else:
            lines = line_chart(self.data.values, width, height)
        return Text("\n").join([Text(self.chart_title, style="bold"), *lines])
