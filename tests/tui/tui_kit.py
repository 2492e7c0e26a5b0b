"""What the TUI tests share: a real daemon with admin and trader keys and sim bots, and polling
the app (no sleeps as synchronisation: every wait has a deadline and says what it waited for)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from algotrade.tui.app import AlgoTradeApp
from algotrade.tui.header import SummaryBar
from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess

KEYS_ENV = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"}
SIZE = (200, 50)


def bot_config(bot_id: str, seed: int = 1) -> dict[str, Any]:
    return {
        "bot_id": bot_id,
        "symbol": "SIM-BTC",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 4},
        "feed": "sim",
        "feed_options": {"seed": seed, "tick_seconds": 0.05},
        "venue": "paper",
    }


def start_daemon(data_dir: Path, port: int | None = None) -> DaemonProcess:
    return DaemonProcess(data_dir, port, env=KEYS_ENV, api_key=ADMIN_KEY).start()


@contextmanager
def daemon_with_bots(tmp_path: Path, *bot_ids: str) -> Iterator[DaemonProcess]:
    daemon = start_daemon(tmp_path / "data")
    try:
        for number, bot_id in enumerate(bot_ids, start=1):
            daemon.ok("POST", "/api/bots", json=bot_config(bot_id, number))
        yield daemon
    finally:
        daemon.kill()


def make_app(daemon: DaemonProcess, key: str = ADMIN_KEY) -> AlgoTradeApp:
    return AlgoTradeApp(daemon.url, key, first_retry=0.2, max_retry=0.5)


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def header_text(app: AlgoTradeApp) -> str:
    return str(app.screen.query_one(SummaryBar).render())


def bot_status(app: AlgoTradeApp, bot_id: str) -> dict[str, Any]:
    return app.bots_screen.table.model.status(bot_id) or {}


def shown_cell(app: AlgoTradeApp, bot_id: str, column: str) -> str:
    table = app.bots_screen.table
    return str(table.get_cell(bot_id, column))


async def select_bot(pilot: Pilot[Any], app: AlgoTradeApp, bot_id: str) -> None:
    table = app.bots_screen.table
    await until(pilot, lambda: bot_id in table.model.shown, f"{bot_id} in the table")
    table.move_cursor(row=table.get_row_index(bot_id))
    table.focus()
    await pilot.pause()
    assert table.selected_bot() == bot_id
