"""``algotrade daemon`` (alias ``run``): the long-lived process that hosts the bots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from algotrade.cli.errors import fail

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "daemon" / "example_config.toml"


def daemon(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (see docs/configuration.md)")
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="use the bundled example config (simulated bots)")
    ] = False,
    host: Annotated[str | None, typer.Option(help="API host (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default 8080)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="data directory (default ./data)")] = None,
    db_url: Annotated[
        str | None, typer.Option(help="database URL (default SQLite in the data dir)")
    ] = None,
    resume_all: Annotated[
        bool, typer.Option("--resume-all", help="start every bot that was running")
    ] = False,
) -> None:
    """Run the bot daemon in the foreground (for systemd, Docker or a terminal)."""
    # Imported here: the daemon stack (FastAPI, uvicorn, SQLAlchemy) is heavy, and every other
    # command would pay for it at start-up.
    from algotrade.daemon.secret_env import with_secret_files  # noqa: PLC0415
    from algotrade.daemon.settings import load_settings  # noqa: PLC0415

    if example and config is not None:
        fail("--example and --config are exclusive")
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides.setdefault("api", {})["host"] = host
    if port is not None:
        overrides.setdefault("api", {})["port"] = port
    if data_dir is not None:
        overrides.setdefault("daemon", {})["data_dir"] = data_dir
    if resume_all:
        overrides.setdefault("daemon", {})["resume_all"] = True
    if db_url is not None:
        overrides.setdefault("database", {})["url"] = db_url
    # ALGOTRADE__…_FILE variables (Docker/systemd secrets) stand for their settings.
    env = with_secret_files(os.environ)
    settings = load_settings(EXAMPLE_CONFIG if example else config, env, overrides)
    # Only once the settings are read: a bad config is told without the daemon stack's second
    # of imports.
    from algotrade.daemon.lock import DataDirLocked  # noqa: PLC0415
    from algotrade.daemon.runtime import PortInUse, run_daemon  # noqa: PLC0415

    try:
        code = run_daemon(settings)
    except DataDirLocked as exc:
        fail(str(exc), 1)
    except PortInUse as exc:
        fail(str(exc), 1)
    raise typer.Exit(code)
