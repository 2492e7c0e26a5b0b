"""Backup and restore of the PostgreSQL store with ``pg_dump -Fc`` and ``pg_restore``.

The backup's summary is exact for the dump: the row counts are read in a REPEATABLE READ
transaction whose snapshot ``pg_dump --snapshot`` then dumps. The archive is written beside
``OUT`` and renamed into place when ``pg_dump`` succeeded. The password never appears on a
command line (``ps`` shows those to every local user): it goes to the tools in ``PGPASSWORD``.

A restore reads the archive's table of contents and its ``alembic_version`` row first (a file
that is not an algotrade dump, or a schema newer than this release, is refused before the
target is touched), then runs ``pg_restore --clean --if-exists --no-owner --no-acl
--single-transaction --exit-on-error``: all of it or none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from algotrade.core.errors import InputError
from algotrade.store.backup_schema import (
    CONNECT_TIMEOUT_S,
    BackupError,
    DatabaseUnreachableError,
    SchemaState,
    libpq_uri,
    postgresql_state,
    refuse_newer,
    scrub,
)
from algotrade.store.engine import StoreRefusedError, mask_url, url_password

TOOL_TIMEOUT_S = 3600.0
_INSTALL = (
    "install the PostgreSQL client tools (e.g. apt install postgresql-client), "
    "of the server's major version or newer"
)
_TOC_TABLE = re.compile(r"^\d+;\s+\d+\s+\d+\s+TABLE\s+\S+\s+(?P<table>\S+)\s", re.M)


def tool(name: str) -> str:
    """The path of ``pg_dump`` / ``pg_restore``; ``BackupError`` when it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found on PATH; {_INSTALL}")
    return found


def backup_postgresql(url: str, out: Path) -> SchemaState:
    """``pg_dump -Fc`` of the database at ``url`` to ``out`` (atomically)."""
    pg_dump = tool("pg_dump")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent}: no such directory")
    temp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with _connect(url) as connection, _reported(url):
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = connection.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            state = postgresql_state(connection, mask_url(url))
            if state.revision is None:
                raise StoreRefusedError(
                    f"{mask_url(url)}: no algotrade schema yet; nothing to back up"
                )
            # The snapshot lives as long as this transaction: pg_dump runs inside it.
            _run(
                [
                    pg_dump,
                    "-Fc",
                    f"--snapshot={row[0]}",
                    "-f",
                    str(temp),
                    "-d",
                    libpq_uri(url, password=False),
                ],
                url,
                "pg_dump",
            )
            connection.execute("ROLLBACK")
        os.chmod(temp, 0o600)
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    return state


def archive_revision(archive: Path) -> str:
    """The schema revision in a ``pg_dump -Fc`` archive; ``StoreRefusedError`` when the file
    is not one, or holds no algotrade schema, or a schema this release does not know."""
    pg_restore = tool("pg_restore")
    if not archive.is_file():
        raise StoreRefusedError(
            f"{archive}: no such file; expected a backup from 'algotrade db backup'"
        )
    listing = _tool_output([pg_restore, "-l", str(archive)])
    if listing is None:
        raise StoreRefusedError(
            f"{archive}: not a pg_dump custom-format archive; expected a backup from "
            "'algotrade db backup' of a PostgreSQL database"
        )
    tables = {match["table"] for match in _TOC_TABLE.finditer(listing)}
    if "alembic_version" not in tables:
        raise StoreRefusedError(
            f"{archive}: no alembic_version table (no algotrade schema); "
            "expected an algotrade backup"
        )
    data = _tool_output(
        [pg_restore, "--data-only", "-t", "alembic_version", "-f", "-", str(archive)]
    )
    revisions = _copy_rows(data or "")
    if len(revisions) != 1:
        raise StoreRefusedError(
            f"{archive}: alembic_version holds {len(revisions)} rows; expected 1"
        )
    refuse_newer(str(archive), revisions[0])
    return revisions[0]


def restore_postgresql(archive: Path, url: str, *, force: bool) -> str:
    """Restore ``archive`` into the database at ``url``; its schema revision. A target that
    already has tables is refused unless ``force``."""
    revision = archive_revision(archive)
    pg_restore = tool("pg_restore")
    with _connect(url) as connection, _reported(url):
        tables = [
            str(row[0])
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
    if tables and not force:
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise InputError(
            f"{mask_url(url)} is not empty ({len(tables)} tables: {listed}); restore into a new "
            "database, or pass --force to replace its algotrade tables"
        )
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            "-d",
            libpq_uri(url, password=False),
            str(archive),
        ],
        url,
        "pg_restore",
    )
    return revision


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(libpq_uri(url), connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachableError(
            f"database {mask_url(url)} is unreachable: {scrub(str(exc), url)}"
        ) from None


@contextmanager
def _reported(url: str) -> Iterator[None]:
    """A database error (no permission, a lost connection) as one line, password masked."""
    try:
        yield
    except psycopg.Error as exc:
        raise BackupError(f"database {mask_url(url)}: {scrub(str(exc), url)}") from None


def _tool_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    password = url_password(url)
    if password:
        env["PGPASSWORD"] = password
    return env


def _run(command: list[str], url: str, name: str) -> None:
    try:
        done = subprocess.run(
            command,
            env=_tool_env(url),
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish within {TOOL_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        raise BackupError(f"{name} failed (exit {done.returncode}): {scrub(done.stderr, url)}")


def _tool_output(command: list[str]) -> str | None:
    """The tool's standard output, None when it failed."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )
    return done.stdout if done.returncode == 0 else None


def _copy_rows(sql_text: str) -> list[str]:
    """The first column of the rows of the COPY blocks in a plain-SQL dump."""
    rows: list[str] = []
    inside = False
    for line in sql_text.splitlines():
        if line.startswith("COPY "):
            inside = True
        elif inside and line == "\\.":
            inside = False
        elif inside:
            rows.append(line.split("\t")[0])
    return rows
