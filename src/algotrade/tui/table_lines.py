"""The bots table's lines as Textual Strips: one row of cells, or the header.

No widget state here: ``tui.table`` decides which rows are on screen and with which row style,
and calls these for the rows its cache does not already hold. Cells have fixed widths
(``model.COLUMNS``) and one cell of padding either side, so nothing is measured per row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
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
LINE_WIDTH = sum(column.width + 2 * PADDING for column in COLUMNS)


def column_at(x: int) -> Column | None:
    """The column drawn at cell ``x`` of a line (scrolling included), or None past the last."""
    left = 0
    for column in COLUMNS:
        left += column.width + 2 * PADDING
        if x < left:
            return column
    return None


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
) -> Strip:
    """One bot's row, ``width`` cells wide (at least the columns' width). ``cursor_style``
    (the cursor's row): its colours win over the cells' own, as DataTable's cursor did."""
    now = time.time()
    segments: list[Segment] = []
    pad = " " * PADDING
    for column in COLUMNS:
        text = cell_text(column, status, now)
        if text.spans:  # styled parts inside the cell: Rich lays it out (slower, rare)
            segments.extend(_rich_cell(text, column.width, row_style, console))
            continue
        style = _style_of(text)
        cell_style = row_style if style is None else row_style + style
        if cursor_style is not None:
            cell_style += cursor_style
        body = fit(text.plain, column.width, text.justify or "left")
        segments.append(Segment(pad + body + pad, cell_style))
    used = LINE_WIDTH
    if width > used:
        segments.append(Segment(" " * (width - used), row_style))
        used = width
    return Strip(segments, used)


def _rich_cell(text: Text, width: int, row_style: Style, console: Console) -> list[Segment]:
    options = console.options.update(width=width, no_wrap=True, overflow="ellipsis")
    lines = console.render_lines(text, options, style=row_style, pad=True)
    pad = Segment(" " * PADDING, row_style)
    return [pad, *lines[0], pad]


def header_strip(sort_key: str, reverse: bool, header_style: Style, width: int) -> Strip:
    """The column labels, the sorted one with ▲ (ascending) or ▼ (descending)."""
    segments: list[Segment] = []
    pad = " " * PADDING
    for column in COLUMNS:
        if column.key != sort_key:
            segments.append(Segment(pad + fit(column.label, column.width) + pad, header_style))
            continue
        arrow = "▼" if reverse else "▲"
        labelled = f"{column.label} {arrow}"
        if cell_len(labelled) <= column.width:
            cell = pad + fit(labelled, column.width) + pad
        else:  # a narrow column: the arrow takes the right padding
            cell = pad + fit(column.label, column.width) + arrow
        segments.append(Segment(cell, header_style + Style(underline=True)))
    used = LINE_WIDTH
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
