"""Turning records into rows and writing a batch of activity with dialect-specific upserts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, Table, select, tuple_

from algotrade.store.bulk_rows import BulkTable
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
_FILL_FIELDS = tuple(f.name for f in fields(FillRecord))
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
    """Records to write, deduplicated: the last version of an order/position/account wins, the
    first copy of a fill is kept (a later copy with other content is a conflict)."""

    bot_ids: set[str] = field(default_factory=set)
    orders: list[OrderRecord] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    positions: list[PositionRecord] = field(default_factory=list)
    accounts: list[AccountRecord] = field(default_factory=list)
    equity: list[EquityRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
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


_R = TypeVar("_R")


def _last_wins(records: Iterable[_R], key: Callable[[_R], Any]) -> list[_R]:
    latest: dict[Any, _R] = {}
    for record in records:
        k = key(record)
        latest.pop(k, None)  # re-insert so the dict keeps the latest position
        latest[k] = record
    return list(latest.values())


_fill_key = attrgetter("bot_id", "trade_id")
_fill_values = attrgetter(*_FILL_FIELDS)


def _differences(stored: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    """Field → (stored, new) where two fills differ (values compared as values: money is
    Decimal, so 2 and 2.0 are the same quantity)."""
    pairs = zip(_FILL_FIELDS, _fill_values(stored), _fill_values(new), strict=True)
    return {name: (a, b) for name, a, b in pairs if _plain(a) != _plain(b)}


def _unique_fills(fills: Iterable[FillRecord], conflicts: list[FillConflict]) -> list[FillRecord]:
    """The first copy of each fill; an identical later copy is a re-report (dropped), a
    different one a conflict (reported, not written)."""
    first: dict[tuple[str, str], FillRecord] = {}
    for fill in fills:
        key = _fill_key(fill)
        kept = first.setdefault(key, fill)
        if kept is not fill and (changed := _differences(kept, fill)):
            conflicts.append(FillConflict(key[0], key[1], changed))
    return list(first.values())


class ActivityWriter:
    """Bulk statements for one dialect. Upserts are dialect-specific (``ON CONFLICT``)
    because a read-then-write would cost a round trip per row and race with other writers;
    the rows go to the driver as tuples (``bulk_rows``)."""

    def __init__(self, dialect_name: str) -> None:
        if dialect_name not in ("sqlite", "postgresql"):  # pragma: no cover - parse_url
            raise ValueError(f"unsupported dialect {dialect_name!r}")
        d = dialect_name
        self._orders = BulkTable(
            _T["orders"],
            OrderRecord,
            d,
            conflict=("bot_id", "client_order_id"),
            keep=("created_ts",),
        )
        self._positions = BulkTable(
            _T["positions"], PositionRecord, d, conflict=("bot_id", "symbol")
        )
        self._accounts = BulkTable(_T["accounts"], AccountRecord, d, conflict=("bot_id",))
        # Fills are inserted once: a (bot, trade id) already stored is skipped by the insert
        # and then compared with what is stored (``_settle_skipped_fills``), so a skipped
        # fill is always either a re-report or a reported conflict, never a dropped fact.
        self._fills = BulkTable(
            _T["fills"], FillRecord, d, conflict=("bot_id", "trade_id"), do_nothing=True
        )
        self._equity = BulkTable(_T["equity_snapshots"], EquityRecord, d)
        self._events = _T["event_log"].insert()  # JSON and datetime: typed by SQLAlchemy

    def prepare(self, items: Sequence[tuple[str, ActivityLike]]) -> PreparedBatch:
        """Check that every record belongs to the bot it is filed under, deduplicate."""
        batch = PreparedBatch()
        orders: list[OrderRecord] = []
        fills: list[FillRecord] = []
        positions: list[PositionRecord] = []
        accounts: list[AccountRecord] = []
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
                accounts.append(activity.account)
            batch.bot_ids.add(bot_id)
            orders.extend(activity.orders)
            fills.extend(activity.fills)
            positions.extend(activity.positions)
            batch.equity.extend(activity.equity)
            batch.events.extend(activity.events)
        # Two versions of one key in one executemany would be applied in order anyway; keeping
        # only the last also keeps PostgreSQL's "cannot affect row a second time" away for good.
        batch.orders = _last_wins(orders, attrgetter("bot_id", "client_order_id"))
        batch.positions = _last_wins(positions, attrgetter("bot_id", "symbol"))
        batch.accounts = _last_wins(accounts, attrgetter("bot_id"))
        batch.fills = _unique_fills(fills, batch.conflicts)
        return batch

    def execute(self, connection: Connection, batch: PreparedBatch) -> list[FillConflict]:
        """Write the batch on ``connection`` (inside the caller's transaction), one
        executemany per table. Fills stored already are not written again: identical ones are
        re-reports, different ones are returned as conflicts (with those found in the batch)."""
        conflicts = list(batch.conflicts)
        for table, records in (
            (self._orders, batch.orders),
            (self._fills, batch.fills),
            (self._positions, batch.positions),
            (self._accounts, batch.accounts),
            (self._equity, batch.equity),
        ):
            if not records:
                continue
            written = table.write(connection, records)
            if table is self._fills and written != len(records):
                _settle_skipped_fills(connection, batch.fills, conflicts)
        if batch.events:
            connection.execute(self._events, [event_row(event) for event in batch.events])
        return conflicts


def _settle_skipped_fills(
    connection: Connection, fills: list[FillRecord], conflicts: list[FillConflict]
) -> None:
    """Some fills were stored already (the insert skipped them): compare each fill of the
    batch with the stored one; those stored with other content are conflicts. (The fills
    the insert just wrote compare equal to themselves.)"""
    table = _T["fills"]
    key_columns = tuple_(table.c.bot_id, table.c.trade_id)
    columns = [table.c[name] for name in _FILL_FIELDS]
    keys = [_fill_key(fill) for fill in fills]
    stored: dict[tuple[str, str], Row] = {}
    for start in range(0, len(keys), 400):  # two parameters a key: under SQLite's limit
        query = select(*columns).where(key_columns.in_(keys[start : start + 400]))
        for found in connection.execute(query):
            row = dict(zip(_FILL_FIELDS, found, strict=True))
            stored[(row["bot_id"], row["trade_id"])] = row
    for fill in fills:
        existing = stored.get(_fill_key(fill))
        if existing is None:  # pragma: no cover - the insert stored or skipped every fill
            raise AssertionError(f"fill {fill.trade_id} neither stored nor found")
        changed = _differences(_AsAttributes(existing), fill)
        if changed:
            conflicts.append(FillConflict(fill.bot_id, fill.trade_id, changed))


class _AsAttributes:
    """A stored row (dict) read like a record."""

    __slots__ = ("_row",)

    def __init__(self, row: Row) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[name]
        except KeyError:
            raise AttributeError(name) from None


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
