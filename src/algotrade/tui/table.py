"""The bots table: ``BotsModel`` drawn with Textual's Line API, updated in batches.

Statuses arrive one WebSocket event at a time; the bots screen queues them and calls
``apply_status_batch`` a few times a second. Why not DataTable: with 10,000 bots it took
60–100 ms (500 ms on a loaded machine) to draw the ~48 visible rows after a batch, and ~1 s
to load 10,000 rows, because it keeps per-row objects and caches of its own and rebuilds them.

Here the table is a list of bot ids in display order, and ``render_line`` makes a line only for
the rows on screen:

- a row's Strip is kept per bot with what it was made from (the bot's status dict, the width,
  the row style: even, odd or cursor, and the clock tick). The model replaces a bot's status
  dict when a new status arrives, so after a batch only the changed rows on screen are made
  again; every other line comes from the cache;
- the order changes only when a sort field changed or rows came or went. Each shown bot's
  sort key is kept, recomputed for the bots of the batch only, and the nearly sorted list is
  sorted again (timsort: about linear time on it).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from algotrade.tui.model import COLUMNS, BatchResult, BotsModel, cell_text
from algotrade.tui.table_lines import RowStyles, header_strip, layout_for, row_strip

# The cache holds the rows drawn lately; past this many (after scrolling far) it starts again.
ROW_CACHE_LIMIT = 2000
_COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}


class BotTable(ScrollView, can_focus=True):
    """Every bot that passes the model's filter, one row each in the model's sort order, under
    a header that stays put. A row cursor (keys and mouse) picks a bot; Enter, or a click on
    the cursor's row, posts ``BotSelected``; a click on a column's label sorts by it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("home", "cursor_first", "First", show=False),
        Binding("end", "cursor_last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "bot-table--header",
        "bot-table--cursor",
        "bot-table--even-row",
        "bot-table--odd-row",
    }
    # DataTable's look, so the table did not change when the widget did.
    DEFAULT_CSS = """
    BotTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .bot-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .bot-table--header { background-tint: $foreground 5%; }
        }
        &:dark > .bot-table--even-row { background: $surface-darken-1 40%; }
        & > .bot-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .bot-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .bot-table--even-row { background: $surface-lighten-1 50%; }
        & > .bot-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class BotSelected(Message):
        """Enter on a row, or a click on the cursor's row (DataTable's RowSelected)."""

        def __init__(self, table: BotTable, bot_id: str) -> None:
            super().__init__()
            self.table = table
            self.bot_id = bot_id

        @property
        def control(self) -> BotTable:
            return self.table

    class SortChanged(Message):
        """A click on a column's label sorted the table by it (again: reversed)."""

        def __init__(self, table: BotTable, column_key: str) -> None:
            super().__init__()
            self.table = table
            self.column_key = column_key

        @property
        def control(self) -> BotTable:
            return self.table

    def __init__(self, model: BotsModel | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model or BotsModel()
        self._order: list[str] = []  # shown bot ids, top to bottom
        self._keys: dict[str, Any] = {}  # shown bot id -> its sort key
        self._cursor = 0
        self._tick = 0  # bumped by tick(): rows made before it show old heartbeat ages
        # bot id -> (status dict, width, row style, tick, the row's strip)
        self._rows: dict[str, tuple[object, int, str, int, Strip]] = {}
        self._header: tuple[tuple[str, bool, int], Strip] | None = None
        self.rows_made = 0  # rows formatted into strips so far (tests and benchmarks read it)
        self._styles: RowStyles | None = None  # made again when the CSS or theme changes
        self._view = (0, 0, 0)  # scroll x, scroll y and width of the lines being drawn

    def on_mount(self) -> None:
        self._set_virtual_size()

    # -- the public table ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def ordered_bots(self) -> list[str]:
        """The shown bot ids, top to bottom (a copy)."""
        return list(self._order)

    def get_row_index(self, bot_id: str) -> int:
        """Where ``bot_id``'s row is (ValueError when it is not shown)."""
        return self._order.index(bot_id)

    def get_cell(self, bot_id: str, column_key: str) -> Text:
        """The text ``column_key``'s cell of ``bot_id`` shows now (KeyError: no such bot/column)."""
        status = self.model.entries[bot_id].status
        return cell_text(_COLUMNS_BY_KEY[column_key], status, time.time())

    def selected_bot(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    def load(self, statuses: Iterable[Mapping[str, Any]]) -> None:
        """Replace every row by a full snapshot (bots missing from it are gone)."""
        self.model.replace_all(statuses)
        self.rebuild()
        # A snapshot of thousands of bots is long-lived: frozen, Python's full collections
        # stop walking it on every later batch (30-40 ms pauses with 10,000 bots). What an
        # earlier load froze is thawed and collected first, so reconnects leak nothing.
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def set_filter(self, text: str) -> None:
        self.model.set_filter(text)
        self.rebuild()

    def sort_by(self, key: str) -> None:
        """Sort by column ``key`` (the same key again: reversed); the cursor keeps its bot."""
        self.model.set_sort(key)
        self.rebuild()

    def rebuild(self) -> None:
        """The order again from the model (snapshot, filter or sort change)."""
        selected = self.selected_bot()
        self._keys = self.model.sort_keys(self.model.shown)
        self._order = sorted(
            self._keys, key=self._keys.__getitem__, reverse=self.model.sort_reverse
        )
        self._order_changed(selected)

    # -- batches ------------------------------------------------------------------------------

    def apply_status_batch(self, rows: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Apply a batch of statuses (WebSocket ``status`` events): changed rows redrawn, new
        or newly matching bots added, deleted or filtered-out bots removed, re-sorted when a
        sort field changed."""
        selected = self.selected_bot()
        result = self.model.apply(rows)
        if result.empty:
            return result
        order, keys = self._order, self._keys
        if result.removed:
            gone = set(result.removed)
            for bot_id in gone:
                keys.pop(bot_id, None)
                self._rows.pop(bot_id, None)
            order = [bot_id for bot_id in order if bot_id not in gone]
        if result.resort:  # a sort field changed, or rows came: the keys of this batch anew
            keys.update(self.model.sort_keys(result.changed))
        for bot_id in result.added:
            if bot_id not in keys:
                order.append(bot_id)
        keys.update(self.model.sort_keys(result.added))
        if result.resort:
            order.sort(key=keys.__getitem__, reverse=self.model.sort_reverse)
        if order is not self._order or result.resort:
            self._order = order
            self._order_changed(selected)
        else:
            self._refresh_changed_rows()
        return result

    def tick(self) -> None:
        """Redraw the rows on screen (heartbeat ages move with the clock)."""
        self._tick += 1
        self.refresh()

    def _order_changed(self, selected: str | None) -> None:
        self._set_virtual_size()
        index = self._cursor
        if selected is not None:
            # its bot gone: the cursor stays where it was
            with contextlib.suppress(ValueError):
                index = self._order.index(selected)
        self._cursor = max(0, min(index, len(self._order) - 1))
        self.refresh()

    def _refresh_changed_rows(self) -> None:
        """Only the lines on screen whose bot has a new status (what they were made from)."""
        entries, cached = self.model.entries, self._rows
        top = round(self.scroll_y)
        for line, bot_id in enumerate(self._order[top : top + self._page_size()], start=1):
            row = cached.get(bot_id)
            entry = entries.get(bot_id)
            if row is None or entry is None or row[0] is not entry.status:
                self.refresh_line(top + line)

    def _set_virtual_size(self) -> None:
        # The line is as wide as the columns laid out for this width (+1 row: the header).
        size = Size(layout_for(self.size.width).line_width, len(self._order) + 1)
        if self.virtual_size != size:
            self.virtual_size = size

    def on_resize(self, event: events.Resize) -> None:
        self._set_virtual_size()

    def _page_size(self) -> int:
        """Rows on screen (the header line excluded)."""
        return max(1, self.scrollable_content_region.height - 1)

    # -- drawing ------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rows.clear()
        self._header = None
        self._styles = None
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of this pass needs, read once: Textual computes these on each access.
        self._view = (*self.scroll_offset, self.size.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y, width = self._view
        full = max(width, layout_for(width).line_width)
        if y == 0:
            strip = self._header_line(full)
        else:
            index = scroll_y + y - 1
            if index >= len(self._order):
                return Strip.blank(width, self._row_styles().base)
            strip = self._row_line(index, full)
        return strip.crop(scroll_x, scroll_x + width)

    def _row_styles(self) -> RowStyles:
        if self._styles is None:
            self._styles = RowStyles(self)
        return self._styles

    def _header_line(self, width: int) -> Strip:
        key = (self.model.sort_key, self.model.sort_reverse, width)
        if self._header is None or self._header[0] != key:
            strip = header_strip(key[0], key[1], self._row_styles().header, width)
            self._header = (key, strip)
        return self._header[1]

    def _row_line(self, index: int, width: int) -> Strip:
        bot_id = self._order[index]
        entry = self.model.entries.get(bot_id)
        if entry is None:  # cannot happen (rows leave with their bot); drawn blank if it does
            return Strip.blank(width, self._row_styles().base)
        kind = "cursor" if index == self._cursor else ("odd" if index % 2 else "even")
        cached = self._rows.get(bot_id)
        if cached is not None:
            status, made_width, made_kind, made_tick, strip = cached
            if (
                status is entry.status
                and made_width == width
                and made_kind == kind
                and made_tick == self._tick
            ):
                return strip
        strip = self.make_row(entry.status, kind, width)
        if len(self._rows) >= ROW_CACHE_LIMIT:
            self._rows.clear()
        self._rows[bot_id] = (entry.status, width, kind, self._tick, strip)
        return strip

    def make_row(self, status: Mapping[str, Any], kind: str, width: int) -> Strip:
        """A row made into a strip (the only place rows are formatted)."""
        self.rows_made += 1
        styles = self._row_styles()
        return row_strip(
            status,
            styles.rows[kind],
            styles.cursor_colours if kind == "cursor" else None,
            width,
            styles.console,
        )

    # -- cursor -------------------------------------------------------------------------------

    def move_cursor(
        self, *, row: int | None = None, animate: bool = False, scroll: bool = True
    ) -> None:
        """Put the cursor on row ``row`` (clamped to the rows there are)."""
        del animate  # the cursor jumps; kept for DataTable's signature
        if row is None or not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        if row != self._cursor:
            self.refresh_line(self._cursor + 1)
            self._cursor = row
            self.refresh_line(row + 1)
        if scroll:
            self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        top, page = round(self.scroll_y), self._page_size()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_page_up(self) -> None:
        self.move_cursor(row=self._cursor - self._page_size())

    def action_cursor_page_down(self) -> None:
        self.move_cursor(row=self._cursor + self._page_size())

    def action_cursor_first(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_last(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    def action_select_cursor(self) -> None:
        bot_id = self.selected_bot()
        if bot_id is not None:
            self.post_message(self.BotSelected(self, bot_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            column = layout_for(self.size.width).column_at(offset.x + round(self.scroll_x))
            if column is not None:
                self.sort_by(column.key)
                self.post_message(self.SortChanged(self, column.key))
            return
        index = round(self.scroll_y) + offset.y - 1
        if index >= len(self._order):
            return
        if index == self._cursor:  # as DataTable: a click on the cursor's row selects it
            self.action_select_cursor()
        else:
            self.move_cursor(row=index)


def timed_apply(table: BotTable, rows: list[Mapping[str, Any]]) -> float:
    """Seconds ``apply_status_batch(rows)`` took (benchmarks/ui_load.py times it)."""
    started = time.perf_counter()
    table.apply_status_batch(rows)
    return time.perf_counter() - started
