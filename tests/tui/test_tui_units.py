"""Fast tests of the TUI's pieces with fake data: formatting, the bots model and its batches,
the status queue, charts, form error mapping, the header and the reconnecting stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from algotrade.client import DaemonUnreachable
from algotrade.tui import format as fmt
from algotrade.tui.chart import Level, Marker, candles, fill_markers, line_chart, order_levels
from algotrade.tui.forms import convert, split_errors
from algotrade.tui.header import summary_text
from algotrade.tui.live import LinkState, LiveStream
from algotrade.tui.model import COLUMNS, BotsModel, StatusQueue, cell_text
from algotrade.tui.table import BotTable


def status(bot_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "bot_id": bot_id,
        "state": "running",
        "symbol": "SIM-BTC",
        "venue": "paper",
        "strategy": "ma_crossover",
        "simulated": True,
        "position": {},
        "equity": "10000",
        "pnl_today": "0",
        "heartbeat": "2026-01-01T00:00:00Z",
    }
    return {**base, **fields}


# -- format -------------------------------------------------------------------------------------


def test_format_money_ages_and_bad_values() -> None:
    assert fmt.money("12345.675") == "12,345.68"
    assert fmt.money("-0.005", signed=True) == "-0.01"
    assert fmt.money("3", signed=True) == "+3.00"
    assert fmt.money(None) == fmt.DASH
    assert fmt.money("abc") == "abc"
    assert fmt.number("nan") is None
    assert fmt.number("inf") is None
    assert fmt.number("1.5") == 1.5
    now = fmt.parse_iso("2026-01-01T00:01:05Z")
    assert now is not None
    assert fmt.age("2026-01-01T00:01:00Z", now) == "5s"
    assert fmt.age("2026-01-01T00:00:00Z", now + 3600) == "1h"
    assert fmt.age("garbage", now) == fmt.DASH
    assert fmt.position_text({"symbol": "X", "position": {"X": "0.5", "Y": "0"}}) == "0.5"
    assert fmt.mode_label({"simulated": False}) == "LIVE"


# -- model and batches --------------------------------------------------------------------------


def test_model_reports_changed_added_removed_and_resort() -> None:
    model = BotsModel()
    first = model.apply([status("b"), status("a")])
    assert sorted(first.added) == ["a", "b"]
    assert model.ordered_shown() == ["a", "b"]
    same = model.apply([status("a")])
    assert same.changed == ["a"]
    assert not same.resort
    model.set_sort("equity")
    moved = model.apply([status("b", equity="1")])
    assert moved.resort
    assert model.ordered_shown() == ["b", "a"]
    model.set_sort("equity")  # again: reversed
    assert model.ordered_shown() == ["a", "b"]
    gone = model.apply([{"bot_id": "a", "deleted": True}, {"no": "id"}])
    assert gone.removed == ["a"]
    assert len(model) == 1
    with pytest.raises(ValueError, match="unknown column"):
        model.set_sort("nope")


def test_filter_moves_rows_in_and_out() -> None:
    model = BotsModel()
    model.apply([status("alpha"), status("beta", state="stopped")])
    model.set_filter("STOP")
    assert model.shown == {"beta"}
    out = model.apply([status("beta", state="running")])
    assert out.removed == ["beta"]
    back = model.apply([status("alpha", state="stopped")])
    assert back.added == ["alpha"]


def test_cells_render_from_the_latest_status() -> None:
    model = BotsModel()
    model.apply([status("a", pnl_today="-1.5", blocked="position mismatch")])

    def cell(key: str) -> Text:
        column = next(c for c in COLUMNS if c.key == key)
        return cell_text(column, model.status("a") or {}, 0.0)

    assert str(cell("pnl_today")) == "-1.50"
    assert cell("pnl_today").style == "red"
    assert str(cell("state")) == "running blocked"
    model.apply([status("a", pnl_today="2")])
    assert str(cell("pnl_today")) == "+2.00"
    model.apply([status("a", equity={"not": "money"})])
    assert str(cell("equity"))  # shown as it came, never raised


def test_status_queue_keeps_the_newest_per_bot() -> None:
    queue = StatusQueue()
    queue.put(status("a", equity="1"))
    queue.put(status("b"))
    queue.put(status("a", equity="2"))
    queue.put({"bot_id": None})
    assert len(queue) == 2
    drained = queue.drain()
    assert [s["bot_id"] for s in drained] == ["b", "a"]
    assert drained[1]["equity"] == "2"
    assert not queue


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BotTable()


async def test_table_applies_batches_of_many_bots() -> None:
    app = _TableApp()
    async with app.run_test(size=(200, 30)) as pilot:
        table = app.query_one(BotTable)
        table.load([status(f"bot-{i:04d}") for i in range(2000)])
        assert table.row_count == 2000
        result = table.apply_status_batch(
            [status(f"bot-{i:04d}", equity=str(20000 + i)) for i in range(2000)]
        )
        assert len(result.changed) == 2000
        assert str(table.get_cell("bot-0007", "equity")) == "20,007.00"
        table.move_cursor(row=table.get_row_index("bot-0100"))
        table.sort_by("equity")
        table.sort_by("equity")  # descending now
        assert table.selected_bot() == "bot-0100"  # the cursor stays on its bot
        assert table.get_row_index("bot-1999") == 0
        table.apply_status_batch([status("new-bot"), {"bot_id": "bot-0000", "deleted": True}])
        assert table.row_count == 2000
        table.set_filter("new-")
        assert table.row_count == 1
        table.tick()
        await pilot.pause()


# -- charts -------------------------------------------------------------------------------------


def test_candles_markers_and_order_lines() -> None:
    bars = [
        {"ts": i * 60, "open": 100 + i, "high": 102 + i, "low": 99 + i, "close": 101 + i}
        for i in range(30)
    ]
    markers = fill_markers([{"ts": 65, "price": "101.5", "side": "buy"}, {"side": "x"}])
    levels = order_levels(
        [{"status": "accepted", "limit_price": "110", "side": "sell"}, {"status": "filled"}]
    )
    assert markers == [Marker(65, 101.5, "buy")]
    assert levels == [Level(110.0, "sell")]
    lines = candles(bars, width=50, height=12, markers=markers, levels=levels)
    text = "\n".join(line.plain for line in lines)
    assert len(lines) == 12
    assert "▲" in text
    assert "┄" in text
    assert "█" in text
    assert "▲" not in "".join(x.plain for x in candles(bars, 40, 12, markers))  # scrolled off
    assert candles([], 40, 10)[0].plain == "no bars yet"
    assert candles([{"open": "x"}], 40, 10)[0].plain == "no bars yet"
    flat = line_chart([5.0, 5.0, 5.0], 20, 4)
    assert len(flat) == 4
    assert line_chart([], 20, 4)[0].plain == "no data yet"


# -- forms --------------------------------------------------------------------------------------


def test_api_errors_land_on_their_fields() -> None:
    fields = {"bot_id", "symbol", "fast", "slow", "feed_options"}
    per_field, general = split_errors(
        "body.params.fast: Input should be greater than 0; body.bot_id: String should match "
        "pattern; something else entirely",
        fields,
    )
    assert per_field["fast"].startswith("body.params.fast")
    assert "bot_id" in per_field
    assert general == ["something else entirely"]
    per_field, _ = split_errors("strategy parameters: slow must be greater than fast", fields)
    assert "slow" in per_field
    message = "strategy ma_crossover: parameter 'fast': input should be >= 1 (got 0)"
    per_field, _ = split_errors(message, fields | {"strategy"})
    assert list(per_field) == ["fast"]
    assert convert("3", {"type": "integer"}) == 3
    assert convert("x", {"type": "integer"}) == "x"
    assert convert("0.5", {"type": "number"}) == 0.5
    assert convert("yes", {"type": "boolean"}) is True
    assert convert(" 0.01 ", {"type": "string"}) == "0.01"


# -- header -------------------------------------------------------------------------------------


def test_header_says_disconnected_and_shows_alerts() -> None:
    down = summary_text(LinkState(False, "cannot reach", 2.0), None, None, "http://d")
    assert "disconnected — reconnecting in 2s" in down.plain
    summary = {
        "bots": 3,
        "states": {"running": 2, "stopped": 1},
        "equity": "30000",
        "pnl_today": "-5",
        "open_positions": 1,
        "lockouts": [{"account_id": "a"}],
        "alerts": [{"subject": "b1", "level": "error", "message": "boom\nagain"}],
    }
    up = summary_text(LinkState(True), "trader", summary, "http://d").plain
    assert "● connected" in up
    assert "[trader]" in up
    assert "2 running" in up
    assert "lockouts 1" in up
    assert "b1: boom again" in up


# -- the reconnecting stream --------------------------------------------------------------------


class _FlakyClient:
    """watch() fails twice (daemon away), then yields two messages and ends."""

    def __init__(self) -> None:
        self.calls = 0

    async def watch(self, topics: Any, bot_id: str = "*") -> AsyncGenerator[dict[str, Any], None]:
        self.calls += 1
        if self.calls <= 2:
            raise DaemonUnreachable("ws://x", "refused")
        yield {"type": "subscribed"}
        yield {"type": "snapshot", "topic": "status", "data": []}


async def test_stream_reconnects_with_backoff_and_survives_handler_errors() -> None:
    client = _FlakyClient()
    states: list[LinkState] = []
    messages: list[dict[str, Any]] = []

    def on_message(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "subscribed":
            raise RuntimeError("a bug in a screen")  # logged, the stream goes on
        stream.stop()

    stream = LiveStream(
        client,  # type: ignore[arg-type]
        ["status"],
        on_message,
        states.append,
        first_retry=0.01,
        max_retry=0.02,
    )
    await asyncio.wait_for(stream.run(), timeout=5)
    assert client.calls == 3
    assert [s.connected for s in states] == [False, False, True]
    assert states[0].retry_in == 0.01
    assert states[1].retry_in == 0.02
    assert "refused" in states[0].reason
    assert len(messages) == 2
