"""``algotrade doctor``: check an install before (or while) the daemon runs; say what to fix.

Every check gives one ``Finding`` per thing it looked at: ``ok``, ``warn`` (the daemon runs,
but something is off) or ``FAIL`` (the daemon will not start or will not work), and for warn
and FAIL what to do. Checks never change anything: the data directory and the database are
only looked at (SQLite is opened read-only), nothing is created or migrated. Every check that
waits on the network has a timeout; the venue checks run side by side, so an unreachable
venue costs one timeout, not one per venue.

The checks by noun: ``doctor_files`` (data and log directories, secret files, free disk),
``doctor_database`` (reachable, at the Alembic head), ``doctor_network`` (the API port,
each venue's REST base URL and the clock against it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from algotrade.core.errors import AlgoTradeError

DEFAULT_TIMEOUT_S = 5.0


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: which check, what it found and, unless ok, what to do."""

    level: Level
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.check}: {self.message}"
        if self.level is not Level.OK and self.fix:
            text += f"; fix: {self.fix}"
        return f"{self.level.value:<4}  {' '.join(text.split())}"  # one line, whatever it quotes


def ok(check: str, message: str) -> Finding:
    return Finding(Level.OK, check, message)


def warn(check: str, message: str, fix: str) -> Finding:
    return Finding(Level.WARN, check, message, fix)


def fail(check: str, message: str, fix: str) -> Finding:
    return Finding(Level.FAIL, check, message, fix)


def _disk_free(path: Path) -> int:
    import shutil  # noqa: PLC0415

    return shutil.disk_usage(path).free


def _writable(path: Path) -> bool:
    # A folder also needs x to create files in it.
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))


@dataclass(frozen=True, slots=True)
class DoctorInputs:
    """What ``algotrade doctor`` was given, and the readings tests replace.

    ``free_bytes`` reads the free space of a folder's file system; ``writable`` says whether
    this user may write a file or create files in a folder (``os.access``: root always may)."""

    config_file: Path | None
    env: Mapping[str, str]
    overrides: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    free_bytes: Callable[[Path], int] = _disk_free
    writable: Callable[[Path], bool] = _writable


def run_doctor(inputs: DoctorInputs) -> list[Finding]:
    """Every check, in the order they are printed."""
    from algotrade.daemon import doctor_database, doctor_files, doctor_network  # noqa: PLC0415

    settings, config_finding = check_config(inputs)
    findings = [config_finding]
    findings += doctor_files.check_secret_files(inputs.env, settings)
    if settings is None:
        return findings  # everything else reads the settings
    findings += doctor_files.check_data_dir(settings.daemon.data_dir, inputs.writable)
    findings += doctor_files.check_log_dir(settings.daemon.data_dir / "logs", inputs.writable)
    findings.append(doctor_files.check_disk(settings.daemon.data_dir, inputs.free_bytes))
    findings.append(doctor_database.check_database(settings.database_url, inputs.timeout_s))
    findings.append(doctor_network.check_port(settings, inputs.timeout_s))
    findings += doctor_network.check_venues(settings, inputs.timeout_s)
    return findings


def check_config(inputs: DoctorInputs) -> tuple[Any, Finding]:
    """(the settings or None, the finding): the daemon's own loading, ``*_FILE`` included, and
    its own start-up checks (keys, risk files, ``[[bots]]``, bind address)."""
    from algotrade.daemon.preflight import preflight  # noqa: PLC0415
    from algotrade.daemon.secret_env import with_secret_files  # noqa: PLC0415
    from algotrade.daemon.settings import load_settings  # noqa: PLC0415

    try:
        env = with_secret_files(inputs.env)
        settings = load_settings(inputs.config_file, env, inputs.overrides)
        preflight(settings, env)
    except AlgoTradeError as exc:
        return None, fail(
            "config",
            str(exc),
            "correct the setting named above (docs/configuration.md); "
            "the other checks need a valid configuration",
        )
    where = str(inputs.config_file) if inputs.config_file is not None else "no --config file"
    return settings, ok(
        "config",
        f"{where}: valid ({len(settings.venues)} venue section(s), {len(settings.bots)} bot(s))",
    )


def summary(findings: list[Finding]) -> str:
    failed = sum(f.level is Level.FAIL for f in findings)
    warned = sum(f.level is Level.WARN for f in findings)
    if not failed and not warned:
        return f"all {len(findings)} checks ok"
    return f"{failed} FAIL, {warned} warn, {len(findings) - failed - warned} ok"


def exit_code(findings: list[Finding]) -> int:
    """0 unless a check failed (warnings do not stop the daemon)."""
    return 1 if any(f.level is Level.FAIL for f in findings) else 0
