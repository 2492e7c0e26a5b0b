"""A throwaway PostgreSQL database for tests.

Uses the server at ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` (override with
``ALGOTRADE_TEST_PG_ADMIN_URL``). When none answers, starts a temporary cluster with the
``initdb``/``pg_ctl`` of an installed PostgreSQL (as user ``postgres`` when running as root:
initdb refuses root). When neither works the tests skip, except under CI (``CI`` set), where
they fail: CI must run them.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

ADMIN_URL_ENV = "ALGOTRADE_TEST_PG_ADMIN_URL"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "algotrade_test_"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test (fail under CI) because PostgreSQL cannot be had."""
    if in_ci():
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


def conninfo(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI for psycopg (drop the ``+psycopg`` driver part)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _problem(url: str) -> str | None:
    """None when the server answers, else a one-line reason."""
    try:
        with psycopg.connect(conninfo(url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pg_bin_dir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@contextmanager
def temporary_cluster() -> Iterator[str]:
    """Start a private PostgreSQL cluster on a free port; yields its admin URL."""
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        unavailable("no server answers and no initdb under /usr/lib/postgresql/*/bin")
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            unavailable("running as root and no runuser/postgres user to run initdb as")
        prefix = [runuser, "-u", "postgres", "--"]
    # Not under pytest's tmp_path: that is private to root (0700) and postgres could not enter.
    base = Path(tempfile.mkdtemp(prefix="algotrade-pg-"))
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, port = base / "data", _free_port()

    def run(args: Sequence[str]) -> None:
        done = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
            shutil.rmtree(base, ignore_errors=True)
            unavailable(f"{Path(args[0]).name} failed: {tail[0]}")

    run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"])
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    run(
        [pg_ctl, "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "-t", "60", "start"]
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def admin_server() -> Iterator[str]:
    """The admin URL of a reachable server: the configured one or a temporary cluster."""
    url = os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)
    if _problem(url) is None:
        yield url
        return
    with temporary_cluster() as temporary_url:
        problem = _problem(temporary_url)
        if problem is not None:
            unavailable(f"temporary cluster does not answer: {problem}")
        yield temporary_url


@contextmanager
def temporary_database() -> Iterator[str]:
    """A fresh database ``algotrade_test_<hex>``, dropped (forcibly) afterwards."""
    with admin_server() as admin_url:
        name = DATABASE_PREFIX + secrets.token_hex(6)
        with psycopg.connect(conninfo(admin_url), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield with_database(admin_url, name)
        finally:
            with psycopg.connect(conninfo(admin_url), autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def truncate_tables(url: str, tables: Sequence[str]) -> None:
    """Empty ``tables`` (those that exist) and restart their id sequences: per-test isolation
    that keeps the migrated schema (much faster than a new database per test)."""
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        existing = {
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        present = [table for table in tables if table in existing]
        if present:
            names = sql.SQL(", ").join(sql.Identifier(table) for table in present)
            connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))


def reset_schema(url: str) -> None:
    """Drop every table (alembic_version included): the database is as new."""
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
