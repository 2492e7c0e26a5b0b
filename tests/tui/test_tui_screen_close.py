"""A screen closed while its data is still loading: the answers that arrive after it left are
dropped, and the app keeps running (the screen's worker must not die on widgets that are gone,
which ends the whole TUI)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tui_kit import daemon_with_bots, make_app, until

from algotrade.tui.bot_screen import BotScreen
from algotrade.tui.ops_screens import RiskScreen, VenuesScreen


def held(app: Any, name: str) -> asyncio.Event:
    """Make ``app.client.<name>`` wait until the returned event is set."""
    release = asyncio.Event()
    call = getattr(app.client, name)

    async def held_call(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await call(*args, **kwargs)

    setattr(app.client, name, held_call)
    return release


async def test_leaving_screens_while_they_load_keeps_the_app_running(tmp_path: Path) -> None:
    with daemon_with_bots(tmp_path, "alpha") as daemon:
        app = make_app(daemon)
        async with app.run_test(size=(200, 50)) as pilot:
            await until(pilot, lambda: app.role == "admin", "the admin role")
            for client_call, open_screen, screen_type in (
                ("equity", lambda: app.open_bot("alpha"), BotScreen),
                ("risk_accounts", app.action_show_risk, RiskScreen),
                ("venues", app.action_show_venues, VenuesScreen),
            ):
                release = held(app, client_call)
                open_screen()
                await until(pilot, lambda t=screen_type: isinstance(app.screen, t), "the screen")
                await pilot.pause(0.2)  # its worker is now waiting for the held answer
                # The answer comes while the screen is being taken down (its widgets go
                # first, its workers are cancelled last).
                app.action_show_bots()
                release.set()
                await until(pilot, lambda: app.screen is app.bots_screen, "the bots screen")
                await pilot.pause(0.5)
                assert app.is_running, f"the app died after {screen_type.__name__} closed"
