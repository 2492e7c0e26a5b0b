"""Driver-level bulk writes of trading records: one ``executemany`` of plain tuples per table.

SQLAlchemy's compiled-statement path costs ~50 µs of Python per fill of a busy bot (a dict
per row, a type processor per value); at 20,000 fills a second that alone would take a core.
Here each record becomes one tuple (``attrgetter``), money becomes its exact text (the same
text ``DecimalText`` writes, checked the same way), and the statement is plain SQL the driver
executes as a batch: ``sqlite3``'s C ``executemany`` on SQLite, psycopg's pipelined
``executemany`` on PostgreSQL. The columns and their types come from the models, so the two
cannot drift apart. Tables with JSON or ``datetime`` columns (the event log) keep the
SQLAlchemy path: their values are formatted by their types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection, String, Table
from sqlalchemy.exc import DBAPIError, StatementError

from algotrade.store.models import DecimalText

_DECIMAL_TEXT = DecimalText()
_PLAIN_MAX = 40  # characters: well inside DecimalText's range (|exponent| ≤ 60, 1e±40)


def money_text(value: Any) -> str | None:
    """``DecimalText``'s stored text of ``value`` (same checks, same errors), fast for the
    common case: a finite Decimal whose ``str`` is already plain notation (no exponent)
    is exactly what ``format(value, "f")`` gives, and at most 40 characters is in range."""
    if type(value) is Decimal:
        text = str(value)
        if len(text) <= _PLAIN_MAX and "E" not in text and value.is_finite():
            return text
    return _DECIMAL_TEXT.process_bind_param(value, None)  # type: ignore[arg-type]


class BulkTable:
    """One table's plain-SQL insert (or upsert) and the record → parameter tuple it takes."""

    def __init__(
        self,
        table: Table,
        record_type: type,
        dialect_name: str,
        *,
        conflict: tuple[str, ...] = (),
        keep: tuple[str, ...] = (),
        do_nothing: bool = False,
    ) -> None:
        names = tuple(f.name for f in fields(record_type) if f.name in table.c)
        self.names = names
        self.params = _tuple_builder(table, names)
        self._copy = dialect_name == "postgresql"
        columns = ", ".join(names)
        on_conflict = ""
        if conflict:
            target = ", ".join(conflict)
            updates = [n for n in names if n not in conflict and n not in keep]
            if do_nothing or not updates:
                on_conflict = f" ON CONFLICT ({target}) DO NOTHING"
            else:
                changes = ", ".join(f"{n} = excluded.{n}" for n in updates)
                on_conflict = f" ON CONFLICT ({target}) DO UPDATE SET {changes}"
        mark = "?" if dialect_name == "sqlite" else "%s"
        values = ", ".join(mark for _ in names)
        self.sql = f"INSERT INTO {table.name} ({columns}) VALUES ({values}){on_conflict}"
        # PostgreSQL: COPY (4-5x psycopg's pipelined executemany). COPY cannot upsert, so
        # rows that may conflict go through a temporary staging table (emptied at commit).
        self._stage = f"algotrade_stage_{table.name}" if on_conflict else None
        target_table = self._stage or table.name
        self._copy_sql = f"COPY {target_table} ({columns}) FROM STDIN"
        self._stage_sql = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self._stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM {table.name} WITH NO DATA"
        )
        self._merge_sql = (
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {self._stage}{on_conflict}"
        )

    def write(self, connection: Connection, records: Sequence[Any]) -> int:
        """Write ``records`` inside the connection's transaction; the number of rows
        inserted or updated (a row an ``ON CONFLICT DO NOTHING`` skipped is not counted)."""
        rows = self.rows(records)
        if not self._copy:
            return int(connection.exec_driver_sql(self.sql, rows).rowcount)
        import psycopg  # noqa: PLC0415 - loaded already with a PostgreSQL URL; SQLite never needs it

        raw = connection.connection.driver_connection
        sql = self._copy_sql
        try:
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                if self._stage is not None:
                    sql = self._stage_sql
                    cursor.execute(sql)
                    sql = self._copy_sql
                with cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                if self._stage is None:
                    return len(rows)
                sql = self._merge_sql
                cursor.execute(sql)
                return int(cursor.rowcount)
        except psycopg.Error as exc:
            # What SQLAlchemy would have raised: the store tells a lost connection
            # (retry) from a refused row (bot by bot) by it.
            raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc

    def rows(self, records: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Parameter tuples; a value the column refuses (a float as money, ...) raises the
        ``StatementError`` SQLAlchemy raises for it on its own path (the store's callers
        see the same ``StoreError``)."""
        params: Callable[[Any], tuple[Any, ...]] = self.params
        try:
            return [params(record) for record in records]
        except (TypeError, ValueError) as exc:
            raise StatementError(str(exc), self.sql, None, exc) from exc


def _text(value: Any) -> Any:
    # A StrEnum is a str, but drivers adapt enums their own way (psycopg may write the member
    # name): store the value the API shows.
    return value.value if isinstance(value, Enum) else value


def _tuple_builder(table: Table, names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``record → (value of each column, converted)`` as one generated expression: money
    through ``money_text``, strings that are not plain ``str`` through ``_text``, the rest as
    they are. Generated because it is the per-row cost of every bulk write (a loop over
    columns is 3× slower); ``names`` are dataclass field names: plain attribute access."""
    parts = []
    for name in names:
        if not name.isidentifier():  # pragma: no cover - dataclass fields always are
            raise ValueError(f"not a field name: {name!r}")
        column_type = table.c[name].type
        if isinstance(column_type, DecimalText):
            parts.append(f"_money(r.{name})")
        elif isinstance(column_type, String):
            parts.append(f"(v if (v := r.{name}).__class__ is str else _text(v))")
        else:
            parts.append(f"r.{name}")
    source = f"lambda r: ({', '.join(parts)},)"
    builder: Callable[[Any], tuple[Any, ...]] = eval(  # the source is built above from field names
        source, {"_money": money_text, "_text": _text}
    )
    return builder
