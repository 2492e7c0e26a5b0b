"""Doctor checks of the file system: data and log directories, secret files, free disk."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from algotrade.daemon.doctor import Finding, fail, ok, warn
from algotrade.daemon.secret_env import file_variables, is_daemon_secret_var

if TYPE_CHECKING:
    from algotrade.daemon.settings import DaemonSettings

#: Free space on the data directory's file system below which doctor warns: the database,
#: logs (rotated, 10 MiB × 6 per file by default) and recordings grow there for months.
WARN_FREE_BYTES = 1024**3  # 1 GiB
#: ... and below which it fails: SQLite needs room for its WAL and a backup, a full disk
#: stops every write (orders are booked before they are sent).
FAIL_FREE_BYTES = 100 * 1024**2  # 100 MiB
_GROUP_OR_OTHERS = stat.S_IRWXG | stat.S_IRWXO
# Variables named like these hold a secret even outside the daemon's own settings.
_SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN")


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def check_data_dir(data_dir: Path, writable: Callable[[Path], bool]) -> list[Finding]:
    name = "data dir"
    if data_dir.is_dir():
        if not writable(data_dir):
            return [
                fail(
                    name,
                    f"{data_dir} is not writable by this user",
                    "chown it to the daemon's user (or set daemon.data_dir / --data-dir)",
                )
            ]
        mode = stat.S_IMODE(data_dir.stat().st_mode)
        if mode & _GROUP_OR_OTHERS:
            return [
                warn(
                    name,
                    f"{data_dir} is open to group/others (mode {mode:o}); it holds the "
                    "database and the logs",
                    f"chmod 700 {data_dir}",
                )
            ]
        return [ok(name, f"{data_dir} is writable")]
    if data_dir.exists() or data_dir.is_symlink():
        return [
            fail(
                name,
                f"{data_dir} exists and is not a directory",
                "move it away or point daemon.data_dir / --data-dir elsewhere",
            )
        ]
    parent = _nearest_existing(data_dir.parent)
    if not parent.is_dir():
        return [
            fail(
                name,
                f"{data_dir} cannot be created: {parent} is not a directory",
                "point daemon.data_dir / --data-dir at a folder path",
            )
        ]
    if not writable(parent):
        return [
            fail(
                name,
                f"{data_dir} does not exist and cannot be created ({parent} is not writable)",
                f"create it for the daemon's user (mkdir -m 700 {data_dir}; chown it)",
            )
        ]
    return [ok(name, f"{data_dir} does not exist yet; the daemon creates it (mode 700)")]


def check_log_dir(log_dir: Path, writable: Callable[[Path], bool]) -> list[Finding]:
    name = "log dir"
    if not log_dir.exists() and not log_dir.is_symlink():
        if log_dir.parent.is_dir() and not writable(log_dir.parent):
            return [fail(name, f"{log_dir} cannot be created", "fix the data dir (above)")]
        return [ok(name, f"{log_dir} is created by the daemon")]
    if not log_dir.is_dir():
        return [
            fail(
                name, f"{log_dir} is not a directory", f"move {log_dir} away; the daemon logs there"
            )
        ]
    if not writable(log_dir):
        return [
            fail(name, f"{log_dir} is not writable by this user", "chown it to the daemon's user")
        ]
    # A daemon once started as root leaves root-owned logs behind: the service user cannot
    # append to them and the next start fails.
    stuck = [path.name for path in sorted(log_dir.glob("*.log*")) if not writable(path)]
    if stuck:
        return [
            fail(
                name,
                f"{log_dir}: not writable by this user: {', '.join(stuck)}",
                "chown the log files to the daemon's user",
            )
        ]
    return [ok(name, f"{log_dir} is writable")]


def check_disk(data_dir: Path, free_bytes: Callable[[Path], int]) -> Finding:
    where = _nearest_existing(data_dir)
    try:
        free = free_bytes(where)
    except OSError as exc:
        return warn("disk", f"cannot read the free space of {where}: {exc.strerror}", "check df")
    text = f"{_size(free)} free on {where}"
    if free < FAIL_FREE_BYTES:
        return fail("disk", f"{text} (below {_size(FAIL_FREE_BYTES)})", "free disk space now")
    if free < WARN_FREE_BYTES:
        return warn(
            "disk",
            f"{text} (below {_size(WARN_FREE_BYTES)})",
            "free disk space or move daemon.data_dir to a larger disk",
        )
    return ok("disk", text)


def _size(count: int) -> str:
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GiB"
    return f"{count / 1024**2:.0f} MiB"


# -- secret files -----------------------------------------------------------------------------


def check_secret_files(env: Mapping[str, str], settings: DaemonSettings | None) -> list[Finding]:
    """Every file that holds a secret: ``ALGOTRADE…_FILE`` variables, ``api.keys_file`` and any
    ``*_file`` setting of a venue section. Each must exist and be owner-only."""
    findings: list[Finding] = []
    checked = 0
    for label, path, secret in _secret_files(env, settings):
        checked += 1
        problem = _file_problem(label, path, secret)
        if problem is not None:
            findings.append(problem)
    if not findings:
        text = f"{checked} secret file(s), owner-only" if checked else "no secret files configured"
        findings.append(ok("secrets", text))
    return findings


def _secret_files(
    env: Mapping[str, str], settings: DaemonSettings | None
) -> Iterator[tuple[str, Path, bool]]:
    """(where it is named, the path, whether group/others reading it is a FAIL)."""
    for name, path in sorted(file_variables(env).items()):
        # The daemon's own *_FILE variables are secrets by rule (secret_env); a venue's
        # user name is not, its key is.
        upper = name.upper()
        own = is_daemon_secret_var(upper)
        yield name, path, own or any(word in upper[: -len("_FILE")] for word in _SECRET_WORDS)
    if settings is None:
        return
    if settings.api.keys_file is not None:
        yield "api.keys_file", settings.api.keys_file, True
    from algotrade.venues.registry import get_venue  # noqa: PLC0415

    for venue, section in sorted(settings.venues.items()):
        try:
            config = get_venue(venue).parse_config(section)
        except (LookupError, ValueError):
            continue  # the config check reported it
        for key, value in config:
            if key.endswith("_file") and isinstance(value, Path):
                yield f"venues.{venue}.{key}", value, True


def _file_problem(label: str, path: Path, secret: bool) -> Finding | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return fail("secrets", f"{label}: {path} not found", "create it or unset the setting")
    except OSError as exc:
        return fail("secrets", f"{label}: cannot read {path}: {exc.strerror}", "check its path")
    if not stat.S_ISREG(mode):
        return fail("secrets", f"{label}: {path} is not a file", "point it at the secret's file")
    exposed = stat.S_IMODE(mode) & _GROUP_OR_OTHERS
    if not exposed:
        return None
    message = f"{label}: {path} is readable by group/others (mode {stat.S_IMODE(mode):o})"
    fix = f"chmod 600 {path}"
    return fail("secrets", message, fix) if secret else warn("secrets", message, fix)
