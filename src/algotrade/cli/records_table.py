"""A rich table of records that fits the terminal: columns the operator can do without are
left out, named in the caption, rather than every cell folded mid-word (at 80 columns the
bots table printed "runni" over "ng"). ``--json`` always has every field."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

DASH = "–"
_UNBOUNDED = 100_000

Getter = Callable[[Mapping[str, Any]], object]
Column = tuple[str, Getter, bool]  # header, value getter, right-aligned


def cell_text(value: object, style: str = "") -> Text:
    return Text(DASH if value is None or value == "" else str(value), style=style)


def records_table(
    console: Console,
    columns: Sequence[Column],
    records: Iterable[Mapping[str, Any]],
    caption: str | None = None,
    *,
    droppable: Sequence[str] = (),
) -> Table:
    """One row per record. While the table is wider than ``console``, columns are left out:
    first those with nothing to show, then the ``droppable`` headers in their order."""
    rows = [
        [
            cell if isinstance(cell, Text) else cell_text(cell)
            for cell in (get(r) for _, get, _ in columns)
        ]
        for r in records
    ]
    headers = [header for header, _, _ in columns]
    blank = [h for i, h in enumerate(headers) if rows and all(_blank(row[i]) for row in rows)]
    candidates = [*blank, *(h for h in droppable if h not in blank)]
    hidden: list[str] = []
    unbounded = console.options.update_width(_UNBOUNDED)  # the natural width, not the clamped
    while True:
        table = _table(columns, rows, hidden, caption)
        if not candidates or console.measure(table, options=unbounded).maximum <= console.width:
            return table
        hidden.append(candidates.pop(0))


def _blank(cell: Text) -> bool:
    return cell.plain in ("", DASH)


def _table(
    columns: Sequence[Column], rows: list[list[Text]], hidden: list[str], caption: str | None
) -> Table:
    if hidden:
        note = f"not shown to fit the terminal: {', '.join(hidden)} (--json has every field)"
        caption = f"{caption}\n{note}" if caption else note
    table = Table(header_style="bold", caption=caption)
    shown = [i for i, (header, _, _) in enumerate(columns) if header not in hidden]
    for i in shown:
        header, _, right = columns[i]
        table.add_column(header, justify="right" if right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table
