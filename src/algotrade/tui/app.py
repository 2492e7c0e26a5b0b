"""``AlgoTradeApp``: the Textual app of ``algotrade tui``, a thin client of the daemon's API.

One WebSocket stream (status, summary, risk, venues of every bot) feeds the app; status events
are queued (the newest per bot) and applied to the bots table at most every
``FLUSH_SECONDS``. Every action is one API call; the daemon decides, the app shows. Mutating
actions exist only for an admin key: a trader sees none (not in bindings, footer or palette).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from algotrade.client import ApiError, AsyncAlgoTradeClient, ClientError
from algotrade.tui.bot_screen import BotScreen
from algotrade.tui.bots_screen import BotsScreen
from algotrade.tui.commands import AlgoTradeCommands
from algotrade.tui.forms import ConfirmScreen, CreateBotScreen, EditConfigScreen
from algotrade.tui.header import SummaryBar
from algotrade.tui.live import ADMIN, FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS, LinkState, LiveStream
from algotrade.tui.live import detect_role as probe_role
from algotrade.tui.model import StatusQueue
from algotrade.tui.ops_screens import RiskScreen, VenuesScreen

FLUSH_SECONDS = 0.15
TICK_SECONDS = 1.0
APP_TOPICS = ("status", "summary", "risk", "venues")
# Actions that change something in the daemon: hidden unless the key is an admin's.
MUTATING_ACTIONS = frozenset(
    {"create", "start", "stop", "pause", "resume", "edit_config", "delete", "unlock"}
)
CONTROL_COMMANDS = ("start", "stop", "pause", "resume")


class AlgoTradeApp(App[None]):
    TITLE = "algo-trade"
    COMMANDS = App.COMMANDS | {AlgoTradeCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_bots", "Bots"),
        Binding("2", "show_risk", "Risk"),
        Binding("3", "show_venues", "Venues"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        daemon_url: str,
        api_key: str | None = None,
        *,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        super().__init__()
        self.daemon_url = daemon_url
        self.client = AsyncAlgoTradeClient(daemon_url, api_key)
        self.role: str | None = None  # None until known: read-only meanwhile
        self.link = LinkState(False, "connecting")
        self.summary: dict[str, Any] | None = None
        self.pending = StatusQueue()
        self.stream = LiveStream(
            self.client,
            APP_TOPICS,
            self._stream_message,
            self._stream_link,
            first_retry=first_retry,
            max_retry=max_retry,
        )
        self.bots_screen = BotsScreen()

    @property
    def can_write(self) -> bool:
        return self.role == ADMIN

    def on_mount(self) -> None:
        self.push_screen(self.bots_screen)
        self.run_worker(self.stream.run(), name="stream", group="stream")
        self.set_interval(FLUSH_SECONDS, self.flush_statuses)
        self.set_interval(TICK_SECONDS, self.bots_screen.table.tick)

    async def on_unmount(self) -> None:
        self.stream.stop()
        await self.client.aclose()

    # -- the stream ---------------------------------------------------------------------------

    def _stream_link(self, link: LinkState) -> None:
        self.link = link
        self.redraw_headers()
        if link.connected:
            self.detect_role()
            for screen in self.screen_stack:
                reconnected = getattr(screen, "daemon_reconnected", None)
                if reconnected is not None:
                    reconnected()

    def _stream_message(self, message: dict[str, Any]) -> None:
        kind, topic, data = message.get("type"), message.get("topic"), message.get("data")
        if kind == "snapshot" and topic == "status":
            self.pending.clear()
            self.bots_screen.table.load(data or [])
            self.bots_screen.show_counts()
        elif kind == "event" and topic == "status" and isinstance(data, dict):
            self.pending.put(data)
        elif topic == "summary" and kind in ("snapshot", "event"):
            summary = data[0] if kind == "snapshot" and data else data
            if isinstance(summary, dict):
                self.summary = summary
                self.redraw_headers()
        elif kind == "event" and topic in ("risk", "venues"):
            for screen in self.screen_stack:
                handler = getattr(screen, "live_event", None)
                if handler is not None:
                    handler(topic, data)

    def flush_statuses(self) -> None:
        """Apply the queued status events to the bots table in one batch."""
        if self.pending:
            self.bots_screen.table.apply_status_batch(self.pending.drain())
            self.bots_screen.show_counts()

    def redraw_headers(self) -> None:
        for screen in self.screen_stack:
            for bar in screen.query(SummaryBar):
                bar.redraw()

    @work(exclusive=True, group="role")
    async def detect_role(self) -> None:
        try:
            role = await probe_role(self.client)
        except ClientError as exc:
            self.notify(f"cannot tell the key's role: {exc}", severity="error")
            return
        if role != self.role:
            self.role = role
            self.redraw_headers()
            for screen in self.screen_stack:
                screen.refresh_bindings()

    # -- navigation ---------------------------------------------------------------------------

    def _base(self) -> None:
        while len(self.screen_stack) > 2:  # the default screen and the bots screen stay
            self.pop_screen()

    def action_show_bots(self) -> None:
        self._base()

    def action_show_risk(self) -> None:
        self._base()
        self.push_screen(RiskScreen())

    def action_show_venues(self) -> None:
        self._base()
        self.push_screen(VenuesScreen())

    def open_bot(self, bot_id: str) -> None:
        self._base()
        self.push_screen(BotScreen(bot_id))

    # -- actions (one API call each) ---------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_write or action not in MUTATING_ACTIONS

    def selected_bot(self, screen: Screen[Any] | None = None) -> str | None:
        """The bot the actions apply to: that of a bot screen, or the one under the bots
        table's cursor (``screen``: the one the palette was opened on)."""
        screen = self.screen if screen is None else screen
        bot_id = getattr(screen, "bot_id", None)
        if isinstance(bot_id, str):
            return bot_id
        if isinstance(screen, BotsScreen):
            return screen.table.selected_bot()
        return None

    def control(self, bot_id: str | None, command: str) -> None:
        if bot_id is None or not self.can_write or command not in CONTROL_COMMANDS:
            return
        self._control(bot_id, command)

    @work(group="control")
    async def _control(self, bot_id: str, command: str) -> None:
        calls: dict[str, Callable[[str], Any]] = {
            "start": self.client.start_bot,
            "stop": self.client.stop_bot,
            "pause": self.client.pause_bot,
            "resume": self.client.resume_bot,
        }
        try:
            status = await calls[command](bot_id)
        except ClientError as exc:
            self.notify(f"{command} {bot_id}: {_one_line(exc)}", severity="error")
            return
        self.pending.put(status)
        self.notify(f"{bot_id}: {status.get('state', command)}")

    def create_bot(self) -> None:
        if not self.can_write:
            return

        def created(bot_id: str | None) -> None:
            if bot_id:
                self.notify(f"created {bot_id} (stopped)")

        self.push_screen(CreateBotScreen(self.client), created)

    def edit_config(self, bot_id: str | None) -> None:
        if bot_id is None or not self.can_write:
            return

        def saved(changed: bool | None) -> None:
            if changed:
                self.notify(f"{bot_id}: config saved")

        self.push_screen(EditConfigScreen(self.client, bot_id), saved)

    def delete_bot(self, bot_id: str | None) -> None:
        if bot_id is None or not self.can_write:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._delete(bot_id)

        question = f"Delete bot {bot_id}? Its orders, fills, positions and equity go with it."
        self.push_screen(ConfirmScreen(question), confirmed)

    @work(group="control")
    async def _delete(self, bot_id: str) -> None:
        try:
            await self.client.delete_bot(bot_id)
        except ClientError as exc:
            self.notify(f"delete {bot_id}: {_one_line(exc)}", severity="error")
            return
        if isinstance(self.screen, BotScreen) and self.screen.bot_id == bot_id:
            self.pop_screen()
        self.pending.put({"bot_id": bot_id, "deleted": True})
        self.notify(f"deleted {bot_id}")

    def palette_commands(
        self, screen: Screen[Any] | None = None
    ) -> list[tuple[str, str, Callable[[], Any]]]:
        """What the command palette offers now: navigation for everyone; bot actions only to
        an admin (a trader's palette has no mutating command)."""
        commands: list[tuple[str, str, Callable[[], Any]]] = [
            ("Bots", "the table of every bot", self.action_show_bots),
            ("Risk", "accounts, rules, lockouts, enforcement log", self.action_show_risk),
            (
                "Venues",
                "connections, reconciliation, blocked symbols, alerts",
                self.action_show_venues,
            ),
        ]
        screen = self.screen if screen is None else screen
        bot_id = self.selected_bot(screen)
        if bot_id is not None and not isinstance(screen, BotScreen):
            commands.append(
                (f"Open {bot_id}", "chart, orders, fills, logs", lambda: self.open_bot(bot_id))
            )
        if not self.can_write:
            return commands
        commands.append(("Create bot", "a new bot from a strategy's parameters", self.create_bot))
        if bot_id is not None:
            for command in CONTROL_COMMANDS:
                commands.append(
                    (
                        f"{command.capitalize()} {bot_id}",
                        f"{command} the selected bot",
                        lambda c=command: self.control(bot_id, c),  # type: ignore[misc]
                    )
                )
            commands.append(
                (f"Edit config of {bot_id}", "only while stopped", lambda: self.edit_config(bot_id))
            )
            commands.append((f"Delete {bot_id}", "asks first", lambda: self.delete_bot(bot_id)))
        return commands


def _one_line(exc: ClientError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.code}: {exc.message}"
    return " ".join(str(exc).split())


__all__ = ["MUTATING_ACTIONS", "AlgoTradeApp"]
