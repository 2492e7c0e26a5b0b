"""The risk screen (accounts, daily PnL, rules, lockouts, enforcement log; admin unlock) and the
venues screen (connections, reconciliation, blocked symbols, alerts). Read over REST when
shown, on reconnect, and (debounced) after a ``risk``/``venues`` WebSocket event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from algotrade.client import ApiError, AsyncAlgoTradeClient, ClientError
from algotrade.tui.format import clock, money, one_line
from algotrade.tui.forms import ConfirmScreen
from algotrade.tui.header import SummaryBar
from algotrade.tui.screen_work import while_shown

REFRESH_DELAY_SECONDS = 0.5
LOG_LINES = 100


class _OpsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f5", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    _OpsScreen DataTable { height: auto; max-height: 16; margin-bottom: 1; }
    _OpsScreen .section { text-style: bold; margin-top: 1; }
    _OpsScreen #note { color: $warning; }
    """

    _reload_pending = False

    @property
    def client(self) -> AsyncAlgoTradeClient:
        return self.app.client  # type: ignore[attr-defined, no-any-return]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.app.check_action(action, parameters)

    def on_mount(self) -> None:
        self.action_reload()

    def daemon_reconnected(self) -> None:
        self.action_reload()

    def live_event(self, topic: str, data: Any) -> None:
        if topic in self.TOPICS and not self._reload_pending:
            self._reload_pending = True
            self.set_timer(REFRESH_DELAY_SECONDS, self.action_reload)

    TOPICS: ClassVar[frozenset[str]] = frozenset()

    def action_reload(self) -> None:
        self._reload_pending = False
        self.reload()

    def reload(self) -> object:
        raise NotImplementedError

    def table(self, table_id: str, columns: tuple[str, ...]) -> DataTable[Any]:
        table = self.query_one(f"#{table_id}", DataTable)
        if not table.columns:
            table.add_columns(*columns)
        table.clear()
        return table

    def note(self, text: str) -> None:
        self.query_one("#note", Label).update(text)


ACCOUNT_COLUMNS = (
    "account",
    "day",
    "balance",
    "equity",
    "daily PnL",
    "fees",
    "trades",
    "trading",
    "locked by",
)
RULE_COLUMNS = ("account", "rule", "settings")
LOCKOUT_COLUMNS = ("account", "rule", "since", "until", "reason")
LOG_COLUMNS = ("time", "account", "kind", "rule", "action", "status", "message")


class RiskScreen(_OpsScreen):
    TOPICS = frozenset({"risk"})
    BINDINGS: ClassVar[list[BindingType]] = [Binding("u", "unlock", "Unlock account")]

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with VerticalScroll():
            yield Label("", id="note")
            yield Static("Accounts", classes="section")
            yield DataTable(id="accounts", cursor_type="row")
            yield Static("Rules", classes="section")
            yield DataTable(id="rules", cursor_type="row")
            yield Static("Active lockouts", classes="section")
            yield DataTable(id="lockouts", cursor_type="row")
            yield Static(f"Enforcement log (newest {LOG_LINES})", classes="section")
            yield DataTable(id="log", cursor_type="row")
        yield Footer()

    @work(exclusive=True, group="risk")
    @while_shown
    async def reload(self) -> None:
        try:
            accounts = await self.client.risk_accounts()
            lockouts = await self.client.risk_lockouts(limit=1000)
            first = await self.client.risk_enforcements(limit=1)
            offset = max(int(first.get("total", 0)) - LOG_LINES, 0)
            log = await self.client.risk_enforcements(offset=offset, limit=LOG_LINES)
        except ApiError as exc:
            if exc.code == "risk_disabled":
                self.note("The account risk engine is not configured on this daemon.")
            else:
                self.note(f"{exc.status} {exc.code}: {exc.message}")
            return
        except ClientError as exc:
            self.note(one_line(str(exc)))
            return
        self.note("")
        table = self.table("accounts", ACCOUNT_COLUMNS)
        for a in accounts:
            trading = "ok" if a.get("can_trade") and a.get("connected") else "restricted"
            table.add_row(
                str(a.get("account_id")),
                str(a.get("trading_day", "")),
                money(a.get("balance")),
                money(a.get("equity")),
                money(a.get("daily_realized_pnl"), signed=True),
                money(a.get("daily_fees")),
                str(a.get("trades_today", "")),
                trading if trading == "ok" else f"[red]{trading}[/]",
                ", ".join(str(lock.get("rule")) for lock in a.get("lockouts") or []),
                key=str(a.get("account_id")),
            )
        rules = self.table("rules", RULE_COLUMNS)
        for a in accounts:
            for name, settings in (a.get("rules") or {}).items():
                rules.add_row(str(a.get("account_id")), name, _settings(settings))
        locks = self.table("lockouts", LOCKOUT_COLUMNS)
        for lock in lockouts.get("items") or []:
            locks.add_row(
                str(lock.get("account_id")),
                str(lock.get("rule")),
                str(lock.get("start_at") or ""),
                str(lock.get("until_at") or lock.get("until_kind") or ""),
                one_line(lock.get("reason", ""), 80),
            )
        lines = self.table("log", LOG_COLUMNS)
        for line in reversed(log.get("items") or []):
            lines.add_row(
                clock(line.get("timestamp")),
                str(line.get("account_id", "")),
                str(line.get("kind", "")),
                str(line.get("rule") or ""),
                " ".join(str(p) for p in (line.get("action"), line.get("symbol")) if p),
                str(line.get("status") or ""),
                one_line(line.get("message", ""), 80),
            )

    def action_unlock(self) -> None:
        table = self.query_one("#accounts", DataTable)
        if not table.row_count:
            return
        account = str(table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value)
        screen = ConfirmScreen(f"Clear every lockout of account {account}?", with_reason=True)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._unlock(account, screen.reason)

        self.app.push_screen(screen, confirmed)

    @work(group="unlock")
    @while_shown
    async def _unlock(self, account: str, reason: str) -> None:
        try:
            answer = await self.client.risk_unlock(account, reason)
        except ClientError as exc:
            self.notify(f"unlock {account}: {one_line(str(exc))}", severity="error")
            return
        cleared = answer.get("cleared") or []
        self.notify(
            f"{account}: cleared {', '.join(cleared)}"
            if cleared
            else f"{account}: no active lockout"
        )
        self.action_reload()


VENUE_COLUMNS = (
    "venue",
    "network",
    "account",
    "connected",
    "reconciled",
    "reason",
    "mismatches",
    "foreign orders",
    "pending fills",
)
BLOCK_COLUMNS = ("venue", "symbol", "reason")
ALERT_COLUMNS = ("time", "source", "subject", "level", "message")


class VenuesScreen(_OpsScreen):
    TOPICS = frozenset({"venues"})

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with VerticalScroll():
            yield Label("", id="note")
            yield Static("Connections and reconciliation", classes="section")
            yield DataTable(id="venues", cursor_type="row")
            yield Static("Blocked symbols", classes="section")
            yield DataTable(id="blocked", cursor_type="row")
            yield Static("Alerts", classes="section")
            yield DataTable(id="alerts", cursor_type="row")
        yield Footer()

    @work(exclusive=True, group="venues")
    @while_shown
    async def reload(self) -> None:
        try:
            venues = await self.client.venues()
            summary = await self.client.summary()
        except ClientError as exc:
            self.note(one_line(str(exc)))
            return
        self.note("" if venues else "No bot uses a live venue (paper bots have no connection).")
        table = self.table("venues", VENUE_COLUMNS)
        blocked = self.table("blocked", BLOCK_COLUMNS)
        for v in venues:
            last = v.get("last_reconcile") or {}
            table.add_row(
                str(v.get("venue", "")),
                str(v.get("network", "")),
                str(v.get("account", "")),
                "[green]yes[/]" if v.get("connected") else "[red]no[/]",
                clock(last.get("at")),
                str(last.get("reason", "")),
                _count(last.get("mismatches")),
                _count(last.get("foreign_orders")),
                _count(v.get("pending_fills")),
            )
            for symbol, reason in (v.get("blocked") or {}).items():
                blocked.add_row(str(v.get("venue", "")), str(symbol), one_line(reason, 100))
        alerts = self.table("alerts", ALERT_COLUMNS)
        for alert in summary.get("alerts") or []:
            alerts.add_row(
                clock(alert.get("timestamp")),
                str(alert.get("source", "")),
                str(alert.get("subject", "")),
                str(alert.get("level", "")),
                one_line(alert.get("message", ""), 100),
            )


def _count(value: Any) -> str:
    if isinstance(value, list | tuple | dict):
        return str(len(value))
    return "" if value is None else str(value)


def _settings(settings: Any) -> str:
    if isinstance(settings, Mapping):
        return one_line(json.dumps(settings, sort_keys=True, default=str), 120)
    return one_line(str(settings), 120)
