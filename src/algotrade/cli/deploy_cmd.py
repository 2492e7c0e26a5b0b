"""``algotrade deploy systemd``: the systemd unit for this install.

One template (package data ``algotrade/deploy_templates/algotrade.service``) makes both the
unit this command prints and the one shipped as ``deploy/systemd/algotrade.service`` (a test
keeps them equal), so the documented unit and the generated one cannot drift apart.
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import InputError

deploy_app = typer.Typer(
    help="Deployment files for this install: systemd unit.",
    no_args_is_help=True,
    add_completion=False,
)

DEFAULT_CONFIG = "/etc/algotrade/daemon.toml"
DEFAULT_DATA_DIR = "/var/lib/algotrade"
DEFAULT_USER = "algotrade"
DEFAULT_WATCHDOG_SEC = 30
STATE_ROOT = PurePosixPath("/var/lib")
HOME_ROOTS = (PurePosixPath("/home"), PurePosixPath("/root"), PurePosixPath("/run/user"))
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def _this_executable() -> str:
    """The ``algotrade`` script of the running interpreter's environment."""
    beside = PurePosixPath(sys.executable).parent / "algotrade"
    if shutil.which(str(beside)):
        return str(beside)
    found = shutil.which("algotrade")
    if found is None:
        raise InputError("--exec: no algotrade executable found here; give its absolute path")
    return found


@deploy_app.command("systemd")
def systemd_unit(
    exec_path: Annotated[
        str | None,
        typer.Option(
            "--exec",
            show_default=False,
            help="absolute path of the algotrade executable (default: this install's)",
        ),
    ] = None,
    config: Annotated[str, typer.Option(help="absolute path of the daemon's TOML settings")] = (
        DEFAULT_CONFIG
    ),
    data_dir: Annotated[str, typer.Option(help="absolute path of the data directory")] = (
        DEFAULT_DATA_DIR
    ),
    user: Annotated[str, typer.Option(help="the dedicated user (and group) to run as")] = (
        DEFAULT_USER
    ),
    watchdog_sec: Annotated[
        int, typer.Option(help="restart when the event loop is blocked this many seconds")
    ] = DEFAULT_WATCHDOG_SEC,
    out: Annotated[
        str | None, typer.Option(help="write the unit to this file instead of printing it")
    ] = None,
) -> None:
    """Print a systemd unit (Type=notify, watchdog, hardening) filled in for this install."""
    unit = render_unit(
        exec_path=exec_path or _this_executable(),
        config=config,
        data_dir=data_dir,
        user=user,
        watchdog_sec=watchdog_sec,
    )
    if out is None:
        typer.echo(unit, nl=False)
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, unit)
    typer.echo(f"wrote {out}", err=True)


def render_unit(*, exec_path: str, config: str, data_dir: str, user: str, watchdog_sec: int) -> str:
    """The unit text; ``InputError`` naming the option for a value systemd would refuse."""
    exec_at = _absolute("--exec", exec_path)
    config_at = _absolute("--config", config)
    data_at = _absolute("--data-dir", data_dir)
    if not _USER_NAME.fullmatch(user):
        raise InputError(
            f"--user: expected a system user name (lowercase letters, digits, _ and -, at most "
            f"32, not starting with a digit or -), got {user!r}"
        )
    if not 1 <= watchdog_sec <= 3600:
        raise InputError(f"--watchdog-sec: expected 1 to 3600 seconds, got {watchdog_sec}")
    under_home = any(
        _is_under(path, root) for path in (exec_at, config_at, data_at) for root in HOME_ROOTS
    )
    values = {
        "@EXEC@": str(exec_at),
        "@CONFIG@": str(config_at),
        "@DATA_DIR@": str(data_at),
        "@DATA_DIR_ACCESS@": _data_dir_access(data_at),
        "@USER@": user,
        "@WATCHDOG_SEC@": str(watchdog_sec),
        # A home directory holding the install must stay readable (and the data dir writable
        # through ReadWritePaths); otherwise homes are hidden from the daemon entirely.
        "@PROTECT_HOME@": "read-only" if under_home else "yes",
    }
    unit = template()
    for token, value in values.items():
        unit = unit.replace(token, value)
    return unit


def template() -> str:
    unit = resources.files("algotrade") / "deploy_templates" / "algotrade.service"
    return unit.read_text(encoding="utf-8")


def _data_dir_access(data_dir: PurePosixPath) -> str:
    if _is_under(data_dir, STATE_ROOT):
        # systemd creates it, owned by the service user, and makes it writable.
        return f"StateDirectory={data_dir.relative_to(STATE_ROOT)}\nStateDirectoryMode=0700"
    return f"# Create it first, owned by the service user.\nReadWritePaths={data_dir}"


def _absolute(option: str, text: str) -> PurePosixPath:
    if not text.startswith("/"):
        raise InputError(f"{option}: expected an absolute path (systemd needs one), got {text!r}")
    if any(char.isspace() for char in text) or any(char in text for char in "\"'\\$%;"):
        raise InputError(
            f"{option}: the path must not contain spaces, quotes, '\\', '$', '%' or ';' "
            f"(systemd would split or expand it), got {text!r}"
        )
    path = PurePosixPath(text)
    if ".." in path.parts:
        raise InputError(f"{option}: expected a path without '..', got {text!r}")
    return path


def _is_under(path: PurePosixPath, root: PurePosixPath) -> bool:
    return path != root and path.is_relative_to(root)
