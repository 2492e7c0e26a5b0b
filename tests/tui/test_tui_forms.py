"""Create from the strategy's schema (a 422 lands on its field) and delete with a confirmation,
against a real daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Label, Select
from tui_kit import daemon_with_bots, make_app, select_bot, until

from algotrade.tui.forms import ConfirmScreen, CreateBotScreen


async def open_create_form(pilot: Any, app: Any) -> CreateBotScreen:
    """As an admin: a bot selected, ``n`` pressed, the form up with the strategies loaded."""
    await until(pilot, lambda: app.role == "admin", "the admin role")
    await select_bot(pilot, app, "alpha")
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, CreateBotScreen), "the form")
    form = app.screen
    assert isinstance(form, CreateBotScreen)
    await until(pilot, lambda: "ma_crossover" in form.strategies, "the strategies")
    return form


async def test_create_shows_field_errors_then_creates_and_delete_confirms(tmp_path: Path) -> None:
    with daemon_with_bots(tmp_path, "alpha") as daemon:
        app = make_app(daemon)
        async with app.run_test(size=(200, 50)) as pilot:
            form = await open_create_form(pilot, app)
            form.query_one("#strategy", Select).value = "ma_crossover"
            await until(pilot, lambda: bool(form.query("#input-fast")), "the parameter fields")
            form.query_one("#input-bot_id", Input).value = "newbot"
            form.query_one("#input-fast", Input).value = "0"
            form.submit()
            error = form.query_one("#error-fast", Label)
            await until(pilot, lambda: "fast" in str(error.render()), "the error on 'fast'")

            form.query_one("#input-fast", Input).value = "2"
            form.submit()
            await until(pilot, lambda: app.screen is app.bots_screen, "the form closed")
            assert daemon.ok("GET", "/api/bots/newbot")["config"]["params"]["fast"] == 2

            await select_bot(pilot, app, "newbot")
            await pilot.press("D")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
            await pilot.press("y")
            await until(
                pilot,
                lambda: daemon.call("GET", "/api/bots/newbot").status_code == 404,
                "newbot deleted",
            )
            await until(pilot, lambda: "newbot" not in app.bots_screen.table.model.shown, "row")


async def test_create_pressed_while_the_strategy_fields_are_built_says_so(tmp_path: Path) -> None:
    """Defect (a flaky CI run): Create pressed right after choosing a strategy read a
    parameter field not mounted yet, and the form's worker died with NoMatches."""
    with daemon_with_bots(tmp_path, "alpha") as daemon:
        app = make_app(daemon)
        async with app.run_test(size=(200, 50)) as pilot:
            form = await open_create_form(pilot, app)
            form.query_one("#input-bot_id", Input).value = "racer"
            await form.query_one("#params").remove_children()  # as a strategy change does
            form.submit()  # before the new strategy's fields exist
            error = form.query_one("#form-error", Label)
            await until(pilot, lambda: "still loading" in str(error.render()), "the message")
            assert daemon.call("GET", "/api/bots/racer").status_code == 404
            assert isinstance(app.screen, CreateBotScreen)
