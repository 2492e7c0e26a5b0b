"""Doctor's file-system checks: data and log dirs, secret files, free disk (injected reading)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from algotrade.daemon.doctor import Finding, Level, _writable
from algotrade.daemon.doctor_files import (
    FAIL_FREE_BYTES,
    WARN_FREE_BYTES,
    check_data_dir,
    check_disk,
    check_log_dir,
    check_secret_files,
)
from algotrade.daemon.settings import load_settings


def as_this_user(path: Path) -> bool:
    """Whether an ordinary (non-root) owner may write ``path``. Root may write anything, so
    under root (this sandbox) the owner's mode bits stand in for the kernel's answer."""
    if os.geteuid() != 0:
        return _writable(path)
    mode = path.stat().st_mode
    needed = stat.S_IWUSR | (stat.S_IXUSR if path.is_dir() else 0)
    return mode & needed == needed


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_data_dir_writable_open_missing_and_unusable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = only(check_data_dir(data, as_this_user))
    assert created.level is Level.OK
    assert "does not exist yet; the daemon creates it" in created.line()

    data.mkdir(mode=0o700)
    data.chmod(0o700)
    assert only(check_data_dir(data, as_this_user)).level is Level.OK

    data.chmod(0o755)
    opened = only(check_data_dir(data, as_this_user))
    assert opened.level is Level.WARN
    assert opened.line() == (
        f"warn  data dir: {data} is open to group/others (mode 755); it holds the database "
        f"and the logs; fix: chmod 700 {data}"
    )

    data.chmod(0o500)
    try:
        locked = only(check_data_dir(data, as_this_user))
    finally:
        data.chmod(0o700)
    assert locked.level is Level.FAIL
    assert "is not writable by this user; fix: chown it" in locked.line()

    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "exists and is not a directory" in only(check_data_dir(a_file, as_this_user)).line()
    below = only(check_data_dir(a_file / "data", as_this_user))
    assert below.level is Level.FAIL
    assert f"cannot be created: {a_file} is not a directory" in below.line()

    parent = tmp_path / "readonly"
    parent.mkdir(mode=0o500)
    try:
        blocked = only(check_data_dir(parent / "data", as_this_user))
    finally:
        parent.chmod(0o700)
    assert blocked.level is Level.FAIL
    assert "cannot be created" in blocked.line()
    assert "mkdir -m 700" in blocked.line()


def test_log_dir_and_log_files_left_unwritable(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    assert only(check_log_dir(logs, as_this_user)).level is Level.OK  # created by the daemon
    logs.mkdir()
    (logs / "daemon.log").write_text("")
    (logs / "daemon.log.1").write_text("")
    assert only(check_log_dir(logs, as_this_user)).line() == f"ok    log dir: {logs} is writable"
    (logs / "daemon.log.1").chmod(0o400)  # as left by a run under another user
    stuck = only(check_log_dir(logs, as_this_user))
    assert stuck.level is Level.FAIL
    assert "daemon.log.1" in stuck.line()
    assert "daemon.log," not in stuck.line()
    assert "chown the log files" in stuck.line()

    not_dir = tmp_path / "logs2"
    not_dir.write_text("")
    assert only(check_log_dir(not_dir, as_this_user)).level is Level.FAIL


def secret(path: Path, mode: int, text: str = "s3cret-value") -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secret_files_named_by_variables(tmp_path: Path) -> None:
    good = secret(tmp_path / "db_url", 0o600)
    assert only(check_secret_files({"ALGOTRADE__DATABASE__URL_FILE": str(good)}, None)).line() == (
        "ok    secrets: 1 secret file(s), owner-only"
    )
    assert only(check_secret_files({"PATH": "/bin"}, None)).line() == (
        "ok    secrets: no secret files configured"
    )
    exposed = secret(tmp_path / "keys", 0o644)
    user = secret(tmp_path / "user", 0o644)
    venue_key = secret(tmp_path / "venue_key", 0o640)
    env = {
        "ALGOTRADE_API_KEYS_FILE": str(exposed),
        "ALGOTRADE_PROJECTX_USERNAME_FILE": str(user),  # not a secret: a warning only
        "ALGOTRADE_BYBIT_API_SECRET_FILE": str(venue_key),
        "ALGOTRADE__DATABASE__URL_FILE": str(tmp_path / "missing"),
        "OTHER_FILE": str(exposed),  # not ours
    }
    lines = [finding.line() for finding in check_secret_files(env, None)]
    assert lines == [
        f"FAIL  secrets: ALGOTRADE_API_KEYS_FILE: {exposed} is readable by group/others "
        f"(mode 644); fix: chmod 600 {exposed}",
        f"FAIL  secrets: ALGOTRADE_BYBIT_API_SECRET_FILE: {venue_key} is readable by "
        f"group/others (mode 640); fix: chmod 600 {venue_key}",
        f"warn  secrets: ALGOTRADE_PROJECTX_USERNAME_FILE: {user} is readable by group/others "
        f"(mode 644); fix: chmod 600 {user}",
        f"FAIL  secrets: ALGOTRADE__DATABASE__URL_FILE: {tmp_path / 'missing'} not found; "
        "fix: create it or unset the setting",
    ]
    assert all("s3cret" not in line for line in lines)


def test_secret_files_named_by_settings(tmp_path: Path) -> None:
    keys = secret(tmp_path / "keys.txt", 0o640, "admin:" + "k" * 32)
    wallet = secret(tmp_path / "hl.toml", 0o604)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[api]\nkeys_file = "{keys}"\n[venues.hyperliquid]\nsecrets_file = "{wallet}"\n'
    )
    settings = load_settings(config, {})
    lines = [finding.line() for finding in check_secret_files({}, settings)]
    assert lines == [
        f"FAIL  secrets: api.keys_file: {keys} is readable by group/others (mode 640); "
        f"fix: chmod 600 {keys}",
        f"FAIL  secrets: venues.hyperliquid.secrets_file: {wallet} is readable by "
        f"group/others (mode 604); fix: chmod 600 {wallet}",
    ]
    keys.chmod(0o600)
    wallet.chmod(0o400)
    assert only(check_secret_files({}, settings)).line() == (
        "ok    secrets: 2 secret file(s), owner-only"
    )


@pytest.mark.parametrize(
    ("free", "level", "text"),
    [
        (WARN_FREE_BYTES, Level.OK, "1.0 GiB free on"),
        (WARN_FREE_BYTES - 1, Level.WARN, "(below 1.0 GiB); fix: free disk space or move"),
        (FAIL_FREE_BYTES, Level.WARN, "100 MiB free on"),
        (FAIL_FREE_BYTES - 1, Level.FAIL, "(below 100 MiB); fix: free disk space now"),
        (0, Level.FAIL, "0 MiB free"),
    ],
)
def test_free_disk_thresholds(tmp_path: Path, free: int, level: Level, text: str) -> None:
    asked: list[Path] = []

    def reading(path: Path) -> int:
        asked.append(path)
        return free

    finding = check_disk(tmp_path / "data" / "not-yet", reading)
    assert finding.level is level
    assert text in finding.line()
    assert asked == [tmp_path]  # the nearest folder that exists


def test_free_disk_real_reading(tmp_path: Path) -> None:
    from algotrade.daemon.doctor import _disk_free

    assert _disk_free(tmp_path) > 0
    assert check_disk(tmp_path, _disk_free).line().startswith(("ok", "warn", "FAIL"))
