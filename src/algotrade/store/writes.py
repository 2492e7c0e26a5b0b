"""Turning records into rows and writing a batch of activity with dialect-specific upserts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Insert, Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from algotrade.store.models import Base
from algotrade.store.records import (
    AccountRecord,
    ActivityLike,
    EquityRecord,
    EventRecord,
    FillConflict,
    FillRecord,
    OrderRecord,
    PositionRecord,
)

Row = dict[str, Any]

_T = Base.metadata.tables
_ORDER_FIELDS = tuple(f.name for f in fields(OrderRecord))
_FILL_FIELDS = tuple(f.name for f in fields(FillRecord))
_POSITION_FIELDS = tuple(f.name for f in fields(PositionRecord))
_ACCOUNT_FIELDS = tuple(f.name for f in fields(AccountRecord))
_EQUITY_FIELDS = tuple(f.name for f in fields(EquityRecord))
_EVENT_FIELDS = tuple(f.name for f in fields(EventRecord) if f.name != "id")  # id: assigned


def _plain(value: Any) -> Any:
    # A StrEnum is a str, but drivers adapt enums their own way (psycopg may write the member
    # name); store the value the API shows.
    return value.value if isinstance(value, Enum) else value


def _row(record: Any, names: tuple[str, ...]) -> Row:
    return {name: _plain(getattr(record, name)) for name in names}


def bot_row(config: dict[str, Any], state: str, now: datetime) -> Row:
    bot_id = config.get("bot_id")
    if not isinstance(bot_id, str) or not bot_id:
        raise ValueError("a bot config needs a non-empty string 'bot_id'")
    return {
        "bot_id": bot_id,
        "config": config,
        "state": state,
        "runtime": {},
        "created_at": now,
        "updated_at": now,
    }


def event_row(event: EventRecord) -> Row:
    return _row(event, _EVENT_FIELDS)


@dataclass(slots=True)
class PreparedBatch:
    """Rows to write, deduplicated: the last version of an order/position/account wins, the
    first copy of a fill is kept (a later copy with other content is a conflict)."""

    bot_ids: set[str] = field(default_factory=set)
    orders: list[Row] = field(default_factory=list)
    fills: list[Row] = field(default_factory=list)
    positions: list[Row] = field(default_factory=list)
    accounts: list[Row] = field(default_factory=list)
    equity: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    conflicts: list[FillConflict] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (
            self.orders
            or self.fills
            or self.positions
            or self.accounts
            or self.equity
            or self.events
        )


def _check_owner(bot_id: str, kind: str, records: Iterable[Any], allow_none: bool = False) -> None:
    for record in records:
        if record.bot_id != bot_id and not (allow_none and record.bot_id is None):
            raise ValueError(f"{kind} of bot {record.bot_id!r} given in the activity of {bot_id!r}")


def _is_empty(activity: ActivityLike) -> bool:
    # Attribute checks only, so any object shaped like an Activity works.
    return not (
        activity.orders
        or activity.fills
        or activity.positions
        or activity.account is not None
        or activity.equity
        or activity.events
    )


def _last_wins(rows: Iterable[Row], key: Callable[[Row], Any]) -> list[Row]:
    latest: dict[Any, Row] = {}
    for row in rows:
        latest.pop(key(row), None)  # re-insert so the dict keeps the latest position
        latest[key(row)] = row
    return list(latest.values())


def _fill_key(row: Row) -> tuple[str, str]:
    return row["bot_id"], row["trade_id"]


def _differences(stored: Row, new: Row) -> dict[str, tuple[Any, Any]]:
    return {name: (stored[name], new[name]) for name in _FILL_FIELDS if stored[name] != new[name]}


def _unique_fills(rows: Iterable[Row], conflicts: list[FillConflict]) -> list[Row]:
    """The first copy of each fill; an identical later copy is a re-report (dropped), a
    different one a conflict (reported, not written)."""
    first: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = _fill_key(row)
        kept = first.setdefault(key, row)
        if kept is not row and (changed := _differences(kept, row)):
            conflicts.append(FillConflict(key[0], key[1], changed))
    return list(first.values())


class ActivityWriter:
    """Prepared statements for one dialect. Upserts are dialect-specific (``ON CONFLICT``)
    because a read-then-write would cost a round trip per row and race with other writers."""

    def __init__(self, dialect_name: str) -> None:
        insert: Callable[[Table], Any]
        if dialect_name == "sqlite":
            insert = sqlite.insert
        elif dialect_name == "postgresql":
            insert = postgresql.insert
        else:  # pragma: no cover - parse_url allows only these two
            raise ValueError(f"unsupported dialect {dialect_name!r}")
        self._orders = _upsert(insert(_T["orders"]), ("bot_id", "client_order_id"), ("created_ts",))
        self._positions = _upsert(insert(_T["positions"]), ("bot_id", "symbol"))
        self._accounts = _upsert(insert(_T["accounts"]), ("bot_id",))
        # A plain insert: fills already stored are sorted out first (``_new_fills``), so a
        # duplicate key here is a bug that must fail loudly, never a silently dropped fact.
        self._fills = _T["fills"].insert()
        self._equity = _T["equity_snapshots"].insert()
        self._events = _T["event_log"].insert()

    def prepare(self, items: Sequence[tuple[str, ActivityLike]]) -> PreparedBatch:
        """Check that every record belongs to the bot it is filed under and build the rows."""
        batch = PreparedBatch()
        orders: list[Row] = []
        fills: list[Row] = []
        positions: list[Row] = []
        accounts: list[Row] = []
        for bot_id, activity in items:
            if _is_empty(activity):
                continue
            _check_owner(bot_id, "order", activity.orders)
            _check_owner(bot_id, "fill", activity.fills)
            _check_owner(bot_id, "position", activity.positions)
            _check_owner(bot_id, "equity snapshot", activity.equity)
            _check_owner(bot_id, "event", activity.events, allow_none=True)
            if activity.account is not None:
                _check_owner(bot_id, "account", [activity.account])
                accounts.append(_row(activity.account, _ACCOUNT_FIELDS))
            batch.bot_ids.add(bot_id)
            orders.extend(_row(order, _ORDER_FIELDS) for order in activity.orders)
            fills.extend(_row(fill, _FILL_FIELDS) for fill in activity.fills)
            positions.extend(_row(position, _POSITION_FIELDS) for position in activity.positions)
            batch.equity.extend(_row(point, _EQUITY_FIELDS) for point in activity.equity)
            batch.events.extend(event_row(event) for event in activity.events)
        # Two versions of one key in one executemany would be applied in order anyway; keeping
        # only the last also keeps PostgreSQL's "cannot affect row a second time" away for good.
        batch.orders = _last_wins(orders, lambda row: (row["bot_id"], row["client_order_id"]))
        batch.positions = _last_wins(positions, lambda row: (row["bot_id"], row["symbol"]))
        batch.accounts = _last_wins(accounts, lambda row: row["bot_id"])
        batch.fills = _unique_fills(fills, batch.conflicts)
        return batch

    def execute(self, connection: Connection, batch: PreparedBatch) -> list[FillConflict]:
        """Write the batch on ``connection`` (inside the caller's transaction), one
        executemany per table. Fills stored already are not written again: identical ones are
        re-reports, different ones are returned as conflicts (with those found in the batch)."""
        conflicts = list(batch.conflicts)
        fills = _new_fills(connection, batch.fills, conflicts)
        for statement, rows in (
            (self._orders, batch.orders),
            (self._fills, fills),
            (self._positions, batch.positions),
            (self._accounts, batch.accounts),
            (self._equity, batch.equity),
            (self._events, batch.events),
        ):
            if rows:
                connection.execute(statement, rows)
        return conflicts


def _new_fills(connection: Connection, rows: list[Row], conflicts: list[FillConflict]) -> list[Row]:
    """``rows`` less those whose (bot id, trade id) is stored; stored ones with other content
    are added to ``conflicts``."""
    if not rows:
        return rows
    table = _T["fills"]
    key_columns = tuple_(table.c.bot_id, table.c.trade_id)
    columns = [table.c[name] for name in _FILL_FIELDS]
    stored: dict[tuple[str, str], Row] = {}
    keys = [_fill_key(row) for row in rows]
    for start in range(0, len(keys), 400):  # two parameters a key: under SQLite's limit
        query = select(*columns).where(key_columns.in_(keys[start : start + 400]))
        for found in connection.execute(query):
            row = dict(zip(_FILL_FIELDS, found, strict=True))
            stored[_fill_key(row)] = row
    if not stored:
        return rows
    new: list[Row] = []
    for row in rows:
        existing = stored.get(_fill_key(row))
        if existing is None:
            new.append(row)
        elif changed := _differences(existing, row):
            conflicts.append(FillConflict(row["bot_id"], row["trade_id"], changed))
    return new


def _upsert(statement: Any, keys: tuple[str, ...], keep: tuple[str, ...] = ()) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other column except ``keep``."""
    table: Table = statement.table
    excluded = statement.excluded
    changes = {
        column.name: excluded[column.name]
        for column in table.columns
        if column.name not in keys and column.name not in keep
    }
    result: Insert = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
    return result
