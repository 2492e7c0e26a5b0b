"""``algotrade doctor``: check an install and print, per check, ok / warn / FAIL and what to fix.

Takes the configuration the way ``algotrade daemon`` does (``--config``, ``--data-dir``,
``--db-url``, the ``ALGOTRADE__…`` environment and ``*_FILE`` secrets), so it checks what the
daemon would run with. The checks live in ``daemon/doctor*.py``; see docs/doctor.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer


def doctor(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (see docs/configuration.md)")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="data directory (default ./data)")] = None,
    db_url: Annotated[
        str | None, typer.Option(help="database URL (default SQLite in the data dir)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="API port (default 8080)")] = None,
    timeout: Annotated[
        float,
        typer.Option(help="seconds each network check may wait (database, port, venues)", min=0.1),
    ] = 5.0,
) -> None:
    """Check config, permissions, database, venues, clock and disk; print what to fix.

    Exit 0 when no check FAILs (warnings included), 1 otherwise.
    """
    # Imported when run: the checks load the settings, the store and the venue registry.
    from algotrade.daemon.doctor import DoctorInputs, exit_code, run_doctor, summary  # noqa: PLC0415

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides.setdefault("daemon", {})["data_dir"] = data_dir
    if db_url is not None:
        overrides.setdefault("database", {})["url"] = db_url
    if port is not None:
        overrides.setdefault("api", {})["port"] = port
    findings = run_doctor(
        DoctorInputs(
            config_file=config, env=dict(os.environ), overrides=overrides, timeout_s=timeout
        )
    )
    for finding in findings:
        typer.echo(finding.line())
    typer.echo(summary(findings))
    raise typer.Exit(exit_code(findings))
