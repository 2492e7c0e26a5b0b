"""Doctor check of the database: reachable, ours, and at the newest shipped schema revision.

Looks only: a SQLite file is opened read-only (a file that does not exist yet is not created),
PostgreSQL is asked with a connect timeout. Nothing is migrated; a database behind the head is
a warning because the daemon migrates it when it starts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from algotrade.daemon.doctor import Finding, fail, ok, warn

CHECK = "database"
_MIGRATE = "run 'algotrade db upgrade' or start the daemon to migrate"


def check_database(url: str, timeout_s: float) -> Finding:
    from algotrade.store.engine import mask_url, parse_url  # noqa: PLC0415

    masked = mask_url(url)
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        return fail(CHECK, f"{masked}: {exc}", "set database.url / --db-url to a valid URL")
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        return _check_sqlite(Path(parsed.database).expanduser(), timeout_s)
    return _check_server(url, masked, timeout_s)


def _check_sqlite(path: Path, timeout_s: float) -> Finding:
    from algotrade.store.backup_schema import sqlite_tables_and_revision  # noqa: PLC0415

    if not path.exists():
        return ok(CHECK, f"{path} does not exist yet; the daemon creates it at the newest schema")
    if path.is_dir():
        return fail(CHECK, f"{path} is a directory", "point database.url at a SQLite file")
    if path.stat().st_size == 0:
        return ok(CHECK, f"{path} is empty; the daemon creates the schema when it starts")
    try:
        raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_s)
    except sqlite3.Error as exc:
        return fail(CHECK, f"{path}: cannot open: {exc}", "check the file and its permissions")
    try:
        names, revision = sqlite_tables_and_revision(raw)
        tables = set(names)
    except sqlite3.Error as exc:
        return fail(CHECK, f"{path}: {exc}", "point database.url at an algotrade SQLite file")
    finally:
        raw.close()
    return _judge(str(path), revision, tables)


def _check_server(url: str, masked: str, timeout_s: float) -> Finding:
    from sqlalchemy import inspect  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from algotrade.store.engine import (  # noqa: PLC0415
        current_revision,
        make_engine,
        parse_url,
        url_password,
    )

    parsed = parse_url(url)
    if "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(max(1, round(timeout_s)))})
    engine = make_engine(parsed)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            tables = set(inspect(connection).get_table_names())
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        password = url_password(url)
        if password:
            reason = reason.replace(password, "***")  # never print a secret
        return fail(
            CHECK,
            f"{masked}: unreachable ({reason[:300]})",
            "start the database server, or fix database.url (host, port, user, password)",
        )
    finally:
        engine.dispose()
    return _judge(masked, revision, tables)


def _judge(where: str, revision: str | None, tables: set[str]) -> Finding:
    from algotrade.store.engine import (  # noqa: PLC0415
        StoreRefusedError,
        refuse_unless_ours,
        shipped_head,
    )

    try:
        refuse_unless_ours(revision, tables)
    except StoreRefusedError as exc:
        return fail(CHECK, f"{where}: {exc}", "point database.url at an algotrade database")
    head = shipped_head()
    if revision is None:
        return ok(CHECK, f"{where}: empty; the daemon creates the schema ({head}) when it starts")
    if revision != head:
        return warn(
            CHECK, f"{where}: schema at revision {revision}, this release's is {head}", _MIGRATE
        )
    return ok(CHECK, f"{where}: reachable, schema at the newest revision ({head})")
