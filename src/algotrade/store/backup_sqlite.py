"""Backup and restore of the SQLite store, safe while the daemon writes.

A backup uses SQLite's online backup API in one step: it reads one snapshot (one read
transaction; in WAL mode the daemon's writer is never blocked) into a new file beside the
target, which is checked, synced and renamed into place, so a reader of ``OUT`` never sees a
half-written backup. A backup is a single self-contained file (rollback journal, no -wal).

A restore checks the file first (an algotrade schema this release knows, ``integrity_check``
ok), copies it beside the target and renames it into place; the previous database (with its
-wal and -shm files, which must never be paired with another database file) is kept as
``<name>.before-restore-<timestamp>``. The caller holds the data directory's lock throughout.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from algotrade.store.backup_schema import (
    BackupError,
    DatabaseUnreachableError,
    SchemaState,
    read_sqlite_state,
    refuse_newer,
    sqlite_state,
)
from algotrade.store.engine import DIR_MODE, FILE_MODE, StoreRefusedError

_SIDECARS = ("-wal", "-shm", "-journal")


def backup_sqlite(source: Path, out: Path) -> SchemaState:
    """Write a consistent copy of the database at ``source`` to ``out`` (atomically)."""
    if not source.is_file():
        raise DatabaseUnreachableError(
            f"no database at {source} (database.url / --db-url / --data-dir)"
        )
    read_sqlite_state(source)  # refuses a file that is not an algotrade database
    temp = _temp_beside(out)
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(temp)
            try:
                # pages=-1: the whole database in one step, i.e. within one read transaction.
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
                state = _checked(dst, str(out))
            finally:
                dst.close()
        finally:
            src.close()
        _sync_and_rename(temp, out)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} to {out} failed: {exc}") from None
    finally:
        temp.unlink(missing_ok=True)
    return state


def verify_sqlite_backup(backup: Path) -> SchemaState:
    """The backup's state; ``StoreRefusedError`` unless it is an intact algotrade database
    of a schema this release knows (the revisions are named)."""
    if not backup.is_file():
        raise StoreRefusedError(
            f"{backup}: no such file; expected a backup from 'algotrade db backup'"
        )
    try:
        raw = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreRefusedError(f"{backup}: cannot open: {exc}") from None
    try:
        return _checked(raw, str(backup))
    except sqlite3.DatabaseError as exc:
        raise StoreRefusedError(f"{backup}: {exc}; expected an algotrade SQLite backup") from None
    finally:
        raw.close()


def restore_sqlite(
    backup: Path, target: Path, now: datetime | None = None
) -> tuple[SchemaState, Path | None]:
    """Replace ``target`` by a copy of ``backup``; (the backup's state, where the previous
    database was kept or None when there was none)."""
    state = verify_sqlite_backup(backup)
    if target.is_dir():
        raise StoreRefusedError(f"{target} is a directory; expected a SQLite database file path")
    target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    temp = _temp_beside(target)
    try:
        src = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(temp)
            try:
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        kept = _set_aside(target, now or datetime.now(UTC))
        _sync_and_rename(temp, target)
    except sqlite3.Error as exc:
        raise BackupError(f"restore of {backup} into {target} failed: {exc}") from None
    except OSError as exc:
        raise BackupError(
            f"restore of {backup} into {target} failed: {exc.strerror or exc}"
        ) from None
    finally:
        temp.unlink(missing_ok=True)
    return state, kept


def _checked(raw: sqlite3.Connection, where: str) -> SchemaState:
    """``integrity_check`` ok and an algotrade schema (``alembic_version``) this release knows."""
    result = [str(row[0]) for row in raw.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise StoreRefusedError(f"{where}: integrity_check failed: {result[0]}")
    state = sqlite_state(raw, where, refuse=False)
    if state.revision is None:
        raise StoreRefusedError(
            f"{where}: no alembic_version (no algotrade schema); expected an algotrade database"
        )
    refuse_newer(where, state.revision)
    return state


def _temp_beside(path: Path) -> Path:
    """A new, owner-only file in ``path``'s folder (same file system: the rename is atomic)."""
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent}: no such directory")
    temp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    temp.unlink(missing_ok=True)
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except OSError as exc:
        raise BackupError(f"cannot write in {path.parent}: {exc.strerror or exc}") from None
    return temp


def _sync_and_rename(temp: Path, final: Path) -> None:
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def _set_aside(target: Path, now: datetime) -> Path | None:
    """Keep the current database as ``<name>.before-restore-<timestamp>`` (its sidecar files
    renamed with it: a -wal left beside the restored file would be replayed into it)."""
    if not target.exists():
        for suffix in _SIDECARS:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        return None
    kept = target.with_name(f"{target.name}.before-restore-{now.strftime('%Y%m%dT%H%M%SZ')}")
    # A hard link first: the target path never stops naming a database.
    os.link(target, kept)
    for suffix in _SIDECARS:
        sidecar = Path(f"{target}{suffix}")
        if sidecar.exists():
            os.replace(sidecar, f"{kept}{suffix}")
    return kept
