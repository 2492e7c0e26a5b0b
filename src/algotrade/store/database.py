"""``Database``: the engine's lifecycle and the transaction discipline ``Store`` builds on.

Every call gets its own connection from the engine's pool (the daemon writes from one worker
thread and reads from others; connections are never shared between threads), and every write
is one transaction committed before the call returns. Driver errors become ``StoreError``s with
one-line messages that never carry the SQL, its parameters or the password.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from algotrade.store.engine import (
    WRITE_OPTION,
    StoreRefusedError,
    make_engine,
    mask_url,
    parse_url,
    upgrade_to_head,
    url_password,
)
from algotrade.store.errors import StoreError, StoreUnavailableError


def _is_transient(exc: DBAPIError) -> bool:
    """Busy or unreachable right now (a lost connection, a locked SQLite file): retryable."""
    if exc.connection_invalidated:
        return True
    # psycopg is loaded by a PostgreSQL URL only; a daemon on SQLite starts without it.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc.orig, psycopg.OperationalError):
        return True
    return isinstance(exc.orig, sqlite3.OperationalError) and any(
        word in str(exc.orig) for word in ("locked", "busy")
    )


def _not_sqlite(exc: BaseException) -> bool:
    """SQLite's answer for a file that is something else (text, another format)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    return isinstance(orig, sqlite3.DatabaseError) and "file is not a database" in str(orig)


def _not_open() -> StoreError:
    return StoreError("the store is not open; call open() first")


class ConstraintViolationError(StoreError):
    """A unique or foreign key constraint refused a write; ``Store`` turns it into a precise
    error (duplicate bot, unknown bot) where it can. Nothing of the write was committed."""


class Database:
    """An engine opened from a URL, migrated to the newest schema on ``open()``."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        """Checks the URL; makes no connection (that is ``open()``)."""
        self._masked_url = mask_url(url)
        self._password = url_password(url)
        try:
            self._url = parse_url(url)
        except ValueError as exc:  # a setting to correct: refused, not failed (exit 2)
            raise StoreRefusedError(f"invalid store URL {self._masked_url}: {exc}") from exc
        self._echo = echo
        self._engine: Engine | None = None
        self._writing: Engine | None = None  # same pool, SQLite BEGIN IMMEDIATE
        self._reading: Engine | None = None  # same pool, one snapshot per call

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._url.get_backend_name()

    @property
    def url(self) -> str:
        """The URL with the password masked."""
        return self._masked_url

    def open(self) -> None:
        """Connect and migrate the schema to the newest revision; idempotent."""
        if self._engine is not None:
            return
        engine: Engine | None = None
        try:
            engine = make_engine(self._url, echo=self._echo)
            upgrade_to_head(engine)
        except Exception as exc:  # any failure here means "cannot open": say so in one line
            if engine is not None:
                engine.dispose()
            message = f"cannot open store {self._masked_url}: {self._reason(exc)}"
            if isinstance(exc, StoreRefusedError) or _not_sqlite(exc):
                raise StoreRefusedError(message) from exc  # the configured file is wrong
            raise StoreError(message) from exc
        self._writing = engine.execution_options(**{WRITE_OPTION: True})
        # PostgreSQL's default READ COMMITTED takes a snapshot per statement: a page's count and
        # rows could disagree. A SQLite read transaction already is one snapshot.
        self._reading = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._engine = engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = self._writing = self._reading = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def ping(self) -> bool:
        """True when the database answers; never raises."""
        engine = self._engine
        if engine is None:
            return False
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    # -- transactions ------------------------------------------------------------------------

    def _require_engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            raise _not_open()
        return engine

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        """One write transaction, committed on exit (rolled back if the block raises)."""
        writing = self._writing  # one read of the attribute: close() may run in another thread
        if writing is None:
            raise _not_open()
        with self._translate(action), writing.begin() as connection:
            yield connection

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        """One read transaction (one snapshot), rolled back on exit."""
        reading = self._reading
        if reading is None:
            raise _not_open()
        with self._translate(action), reading.connect() as connection:
            yield connection

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise ConstraintViolationError(f"{action} failed: {self._reason(exc)}") from exc
        except DBAPIError as exc:
            if _is_transient(exc):
                raise StoreUnavailableError(f"{action}: {self._reason(exc)}") from exc
            raise StoreError(f"{action} failed: {self._reason(exc)}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{action} failed: {self._reason(exc)}") from exc

    def _reason(self, exc: BaseException) -> str:
        """One line, without the SQL, parameters or password."""
        cause: BaseException = exc
        if isinstance(exc, StatementError) and exc.orig is not None:
            cause = exc.orig
        lines = str(cause).strip().splitlines()
        text = lines[0].strip() if lines else type(cause).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return text or type(cause).__name__
