"""``algotrade db``: back up, restore and migrate the daemon's database (docs/database.md).

Every command finds the database the way ``algotrade daemon`` does: ``--db-url``, else
``database.url`` from ``--config`` / the ``ALGOTRADE__…`` environment (``*_FILE`` secrets
included), else SQLite in the data directory. Exit codes: 0 done; 1 a step failed (a tool
missing or failing, the data directory in use) or ``check`` found the schema behind; 2 bad
input or a database that cannot be reached or used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algotrade.cli.errors import EXIT_FAILURE, fail

if TYPE_CHECKING:
    from algotrade.daemon.settings import DaemonSettings

db_app = typer.Typer(
    help="The daemon's database: backup, restore, upgrade, current, check.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (see docs/configuration.md)")
]
DataDirOption = Annotated[Path | None, typer.Option(help="data directory (default ./data)")]
DbUrlOption = Annotated[
    str | None, typer.Option(help="database URL (default SQLite in the data dir)")
]


def _settings(config: Path | None, data_dir: Path | None, db_url: str | None) -> DaemonSettings:
    # Imported when run: the settings pull in pydantic and the venue registry.
    from algotrade.daemon.secret_env import with_secret_files  # noqa: PLC0415
    from algotrade.daemon.settings import load_settings  # noqa: PLC0415

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides.setdefault("daemon", {})["data_dir"] = data_dir
    if db_url is not None:
        overrides.setdefault("database", {})["url"] = db_url
    return load_settings(config, with_secret_files(os.environ), overrides)


def _backup_name(backend: str, now: datetime) -> str:
    suffix = "db" if backend == "sqlite" else "dump"
    return f"algotrade-{now.strftime('%Y%m%dT%H%M%SZ')}.{suffix}"


@db_app.command()
def backup(
    out_arg: Annotated[
        str,
        typer.Argument(
            metavar="OUT",
            help="file to write; a folder (existing, or ending in '/'): a timestamped file "
            "inside it. Missing folders are created (owner-only).",
        ),
    ],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    db_url: DbUrlOption = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite OUT if it exists")] = False,
) -> None:
    """Back up the database, also while the daemon runs (SQLite online backup, or pg_dump)."""
    from algotrade.daemon.settings import redact_url  # noqa: PLC0415
    from algotrade.store.backup_schema import sqlite_path  # noqa: PLC0415

    settings = _settings(config, data_dir, db_url)
    url = settings.database_url
    source = sqlite_path(url)
    out = Path(out_arg)
    # A trailing separator says "folder" even where none exists yet (Path drops it).
    folder = out if out_arg.endswith(("/", os.sep)) or out.is_dir() else out.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{folder}: cannot create the folder: {exc.strerror or exc}", EXIT_FAILURE)
    if folder == out:
        out = out / _backup_name("sqlite" if source else "postgresql", datetime.now(UTC))
    if out.exists() and not force:
        fail(f"{out} exists; choose another file, or pass --force to overwrite it")
    if source is not None:
        from algotrade.store.backup_sqlite import backup_sqlite  # noqa: PLC0415

        if out.exists() and out.resolve() == source.resolve():
            fail(f"{out} is the database itself; write the backup to another file")
        state = backup_sqlite(source, out)
    else:
        from algotrade.store.backup_postgresql import backup_postgresql  # noqa: PLC0415

        state = backup_postgresql(url, out)
    size = out.stat().st_size
    typer.echo(
        f"wrote {out} ({_size(size)}) from {redact_url(url)}: schema revision {state.revision}"
        f"{' (head)' if state.at_head else ''}; {state.summary()}"
    )


@db_app.command()
def restore(
    backup_file: Annotated[
        Path, typer.Argument(metavar="IN", help="a file written by 'algotrade db backup'")
    ],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    db_url: DbUrlOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="PostgreSQL: restore into a database that has tables")
    ] = False,
) -> None:
    """Replace the database by a backup; refused while a daemon runs on the data dir."""
    from algotrade.daemon.lock import DataDirLock, DataDirLocked  # noqa: PLC0415
    from algotrade.daemon.settings import redact_url  # noqa: PLC0415
    from algotrade.store.backup_schema import sqlite_path  # noqa: PLC0415

    settings = _settings(config, data_dir, db_url)
    url = settings.database_url
    target = sqlite_path(url)
    lock = DataDirLock(settings.daemon.data_dir)
    try:
        lock.acquire()  # held until done: no daemon can start on a half-restored database
    except DataDirLocked as exc:
        fail(f"{exc}; stop it before restoring (restore replaces its database)", EXIT_FAILURE)
    try:
        if target is not None:
            from algotrade.store.backup_sqlite import restore_sqlite  # noqa: PLC0415

            state, kept = restore_sqlite(backup_file, target)
            revision = state.revision
            detail = f"; {state.summary()}"
            if kept is not None:
                detail += f"; the previous database is kept as {kept}"
        else:
            from algotrade.store.backup_postgresql import restore_postgresql  # noqa: PLC0415
            from algotrade.store.backup_schema import read_state  # noqa: PLC0415

            revision = restore_postgresql(backup_file, url, force=force)
            detail = f"; {read_state(url).summary()}"
    finally:
        lock.release()
    typer.echo(f"restored {backup_file} into {redact_url(url)}: schema revision {revision}{detail}")
    _note_behind(revision)


@db_app.command()
def upgrade(
    config: ConfigOption = None, data_dir: DataDirOption = None, db_url: DbUrlOption = None
) -> None:
    """Migrate the schema to this release's head (what the daemon does when it starts)."""
    from algotrade.daemon.settings import redact_url  # noqa: PLC0415
    from algotrade.store.backup_schema import read_state, sqlite_path  # noqa: PLC0415
    from algotrade.store.database import Database  # noqa: PLC0415

    settings = _settings(config, data_dir, db_url)
    url = settings.database_url
    path = sqlite_path(url)
    before = None
    if path is None or path.exists():
        before = read_state(url).revision  # unreachable, not ours or newer: refused here
    elif path.parent == settings.daemon.data_dir:
        # A new SQLite file in the data dir: create the folder as the daemon would (0700).
        from algotrade.daemon.lock import prepare_data_dir  # noqa: PLC0415

        prepare_data_dir(settings.daemon.data_dir)
    # Database(url) is exactly the daemon's start-up migration (StoreError: one line).
    with _upgrade_lock(settings, before), Database(url):
        pass
    after = read_state(url).revision
    where = redact_url(url)
    if before == after:
        typer.echo(f"{where}: already at head {after}; nothing to do")
    else:
        typer.echo(f"{where}: migrated from {before or 'no schema'} to {after} (head)")


@contextlib.contextmanager
def _upgrade_lock(settings: DaemonSettings, before: str | None) -> Iterator[None]:
    """Hold the data directory while a migration has work to do: a daemon running there is an
    older release (a daemon migrates at start) and must not run on a schema it does not know,
    and no daemon may start half-way through."""
    from algotrade.daemon.lock import DataDirLock, DataDirLocked  # noqa: PLC0415
    from algotrade.store.engine import shipped_head  # noqa: PLC0415

    data_dir = Path(settings.daemon.data_dir)
    if before == shipped_head() or not (data_dir / "daemon.lock").exists():
        yield  # nothing to migrate, or no daemon ever ran here (creates no folder)
        return
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except DataDirLocked as exc:
        fail(
            f"{exc}; stop it before upgrading (it would run on a schema it does not know)",
            EXIT_FAILURE,
        )
    try:
        yield
    finally:
        lock.release()


@db_app.command()
def current(
    config: ConfigOption = None, data_dir: DataDirOption = None, db_url: DbUrlOption = None
) -> None:
    """Print the schema revision and whether it is this release's head."""
    from algotrade.store.backup_schema import read_state  # noqa: PLC0415

    url = _settings(config, data_dir, db_url).database_url
    typer.echo(read_state(url).describe())


@db_app.command()
def check(
    config: ConfigOption = None, data_dir: DataDirOption = None, db_url: DbUrlOption = None
) -> None:
    """Exit 0 when the schema is at head, 1 when behind (names the revisions), 2 unreachable."""
    from algotrade.store.backup_schema import read_state  # noqa: PLC0415

    url = _settings(config, data_dir, db_url).database_url
    state = read_state(url)
    line = state.describe()
    if state.at_head:
        typer.echo(line)
        return
    fail(f"{line}; run 'algotrade db upgrade' (or start the daemon) to migrate", EXIT_FAILURE)


def _note_behind(revision: str | None) -> None:
    from algotrade.store.engine import shipped_head  # noqa: PLC0415

    head = shipped_head()
    if revision != head:
        typer.echo(
            f"note: the backup's schema {revision} is behind this release's head {head}; "
            "the daemon migrates it when it starts (or run 'algotrade db upgrade')"
        )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
