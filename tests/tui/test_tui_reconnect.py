"""Killing the daemon (SIGKILL) shows "disconnected — reconnecting"; a daemon started again on
the same port and data directory is found by itself and the data is fresh; nothing crashes."""

from __future__ import annotations

from pathlib import Path

from tui_kit import bot_config, header_text, make_app, start_daemon, until


async def test_disconnect_shows_and_recovers(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data")
    try:
        daemon.ok("POST", "/api/bots", json=bot_config("alpha"))
        app = make_app(daemon)
        async with app.run_test(size=(200, 50)) as pilot:
            table = app.bots_screen.table
            await until(pilot, lambda: table.row_count == 1, "alpha in the table")
            await until(pilot, lambda: "● connected" in header_text(app), "connected")

            daemon.kill()  # SIGKILL
            await until(pilot, lambda: "disconnected" in header_text(app), "disconnected shown")
            assert "reconnecting" in header_text(app)
            await pilot.press("2", "3", "1", "s", "down")  # screens and keys still work
            await until(pilot, lambda: "disconnected" in header_text(app), "still disconnected")

            daemon = start_daemon(tmp_path / "data", daemon.port)
            daemon.ok("POST", "/api/bots", json=bot_config("beta", 2))
            await until(pilot, lambda: app.link.connected, "reconnected", timeout=20)
            await until(pilot, lambda: "● connected" in header_text(app), "connected shown")
            # the snapshot on resubscribe refreshed the table: beta came while it was away
            await until(pilot, lambda: table.row_count == 2, "beta in the table")
            daemon.ok("PUT", "/api/bots/beta/start")
            await until(
                pilot,
                lambda: str(table.get_cell("beta", "state")) == "running",
                "live events again",
            )
        assert app.return_code in (None, 0)
    finally:
        daemon.kill()
