"""The bots screen: the summary, a filter, and the table of every bot; bot actions by key."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from algotrade.tui.header import SummaryBar
from algotrade.tui.model import COLUMN_KEYS
from algotrade.tui.table import BotTable

FILTER_DELAY_SECONDS = 0.2
# The bot actions, by key, on the bots screen and a bot's screen. Mutating ones are hidden
# (check_action False) unless the key is an admin's.
BOT_ACTION_BINDINGS: list[BindingType] = [
    Binding("s", "start", "Start"),
    Binding("x", "stop", "Stop"),
    Binding("p", "pause", "Pause"),
    Binding("r", "resume", "Resume"),
    Binding("e", "edit_config", "Edit config"),
    Binding("delete,D", "delete", "Delete"),
]


class BotActions:
    """Key actions that act on ``self.app.selected_bot()`` (mixed into screens)."""

    app: Any

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed: bool | None = self.app.check_action(action, parameters)
        return allowed

    def action_start(self) -> None:
        self.app.control(self.app.selected_bot(), "start")

    def action_stop(self) -> None:
        self.app.control(self.app.selected_bot(), "stop")

    def action_pause(self) -> None:
        self.app.control(self.app.selected_bot(), "pause")

    def action_resume(self) -> None:
        self.app.control(self.app.selected_bot(), "resume")

    def action_edit_config(self) -> None:
        self.app.edit_config(self.app.selected_bot())

    def action_delete(self) -> None:
        self.app.delete_bot(self.app.selected_bot())

    def action_create(self) -> None:
        self.app.create_bot()


class BotsScreen(BotActions, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("o", "sort_next", "Sort"),
        Binding("O", "sort_reverse", "Reverse", show=False),
        Binding("n", "create", "New bot"),
        *BOT_ACTION_BINDINGS,
    ]
    DEFAULT_CSS = """
    BotsScreen #bar { height: 1; }
    BotsScreen #filter { width: 40; height: 1; border: none; padding: 0 1; }
    BotsScreen #counts { width: 1fr; height: 1; padding: 0 1; color: $text-muted; }
    BotsScreen BotTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.table = BotTable(id="bots")
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with Horizontal(id="bar"):
            yield Input(placeholder="/ filter: id, state, symbol, venue, strategy", id="filter")
            yield Static("", id="counts")
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self.show_counts()

    def show_counts(self) -> None:
        if not self.is_mounted:
            return
        model = self.table.model
        shown = (
            f"{len(model.shown)} of {len(model)} bots"
            if model.filter_text
            else f"{len(model)} bots"
        )
        self.query_one("#counts", Static).update(f"{shown} · sorted by {model.sort_label()}")

    # -- filter and sort ----------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        text = event.value
        self._filter_timer = self.set_timer(FILTER_DELAY_SECONDS, lambda: self._apply_filter(text))

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.table.focus()

    def _apply_filter(self, text: str) -> None:
        self.table.set_filter(text)
        self.show_counts()

    def action_sort_next(self) -> None:
        current = COLUMN_KEYS.index(self.table.model.sort_key)
        self.table.sort_by(COLUMN_KEYS[(current + 1) % len(COLUMN_KEYS)])
        self.show_counts()

    def action_sort_reverse(self) -> None:
        self.table.sort_by(self.table.model.sort_key)
        self.show_counts()

    @on(BotTable.SortChanged)
    def sorted_by_header(self) -> None:
        self.show_counts()  # the table sorted itself

    # -- open ---------------------------------------------------------------------------------

    def action_open(self) -> None:
        bot_id = self.table.selected_bot()
        if bot_id is not None:
            self.app.open_bot(bot_id)

    @on(BotTable.BotSelected)
    def bot_selected(self, event: BotTable.BotSelected) -> None:
        self.app.open_bot(event.bot_id)
