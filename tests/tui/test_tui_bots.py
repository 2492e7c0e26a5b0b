"""The TUI against a real daemon: the bots table fills, follows fills live, and the keyboard
starts, pauses, resumes and stops a bot (checked over the API too)."""

from __future__ import annotations

from pathlib import Path

from tui_kit import bot_status, daemon_with_bots, make_app, select_bot, shown_cell, until

from algotrade.tui.bot_screen import BotScreen
from testkit.daemon_process import DaemonProcess


def api_state(daemon: DaemonProcess, bot_id: str) -> str:
    return str(daemon.ok("GET", f"/api/bots/{bot_id}")["status"]["state"])


async def test_table_fills_follows_fills_and_keys_control_bots(tmp_path: Path) -> None:
    with daemon_with_bots(tmp_path, "alpha", "beta", "gamma") as daemon:
        app = make_app(daemon)
        async with app.run_test(size=(200, 50)) as pilot:
            table = app.bots_screen.table
            await until(pilot, lambda: table.row_count == 3, "three rows")
            assert shown_cell(app, "beta", "state") == "stopped"
            assert shown_cell(app, "beta", "mode") == "SIM"
            await until(pilot, lambda: app.role == "admin", "the admin role")
            assert "connected" in str(app.link)
            assert app.link.connected

            # start from the keyboard: the daemon says running, and so does the table
            await select_bot(pilot, app, "alpha")
            await pilot.press("s")
            await until(pilot, lambda: api_state(daemon, "alpha") == "running", "alpha running")
            await until(
                pilot, lambda: shown_cell(app, "alpha", "state") == "running", "row shows running"
            )

            # a fill happens (the sim bot trades): the row follows, no reload
            await until(
                pilot,
                lambda: int(bot_status(app, "alpha").get("fill_count") or 0) > 0,
                "a fill of alpha in the table",
                timeout=25,
            )
            assert shown_cell(app, "alpha", "last_fill") != "–"
            api_fills = daemon.ok("GET", "/api/bots/alpha")["status"]["fill_count"]
            assert api_fills >= 1

            await pilot.press("p")
            await until(pilot, lambda: api_state(daemon, "alpha") == "paused", "alpha paused")
            await until(pilot, lambda: shown_cell(app, "alpha", "state") == "paused", "paused row")
            await pilot.press("r")
            await until(pilot, lambda: api_state(daemon, "alpha") == "running", "alpha resumed")
            await pilot.press("x")
            await until(pilot, lambda: api_state(daemon, "alpha") == "stopped", "alpha stopped")
            await until(pilot, lambda: shown_cell(app, "alpha", "state") == "stopped", "row")

            # enter opens the bot's screen, with its bars charted; escape comes back
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, BotScreen), "the bot screen")
            screen = app.screen
            assert isinstance(screen, BotScreen)
            await until(pilot, lambda: len(screen.bars) > 0, "bars of alpha")
            await until(pilot, lambda: len(screen.fills) > 0, "fills of alpha")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.bots_screen, "back to the bots")

            # filter and sort
            await pilot.press("slash", "g", "a", "m")
            await until(pilot, lambda: table.row_count == 1, "the filter leaving gamma")
            assert table.selected_bot() == "gamma"
