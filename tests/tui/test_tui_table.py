"""The bots table widget on its own: the rows it draws follow the model's order and filter, the
cursor keeps its bot, keys and clicks move it, Enter and header clicks post their messages, and
a batch formats only the changed rows on screen."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.message import Message

from algotrade.tui.model import COLUMNS
from algotrade.tui.table import BotTable
from algotrade.tui.table_lines import LINE_WIDTH, PADDING, layout_for

SIZE = (180, 22)  # 22 lines: the header and 21 rows


def status(bot_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "bot_id": bot_id,
        "state": "running",
        "symbol": "SIM-BTC",
        "venue": "paper",
        "strategy": "ma_crossover",
        "simulated": True,
        "equity": "1000",
        "pnl_today": "0",
    }
    return base | fields


def bots(count: int) -> list[dict[str, Any]]:
    # equity falls as the id grows, so sorting by equity reverses the id order
    return [status(f"bot-{i:04d}", equity=str(100_000 - i)) for i in range(count)]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield BotTable(id="bots")

    def on_bot_table_bot_selected(self, message: BotTable.BotSelected) -> None:
        self.messages.append(message)

    def on_bot_table_sort_changed(self, message: BotTable.SortChanged) -> None:
        self.messages.append(message)


def drawn(table: BotTable) -> list[str]:
    """The lines the table draws now, as plain text."""
    return [strip.text for strip in table.render_lines(Region(0, 0, *table.size))]


def drawn_bots(table: BotTable) -> list[str]:
    return [line.split()[0] for line in drawn(table)[1:] if line.strip()]


def header_x(key: str) -> int:
    """A cell inside column ``key``'s label."""
    left = 0
    for column in COLUMNS:
        if column.key == key:
            return left + PADDING
        left += column.width + 2 * PADDING
    raise KeyError(key)


async def test_rows_follow_the_models_order_and_filter() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BotTable)
        table.load(bots(300))
        await pilot.pause()
        assert table.row_count == 300
        assert table.ordered_bots() == table.model.ordered_shown()
        assert drawn_bots(table) == [f"bot-{i:04d}" for i in range(21)]
        assert "bot ▲" in drawn(table)[0]

        table.sort_by("equity")
        await pilot.pause()
        assert table.ordered_bots() == table.model.ordered_shown()
        assert drawn_bots(table)[:2] == ["bot-0299", "bot-0298"]  # lowest equity first
        assert "equity ▲" in drawn(table)[0]

        table.set_filter("bot-001")
        await pilot.pause()
        assert table.row_count == 10
        assert drawn_bots(table) == [f"bot-{i:04d}" for i in range(19, 9, -1)]
        assert table.ordered_bots() == table.model.ordered_shown()

        # a batch: one bot deleted, one new (matching the filter, the lowest equity)
        table.apply_status_batch(
            [{"bot_id": "bot-0015", "deleted": True}, status("bot-001x", equity="5")]
        )
        await pilot.pause()
        assert table.ordered_bots() == table.model.ordered_shown()
        assert drawn_bots(table)[0] == "bot-001x"
        assert "bot-0015" not in drawn_bots(table)


async def test_cursor_keys_and_its_bot_across_a_resort() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BotTable)
        table.load(bots(100))
        table.focus()
        await pilot.pause()
        assert table.selected_bot() == "bot-0000"
        await pilot.press("down", "down", "up")
        assert table.selected_bot() == "bot-0001"
        await pilot.press("pagedown")
        assert table.cursor_row == 22  # a page: the 21 rows on screen
        await pilot.press("end")
        assert table.selected_bot() == "bot-0099"
        await pilot.pause()
        assert drawn_bots(table)[-1] == "bot-0099"  # scrolled to it
        await pilot.press("pageup")
        assert table.cursor_row == 78
        await pilot.press("home")
        assert table.selected_bot() == "bot-0000"
        await pilot.pause()
        assert drawn_bots(table)[0] == "bot-0000"

        table.move_cursor(row=table.get_row_index("bot-0040"))
        table.sort_by("equity")  # ascending equity: the ids reversed
        assert table.selected_bot() == "bot-0040"
        assert table.cursor_row == 59
        # a batch that moves the bot: the cursor goes with it
        table.apply_status_batch([status("bot-0040", equity="1")])
        assert table.cursor_row == 0
        assert table.selected_bot() == "bot-0040"
        # its bot deleted: the cursor stays on the row, now the next bot's
        table.apply_status_batch([{"bot_id": "bot-0040", "deleted": True}])
        assert table.selected_bot() == "bot-0099"


async def test_enter_and_a_click_on_the_cursor_row_select_its_bot() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BotTable)
        table.load(bots(50))
        table.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        selected = [m for m in app.messages if isinstance(m, BotTable.BotSelected)]
        assert [m.bot_id for m in selected] == ["bot-0001"]

        await pilot.click(BotTable, offset=(3, 4))  # line 4: the fourth row
        assert table.selected_bot() == "bot-0003"
        assert len([m for m in app.messages if isinstance(m, BotTable.BotSelected)]) == 1
        await pilot.click(BotTable, offset=(3, 4))  # the cursor's row again: selected
        await pilot.pause()
        selected = [m for m in app.messages if isinstance(m, BotTable.BotSelected)]
        assert [m.bot_id for m in selected] == ["bot-0001", "bot-0003"]


async def test_a_header_click_sorts_and_again_reverses() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BotTable)
        table.load(bots(50))
        table.move_cursor(row=table.get_row_index("bot-0007"))
        await pilot.click(BotTable, offset=(header_x("equity"), 0))
        await pilot.pause()
        assert (table.model.sort_key, table.model.sort_reverse) == ("equity", False)
        assert drawn_bots(table)[0] == "bot-0049"
        assert table.selected_bot() == "bot-0007"
        await pilot.click(BotTable, offset=(header_x("equity"), 0))
        await pilot.pause()
        assert table.model.sort_reverse
        assert drawn_bots(table)[0] == "bot-0000"
        assert "equity ▼" in drawn(table)[0]
        sorts = [m for m in app.messages if isinstance(m, BotTable.SortChanged)]
        assert [m.column_key for m in sorts] == ["equity", "equity"]
        assert not [m for m in app.messages if isinstance(m, BotTable.BotSelected)]


async def test_a_batch_formats_only_the_changed_rows_on_screen() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BotTable)
        table.load(bots(2000))
        await pilot.pause()
        drawn(table)
        made = table.rows_made
        assert made == 21  # the rows on screen, each once

        # two bots on screen and one far below change: two rows are formatted again
        table.apply_status_batch(
            [
                status("bot-0003", equity="7", pnl_today="-2"),
                status("bot-0010", state="paused", equity=str(100_000 - 10)),
                status("bot-1500", equity="1"),
            ]
        )
        await pilot.pause()
        lines = drawn(table)
        assert table.rows_made - made == 2
        assert "7.00" in lines[4]
        assert "-2.00" in lines[4]
        assert "paused" in lines[11]

        # every bot changes: only the 21 rows on screen are formatted
        made = table.rows_made
        table.apply_status_batch([status(f"bot-{i:04d}", equity="3") for i in range(2000)])
        await pilot.pause()
        drawn(table)
        assert table.rows_made - made == 21

        # nothing on screen changes: nothing is formatted
        made = table.rows_made
        table.apply_status_batch([status("bot-1999", equity="4")])
        await pilot.pause()
        drawn(table)
        assert table.rows_made == made

        # the clock ticks: the rows on screen again (heartbeat ages)
        table.tick()
        await pilot.pause()
        drawn(table)
        assert table.rows_made - made == 21


async def test_cells_show_the_latest_status() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BotTable)
        table.load([status("a", pnl_today="-1.5", blocked="position mismatch")])
        await pilot.pause()
        assert str(table.get_cell("a", "pnl_today")) == "-1.50"
        line = drawn(table)[1]
        assert "-1.50" in line
        assert "running b…" in line
        table.apply_status_batch([status("a", pnl_today="2\n3")])  # not a number: as it came
        await pilot.pause()
        assert "2 3" in drawn(table)[1]  # a newline never breaks the line


async def test_a_browser_wide_screen_shows_every_column_and_clicks_hit_them() -> None:
    """142 columns (a TUI in a browser window): the text columns give up cells so the last
    column is on screen without scrolling sideways, and a header click still finds its
    column in the narrowed layout."""
    app = TableApp()
    async with app.run_test(size=(142, 22)) as pilot:
        table = app.query_one(BotTable)
        table.load([status("bot-0001", strategy="ma_crossover")])
        await pilot.pause()
        header, row = drawn(table)[:2]
        assert header.rstrip().endswith("strategy"), header
        assert "ma_crossover" in row, row
        assert table.virtual_size.width <= table.size.width
        layout = layout_for(table.size.width)
        left = sum(width + 2 * PADDING for width in layout.widths[:-1])
        await pilot.click(BotTable, offset=(left + PADDING, 0))
        await pilot.pause()
        assert table.model.sort_key == "strategy"


def test_layout_narrows_only_text_columns_down_to_their_minimum() -> None:
    full = tuple(column.width for column in COLUMNS)
    assert layout_for(LINE_WIDTH).widths == full
    assert layout_for(LINE_WIDTH + 40).widths == full
    for available in range(60, LINE_WIDTH):
        layout = layout_for(available)
        for column, width in zip(COLUMNS, layout.widths, strict=True):
            assert (column.min_width or column.width) <= width <= column.width
        narrowest = sum(c.min_width or c.width for c in COLUMNS) + 2 * PADDING * len(COLUMNS)
        assert layout.line_width == max(available, narrowest)
