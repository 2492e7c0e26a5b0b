"""The bots table's lines as Textual Strips: one row of cells, or the header.

No widget state here: ``tui.table`` decides which rows are on screen and with which row style,
and calls these for the rows its cache does not already hold. Cells have the widths of a
``Layout`` (``model.COLUMNS``' widths, the text columns narrowed to fit a narrower screen) and
one cell of padding either side, so nothing is measured per row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from algotrade.tui.model import COLUMNS, Column, cell_text

ELLIPSIS = "…"
PADDING = 1  # blank cells either side of a column's text
LINE_WIDTH = sum(column.width + 2 * PADDING for column in COLUMNS)  # every column at full width


@dataclass(frozen=True, slots=True)
class Layout:
    """The width of each of ``COLUMNS`` (in their order) and of the line they make."""

    widths: tuple[int, ...]

    @property
    def line_width(self) -> int:
        return sum(self.widths) + 2 * PADDING * len(self.widths)

    def column_at(self, x: int) -> Column | None:
        """The column drawn at cell ``x`` of a line (scrolling included), or None past the
        last."""
        left = 0
        for column, width in zip(COLUMNS, self.widths, strict=True):
            left += width + 2 * PADDING
            if x < left:
                return column
        return None


@cache
def layout_for(available: int) -> Layout:
    """Column widths for a screen ``available`` cells wide: every column at its full width when
    that fits; else the columns with a ``min_width`` give up cells, in proportion to what each
    can spare, until the line fits or each is at its minimum (past that the table scrolls
    sideways). A terminal in a browser is often 130 – 150 columns: the whole row then shows."""
    full = tuple(column.width for column in COLUMNS)
    excess = LINE_WIDTH - available
    spare = [column.width - column.min_width if column.min_width else 0 for column in COLUMNS]
    total_spare = sum(spare)
    if excess <= 0 or total_spare == 0:
        return Layout(full)
    cut = min(excess, total_spare)
    shares = [cut * one // total_spare for one in spare]
    # The cells integer division left over go to the columns with the most still to spare.
    for index in sorted(range(len(spare)), key=lambda i: shares[i] - spare[i]):
        if sum(shares) == cut:
            break
        if shares[index] < spare[index]:
            shares[index] += 1
    return Layout(tuple(width - share for width, share in zip(full, shares, strict=True)))


def fit(plain: str, width: int, justify: str = "left") -> str:
    """``plain`` in exactly ``width`` cells: padded on the side ``justify`` leaves free, or cut
    with an ellipsis."""
    if not plain.isprintable():  # a newline or tab would break the line
        plain = "".join(char if char.isprintable() else " " for char in plain)
    length = len(plain) if plain.isascii() else cell_len(plain)
    if length > width:
        return set_cell_size(plain, width - 1) + ELLIPSIS if width > 0 else ""
    pad = " " * (width - length)
    if justify == "right":
        return pad + plain
    if justify == "center":
        half = len(pad) // 2
        return pad[:half] + plain + pad[half:]
    return plain + pad


def _style_of(text: Text) -> Style | None:
    style = text.style
    if isinstance(style, Style):
        return style
    return Style.parse(style) if style else None  # Style.parse is cached by Rich


def row_strip(
    status: Mapping[str, Any],
    row_style: Style,
    cursor_style: Style | None,
    width: int,
    console: Console,
    layout: Layout | None = None,
) -> Strip:
    """One bot's row, ``width`` cells wide (at least the layout's line). ``cursor_style``
    (the cursor's row): its colours win over the cells' own, as DataTable's cursor did."""
    layout = layout or layout_for(width)
    now = time.time()
    segments: list[Segment] = []
    pad = " " * PADDING
    for column, column_width in zip(COLUMNS, layout.widths, strict=True):
        text = cell_text(column, status, now)
        if text.spans:  # styled parts inside the cell: Rich lays it out (slower, rare)
            segments.extend(_rich_cell(text, column_width, row_style, console))
            continue
        style = _style_of(text)
        cell_style = row_style if style is None else row_style + style
        if cursor_style is not None:
            cell_style += cursor_style
        body = fit(text.plain, column_width, text.justify or "left")
        segments.append(Segment(pad + body + pad, cell_style))
    used = layout.line_width
    if width > used:
        segments.append(Segment(" " * (width - used), row_style))
        used = width
    return Strip(segments, used)


def _rich_cell(text: Text, width: int, row_style: Style, console: Console) -> list[Segment]:
    options = console.options.update(width=width, no_wrap=True, overflow="ellipsis")
    lines = console.render_lines(text, options, style=row_style, pad=True)
    pad = Segment(" " * PADDING, row_style)
    return [pad, *lines[0], pad]


def header_strip(
    sort_key: str, reverse: bool, header_style: Style, width: int, layout: Layout | None = None
) -> Strip:
    """The column labels, the sorted one with ▲ (ascending) or ▼ (descending)."""
    layout = layout or layout_for(width)
    segments: list[Segment] = []
    pad = " " * PADDING
    for column, column_width in zip(COLUMNS, layout.widths, strict=True):
        if column.key != sort_key:
            segments.append(Segment(pad + fit(column.label, column_width) + pad, header_style))
            continue
        arrow = "▼" if reverse else "▲"
        labelled = f"{column.label} {arrow}"
        if cell_len(labelled) <= column_width:
            cell = pad + fit(labelled, column_width) + pad
        else:  # a narrow column: the arrow takes the right padding
            cell = pad + fit(column.label, column_width) + arrow
        segments.append(Segment(cell, header_style + Style(underline=True)))
    used = layout.line_width
    if width > used:
        segments.append(Segment(" " * (width - used), header_style))
        used = width
    return Strip(segments, used)


class RowStyles:
    """The Rich styles of the lines, from the widget's CSS (read once per style change:
    Textual computes them on every access)."""

    def __init__(self, table: Widget) -> None:
        self.console = table.app.console
        self.base = table.rich_style
        self.header = table.get_component_rich_style("bot-table--header")
        cursor = table.get_component_rich_style("bot-table--cursor")
        self.rows = {
            "even": self.base + table.get_component_rich_style("bot-table--even-row"),
            "odd": self.base + table.get_component_rich_style("bot-table--odd-row"),
            "cursor": self.base + cursor,
        }
        # On the cursor's row its colours win over a cell's own (DataTable's default).
        self.cursor_colours = Style.from_color(cursor.color, cursor.bgcolor)
