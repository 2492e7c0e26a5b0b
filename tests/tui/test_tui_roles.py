"""A trader key sees no mutating action: not in the bindings, the footer or the palette; an
admin key sees them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.command import CommandPalette
from tui_kit import daemon_with_bots, make_app, select_bot, until

from algotrade.tui.app import MUTATING_ACTIONS, AlgoTradeApp
from algotrade.tui.bot_screen import BotScreen
from testkit.api_harness import ADMIN_KEY, TRADER_KEY


def active_actions(app: AlgoTradeApp) -> set[str]:
    return {binding.action for _, binding, _, _ in app.screen.active_bindings.values()}


def palette_names(app: AlgoTradeApp) -> list[str]:
    return [name for name, _, _ in app.palette_commands()]


async def palette_hits(pilot: Any, app: AlgoTradeApp, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*query)
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    await pilot.pause(0.5)  # the palette searches in the background; nothing to poll for
    options = palette.query_one("CommandList")
    hits = [str(option.prompt) for option in options._options]  # type: ignore[attr-defined]
    await pilot.press("escape")
    return hits


async def test_trader_key_has_no_mutating_action(tmp_path: Path) -> None:
    with daemon_with_bots(tmp_path, "alpha") as daemon:
        app = make_app(daemon, TRADER_KEY)
        async with app.run_test(size=(200, 50)) as pilot:
            await until(pilot, lambda: app.role == "trader", "the trader role")
            await select_bot(pilot, app, "alpha")
            assert not active_actions(app) & MUTATING_ACTIONS
            footer = {b.action for _, b, enabled, _ in app.screen.active_bindings.values()}
            assert not footer & MUTATING_ACTIONS
            names = palette_names(app)
            assert "Open alpha" in names
            assert not [n for n in names if n.split()[0] in ("Start", "Stop", "Create", "Delete")]
            assert not await palette_hits(pilot, app, "start")
            await pilot.press("s")  # the key does nothing for a trader
            await pilot.press("n")
            assert app.screen is app.bots_screen
            assert daemon.ok("GET", "/api/bots/alpha")["status"]["state"] == "stopped"

            app.open_bot("alpha")
            await until(pilot, lambda: isinstance(app.screen, BotScreen), "the bot screen")
            assert not active_actions(app) & MUTATING_ACTIONS
            await pilot.press("2")
            await until(pilot, lambda: type(app.screen).__name__ == "RiskScreen", "risk screen")
            assert "unlock" not in active_actions(app)


async def test_admin_key_has_the_actions(tmp_path: Path) -> None:
    with daemon_with_bots(tmp_path, "alpha") as daemon:
        app = make_app(daemon, ADMIN_KEY)
        async with app.run_test(size=(200, 50)) as pilot:
            await until(pilot, lambda: app.role == "admin", "the admin role")
            await select_bot(pilot, app, "alpha")
            assert {"start", "stop", "pause", "resume", "delete", "create"} <= active_actions(app)
            names = palette_names(app)
            assert {"Start alpha", "Delete alpha", "Create bot"} <= set(names)
            assert any("Start alpha" in hit for hit in await palette_hits(pilot, app, "start"))
