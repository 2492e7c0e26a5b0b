"""One bot: its price chart (bars, fills as markers, open orders as lines), equity curve,
orders, fills, positions, log stream and config. Live from a WebSocket stream of that bot
(status, orders, fills, logs, bars); equity, positions and config come over REST on connect
and after fills.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static, TabbedContent, TabPane

from algotrade.client import AsyncAlgoTradeClient, ClientError
from algotrade.tui.bots_screen import BOT_ACTION_BINDINGS, BotActions
from algotrade.tui.chart import ChartData, ChartView, fill_markers, order_levels
from algotrade.tui.format import (
    LEVEL_STYLES,
    SIDE_STYLES,
    STATE_STYLES,
    clock,
    mode_label,
    money,
    number,
    one_line,
    position_text,
)
from algotrade.tui.header import SummaryBar
from algotrade.tui.live import LinkState, LiveStream
from algotrade.tui.screen_work import while_shown

BOT_TOPICS = ("status", "orders", "fills", "logs", "bars")
MAX_BARS = 1000
MAX_RECORDS = 500
EQUITY_POINTS = 500
ORDER_COLUMNS = ("time", "id", "side", "type", "qty", "price", "status", "filled", "avg", "reason")
FILL_COLUMNS = ("time", "trade", "side", "qty", "price", "fee", "liquidity")
POSITION_COLUMNS = ("symbol", "qty", "avg price", "realized", "fees")


def order_row(order: Mapping[str, Any]) -> tuple[str, ...]:
    price = order.get("limit_price") or order.get("stop_price")
    return (
        clock(order.get("updated_at") or order.get("created_at")),
        str(order.get("client_order_id", "")),
        f"[{SIDE_STYLES.get(str(order.get('side')), '')}]{order.get('side', '')}[/]",
        str(order.get("type", "")),
        str(order.get("qty", "")),
        "–" if price is None else str(price),
        str(order.get("status", "")),
        str(order.get("filled_qty", "")),
        str(order.get("avg_fill_price", "")),
        one_line(order.get("reason") or "", 60),
    )


def fill_row(fill: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        clock(fill.get("timestamp")),
        str(fill.get("trade_id", "")),
        f"[{SIDE_STYLES.get(str(fill.get('side')), '')}]{fill.get('side', '')}[/]",
        str(fill.get("qty", "")),
        str(fill.get("price", "")),
        str(fill.get("fee", "")),
        str(fill.get("liquidity", "")),
    )


class BotScreen(BotActions, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        *BOT_ACTION_BINDINGS,
    ]
    DEFAULT_CSS = """
    BotScreen #status { height: auto; padding: 0 1; }
    BotScreen #price { height: 2fr; }
    BotScreen #equity { height: 1fr; }
    BotScreen TabbedContent { height: 1fr; }
    BotScreen #config { padding: 0 1; }
    """

    def __init__(self, bot_id: str) -> None:
        super().__init__()
        self.bot_id = bot_id
        self.status: dict[str, Any] = {}
        self.bars: list[dict[str, Any]] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.fills: dict[str, dict[str, Any]] = {}
        self.equity: list[float] = []
        self.stream: LiveStream | None = None

    @property
    def client(self) -> AsyncAlgoTradeClient:
        return self.app.client  # type: ignore[no-any-return]

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        yield Static(f"[b]{self.bot_id}[/b]", id="status")
        with TabbedContent(id="tabs"):
            with TabPane("Chart", id="tab-chart"):
                yield ChartView("price (▲ buy ▼ sell, ┄ open orders)", id="price")
                yield ChartView("equity", id="equity")
            with TabPane("Orders", id="tab-orders"):
                yield DataTable(id="orders", cursor_type="row")
            with TabPane("Fills", id="tab-fills"):
                yield DataTable(id="fills", cursor_type="row")
            with TabPane("Positions", id="tab-positions"):
                yield DataTable(id="positions", cursor_type="row")
            with TabPane("Logs", id="tab-logs"):
                yield RichLog(id="logs", max_lines=2000, wrap=True, markup=False)
            with TabPane("Config", id="tab-config"):
                yield Static("", id="config")
        yield Footer()

    def on_mount(self) -> None:
        for table_id, columns in (
            ("#orders", ORDER_COLUMNS),
            ("#fills", FILL_COLUMNS),
            ("#positions", POSITION_COLUMNS),
        ):
            self.query_one(table_id, DataTable).add_columns(*columns)
        self.stream = LiveStream(
            self.client, BOT_TOPICS, self.stream_message, self.stream_link, self.bot_id
        )
        self.run_worker(self.stream.run(), name=f"bot-stream-{self.bot_id}", group="bot-stream")

    def on_unmount(self) -> None:
        if self.stream is not None:
            self.stream.stop()

    def stream_link(self, link: LinkState) -> None:
        if link.connected:
            self.refresh_rest()
        elif link.retry_in == 0 and "not_found" in link.reason:
            self.notify(f"{self.bot_id}: {link.reason}", severity="warning")

    # -- live messages ------------------------------------------------------------------------

    def stream_message(self, message: dict[str, Any]) -> None:
        kind, topic, data = message.get("type"), message.get("topic"), message.get("data")
        if kind == "snapshot" and isinstance(data, list):
            if topic == "bars":
                self.bars = [b for b in data if isinstance(b, dict)][-MAX_BARS:]
            elif topic == "orders":
                self.orders = {
                    str(o.get("client_order_id")): o for o in data if isinstance(o, dict)
                }
            elif topic == "fills":
                self.fills = {str(f.get("trade_id")): f for f in data if isinstance(f, dict)}
            elif topic == "logs":
                log = self.query_one("#logs", RichLog)
                log.clear()
                for line in data:
                    self._log(line)
            elif topic == "status" and data:
                self.show_status(data[0])
            self.redraw()
            return
        if kind != "event" or not isinstance(data, dict):
            return
        if topic == "status":
            if data.get("deleted"):
                self.notify(f"{self.bot_id} was deleted")
                return
            self.show_status(data)
        elif topic == "bars":
            if self.bars and self.bars[-1].get("ts") == data.get("ts"):
                self.bars[-1] = data
            else:
                self.bars.append(data)
                del self.bars[:-MAX_BARS]
            self.redraw_chart()
        elif topic == "orders":
            self.orders[str(data.get("client_order_id"))] = data
            self.redraw()
        elif topic == "fills":
            self.fills[str(data.get("trade_id"))] = data
            self.redraw()
            self.refresh_rest()  # equity and positions move with fills
        elif topic == "logs":
            self._log(data)

    def _log(self, line: Any) -> None:
        if not isinstance(line, Mapping):
            return
        level = str(line.get("level", "info"))
        style = LEVEL_STYLES.get(level, "")
        when, kind = clock(line.get("timestamp")), line.get("kind", "")
        text = f"{when} {level:<7} {kind}: {one_line(line.get('message', ''), 500)}"
        self.query_one("#logs", RichLog).write(Text(text, style=style))

    def show_status(self, status: Mapping[str, Any]) -> None:
        self.status = dict(status)
        state = str(status.get("state", "?"))
        style = STATE_STYLES.get(state, "")
        parts = [
            f"[b]{self.bot_id}[/b]",
            f"[{style}]{state}[/]" if style else state,
            f"{status.get('strategy', '')} {status.get('symbol', '')} {status.get('interval', '')}",
            f"{status.get('venue', '')} {mode_label(status)}",
            f"position {position_text(status)}",
            f"equity {money(status.get('equity'))}",
            f"today {money(status.get('pnl_today'), signed=True)}",
            f"orders {status.get('order_count', 0)} fills {status.get('fill_count', 0)}",
        ]
        if status.get("last_error"):
            parts.append(f"[red]{one_line(status['last_error'], 120)}[/]")
        if status.get("blocked"):
            parts.append(f"[bold red]blocked: {one_line(status['blocked'], 120)}[/]")
        self.query_one("#status", Static).update("  ".join(parts))

    # -- drawing ------------------------------------------------------------------------------

    def redraw(self) -> None:
        self.redraw_chart()
        orders = sorted(
            self.orders.values(), key=lambda o: int(o.get("updated_ts") or 0), reverse=True
        )
        _fill_table(
            self.query_one("#orders", DataTable), [order_row(o) for o in orders[:MAX_RECORDS]]
        )
        fills = sorted(self.fills.values(), key=lambda f: int(f.get("ts") or 0), reverse=True)
        _fill_table(self.query_one("#fills", DataTable), [fill_row(f) for f in fills[:MAX_RECORDS]])

    def redraw_chart(self) -> None:
        fills = list(self.fills.values())
        self.query_one("#price", ChartView).show(
            ChartData(self.bars, fill_markers(fills), order_levels(list(self.orders.values())))
        )
        self.query_one("#equity", ChartView).show(ChartData(values=self.equity))

    @work(exclusive=True, group="bot-rest")
    @while_shown
    async def refresh_rest(self) -> None:
        """Equity curve, positions and config (not streamed)."""
        try:
            page = await self.client.equity(self.bot_id, limit=EQUITY_POINTS, newest_first=True)
            positions = await self.client.positions(self.bot_id)
            detail = await self.client.get_bot(self.bot_id)
        except ClientError as exc:
            self.notify(f"{self.bot_id}: {one_line(str(exc))}", severity="warning")
            return
        points = [number(p.get("equity")) for p in reversed(page.get("items") or [])]
        self.equity = [p for p in points if p is not None]
        _fill_table(
            self.query_one("#positions", DataTable),
            [
                (
                    str(p.get("symbol", "")),
                    str(p.get("qty", "")),
                    str(p.get("avg_price", "")),
                    money(p.get("realized_pnl"), signed=True),
                    str(p.get("fees", "")),
                )
                for p in positions
            ],
        )
        config = detail.get("config") or {}
        self.query_one("#config", Static).update(
            _json_text(json.dumps(config, indent=2, sort_keys=True))
        )
        self.show_status(detail.get("status") or self.status)
        self.redraw_chart()


def _json_text(text: str) -> Syntax:
    return Syntax(text, "json", theme="ansi_dark", background_color="default")


def _fill_table(table: DataTable[Any], rows: list[tuple[str, ...]]) -> None:
    table.clear()
    table.add_rows(rows)
