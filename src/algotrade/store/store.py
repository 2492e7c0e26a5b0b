"""``Store``: the daemon's durable memory of bots and their trading facts.

Every write is one transaction, committed before the method returns: once a call returns, its
facts survive ``kill -9`` (see the SQLite pragmas in ``engine.py``). Each call takes its own
connection from the engine's pool, so the writer thread and reader threads never share one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.sql import ColumnElement

from algotrade.store.database import ConstraintViolationError, Database
from algotrade.store.errors import DuplicateBotError, UnknownBotError
from algotrade.store.models import Base
from algotrade.store.records import (
    OPEN_ORDER_STATUSES,
    AccountRecord,
    Activity,
    ActivityLike,
    BotRecord,
    EquityRecord,
    EventRecord,
    FillConflict,
    FillRecord,
    OrderRecord,
    Page,
    PositionRecord,
)
from algotrade.store.writes import ActivityWriter, bot_row, event_row

R = TypeVar("R")

_T = Base.metadata.tables
BOTS, ORDERS, FILLS = _T["bots"], _T["orders"], _T["fills"]
POSITIONS, ACCOUNTS, EQUITY, EVENTS = (
    _T["positions"],
    _T["accounts"],
    _T["equity_snapshots"],
    _T["event_log"],
)


class Store(Database):
    """Persistence on SQLite (default, WAL) or PostgreSQL, chosen by URL.

    ``Store(url)`` makes no connection; ``open()`` connects and migrates (see ``Database``).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        super().__init__(url, echo=echo)
        self._writer: ActivityWriter | None = None

    # -- bots --------------------------------------------------------------------------------

    def insert_bot(self, config: dict[str, Any], state: str = "stopped") -> BotRecord:
        record = bot_row(config, state, datetime.now(UTC))
        try:
            with self._write("insert bot") as connection:
                connection.execute(BOTS.insert(), [record])
        except ConstraintViolationError as exc:
            raise DuplicateBotError(f"bot {record['bot_id']!r} already exists") from exc
        return BotRecord(**record)

    def insert_bots(self, configs: Sequence[dict[str, Any]]) -> None:
        """Insert many bots in one transaction (all or none)."""
        now = datetime.now(UTC)
        rows = [bot_row(config, "stopped", now) for config in configs]
        ids = [row["bot_id"] for row in rows]
        repeated = sorted(bot_id for bot_id, n in Counter(ids).items() if n > 1)
        if repeated:
            raise DuplicateBotError(f"bot ids given more than once: {_some(repeated)}")
        if not rows:
            return
        try:
            with self._write("insert bots") as connection:
                connection.execute(BOTS.insert(), rows)
        except ConstraintViolationError as exc:
            existing = sorted(set(ids) & self._existing_bot_ids(ids))
            raise DuplicateBotError(f"bots already exist: {_some(existing)}") from exc

    def update_bot_config(self, bot_id: str, config: dict[str, Any]) -> None:
        if config.get("bot_id", bot_id) != bot_id:
            raise ValueError(f"config is for bot {config.get('bot_id')!r}, not {bot_id!r}")
        self._update_bot(bot_id, config=config)

    def set_bot_state(self, bot_id: str, state: str, runtime: dict[str, Any]) -> None:
        self._update_bot(bot_id, state=state, runtime=runtime)

    def set_bot_states(self, items: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Many ``(bot_id, state, runtime)`` changes in one transaction (all or none)."""
        if not items:
            return
        now = datetime.now(UTC)
        rows = [
            {"key": bot_id, "state": state, "runtime": runtime, "updated_at": now}
            for bot_id, state, runtime in items
        ]
        statement = (
            update(BOTS)
            .where(BOTS.c.bot_id == bindparam("key"))
            .values(state=bindparam("state"), runtime=bindparam("runtime"))
            .values(updated_at=bindparam("updated_at"))
        )
        wanted = {bot_id for bot_id, _, _ in items}
        with self._write("set bot states") as connection:
            missing = sorted(wanted - _existing_bot_ids(connection, wanted))
            if missing:  # raising inside the transaction rolls it back
                raise UnknownBotError(f"no bot {_some(missing)}")
            connection.execute(statement, rows)

    def delete_bot(self, bot_id: str) -> None:
        """Delete the bot and (cascade) its orders, fills, positions, account and equity; the
        event log keeps its lines."""
        with self._write("delete bot") as connection:
            result = connection.execute(BOTS.delete().where(BOTS.c.bot_id == bot_id))
        if result.rowcount == 0:
            raise UnknownBotError(f"no bot {bot_id!r}")

    def get_bot(self, bot_id: str) -> BotRecord | None:
        with self._read("get bot") as connection:
            query = _select_record(BOTS, BotRecord).where(BOTS.c.bot_id == bot_id)
            row = connection.execute(query).one_or_none()
        return None if row is None else BotRecord(*row)

    def load_bots(self) -> list[BotRecord]:
        """All readable bots, oldest first (see ``load_bots_checked`` for the others)."""
        return self.load_bots_checked()[0]

    def load_bots_checked(self) -> tuple[list[BotRecord], list[UnreadableBot]]:
        """All bots, oldest first, and the rows that cannot be read (a config or runtime that
        is not a JSON object, e.g. edited by hand): one bad row must not hide the others."""
        columns = [
            cast(BOTS.c[name], Text) if name in _JSON_COLUMNS else BOTS.c[name]
            for name in (field.name for field in fields(BotRecord))
        ]
        query = select(*columns).order_by(BOTS.c.created_at, BOTS.c.bot_id)
        records: list[BotRecord] = []
        problems: list[UnreadableBot] = []
        with self._read("load bots") as connection:
            for row in connection.execute(query):
                values = dict(zip((field.name for field in fields(BotRecord)), row, strict=True))
                try:
                    for name in _JSON_COLUMNS:
                        values[name] = _json_object(values[name], name)
                except ValueError as exc:
                    problems.append(UnreadableBot(str(values["bot_id"]), str(exc)))
                    continue
                records.append(BotRecord(**values))
        return records, problems

    def all_accounts(self) -> list[AccountRecord]:
        """Every bot's account (restoring 10,000 bots in one query, not 10,000)."""
        query = _select_record(ACCOUNTS, AccountRecord).order_by(ACCOUNTS.c.bot_id)
        with self._read("read accounts") as connection:
            return [AccountRecord(*row) for row in connection.execute(query)]

    def all_positions(self) -> list[PositionRecord]:
        """Every bot's positions, by bot then symbol."""
        query = _select_record(POSITIONS, PositionRecord).order_by(
            POSITIONS.c.bot_id, POSITIONS.c.symbol
        )
        with self._read("read positions") as connection:
            return [PositionRecord(*row) for row in connection.execute(query)]

    def order_fill_counts(self) -> dict[str, tuple[int, int]]:
        """bot id → (number of orders, number of fills), for bots that have any."""
        order_counts = select(ORDERS.c.bot_id, func.count()).group_by(ORDERS.c.bot_id)
        fill_counts = select(FILLS.c.bot_id, func.count()).group_by(FILLS.c.bot_id)
        with self._read("count orders and fills") as connection:
            orders = {bot_id: int(n) for bot_id, n in connection.execute(order_counts)}
            fills = {bot_id: int(n) for bot_id, n in connection.execute(fill_counts)}
        return {
            bot_id: (orders.get(bot_id, 0), fills.get(bot_id, 0))
            for bot_id in sorted(orders.keys() | fills.keys())
        }

    def count_bots(self) -> int:
        with self._read("count bots") as connection:
            return int(connection.execute(select(func.count()).select_from(BOTS)).scalar_one())

    # -- trading facts -----------------------------------------------------------------------

    def record_activity(
        self,
        bot_id: str,
        *,
        orders: Sequence[OrderRecord] = (),
        fills: Sequence[FillRecord] = (),
        positions: Sequence[PositionRecord] = (),
        account: AccountRecord | None = None,
        equity: Sequence[EquityRecord] = (),
        events: Sequence[EventRecord] = (),
    ) -> list[FillConflict]:
        """Save one bot's new facts in one transaction: orders and positions are upserted, the
        account replaced, fills inserted once (a known ``trade_id`` with the same content is a
        re-report and skipped; with other content it is a conflict, returned), equity
        snapshots and events appended."""
        activity = Activity(orders, fills, positions, account, equity, events)
        return self.record_activity_batch([(bot_id, activity)])

    def record_activity_batch(
        self, items: Sequence[tuple[str, ActivityLike]]
    ) -> list[FillConflict]:
        """Many bots' activity in one transaction (the daemon batches for throughput).
        Returns the fills not written because they conflict with stored ones."""
        writer = self._activity_writer()
        batch = writer.prepare(items)
        if batch.is_empty:
            return batch.conflicts
        try:
            with self._write("record activity") as connection:
                return writer.execute(connection, batch)
        except ConstraintViolationError as exc:
            missing = sorted(batch.bot_ids - self._existing_bot_ids(batch.bot_ids))
            if missing:
                raise UnknownBotError(f"no bot {_some(missing)}") from exc
            raise

    def add_events(self, events: Sequence[EventRecord]) -> None:
        if not events:
            return
        with self._write("add events") as connection:
            connection.execute(EVENTS.insert(), [event_row(event) for event in events])

    # -- reads -------------------------------------------------------------------------------

    def orders(
        self, bot_id: str, *, offset: int = 0, limit: int = 100, open_only: bool = False
    ) -> Page[OrderRecord]:
        """Orders in creation order."""
        where = [ORDERS.c.bot_id == bot_id]
        if open_only:
            where.append(ORDERS.c.status.in_(OPEN_ORDER_STATUSES))
        order_by = (ORDERS.c.created_ts, ORDERS.c.client_order_id)
        return self._page(ORDERS, OrderRecord, where, order_by, offset, limit)

    def open_orders(self, bot_id: str) -> list[OrderRecord]:
        """Orders still working (new, accepted, partially filled), in creation order."""
        query = (
            _select_record(ORDERS, OrderRecord)
            .where(ORDERS.c.bot_id == bot_id, ORDERS.c.status.in_(OPEN_ORDER_STATUSES))
            .order_by(ORDERS.c.created_ts, ORDERS.c.client_order_id)
        )
        with self._read("read open orders") as connection:
            return [OrderRecord(*row) for row in connection.execute(query)]

    def open_order_trade_ids(self, bot_id: str) -> dict[str, list[str]]:
        """Trade ids already booked for each of the bot's open orders (oldest first): an
        adopted order must not book the same execution twice when the venue reports it
        again."""
        open_ids = select(ORDERS.c.client_order_id).where(
            ORDERS.c.bot_id == bot_id, ORDERS.c.status.in_(OPEN_ORDER_STATUSES)
        )
        query = (
            select(FILLS.c.client_order_id, FILLS.c.trade_id)
            .where(FILLS.c.bot_id == bot_id, FILLS.c.client_order_id.in_(open_ids))
            .order_by(FILLS.c.ts, FILLS.c.id)
        )
        out: dict[str, list[str]] = {}
        with self._read("read trade ids of open orders") as connection:
            for client_order_id, trade_id in connection.execute(query):
                out.setdefault(client_order_id, []).append(trade_id)
        return out

    def fills(self, bot_id: str, *, offset: int = 0, limit: int = 100) -> Page[FillRecord]:
        """Fills in time order."""
        order_by = (FILLS.c.ts, FILLS.c.id)
        return self._page(FILLS, FillRecord, [FILLS.c.bot_id == bot_id], order_by, offset, limit)

    def fills_by_bot(self) -> tuple[dict[str, list[FillRecord]], dict[str, str]]:
        """Every stored fill, by bot, in the order it was booked: what a restart replays to
        rebuild positions, cost bases, cash and PnL. Money is parsed row by row, so a row
        edited into nonsense names its bot (second dict: bot id → reason) instead of failing
        the whole read."""
        names = [field.name for field in fields(FillRecord)]
        money = {"qty", "price", "fee"}
        columns = [type_coerce(FILLS.c[n], Text) if n in money else FILLS.c[n] for n in names]
        query = select(*columns).order_by(FILLS.c.bot_id, FILLS.c.id)
        out: dict[str, list[FillRecord]] = {}
        problems: dict[str, str] = {}
        with self._read("read fills") as connection:
            for row in connection.execution_options(yield_per=5000).execute(query):
                values = dict(zip(names, row, strict=True))
                bot_id = str(values["bot_id"])
                try:
                    for name in money:
                        values[name] = _stored_decimal(
                            values[name], f"fill {values['trade_id']}: {name}"
                        )
                except ValueError as exc:
                    problems.setdefault(bot_id, str(exc))
                    continue
                out.setdefault(bot_id, []).append(FillRecord(**values))
        return out, problems

    def latest_fills(self, bot_ids: Sequence[str]) -> tuple[int, list[str]]:
        """(timestamp of the newest fill of these bots, trade ids of the fills at or after one
        minute before it): where a venue adapter resumes asking for fills after a restart, and
        which of those it has booked already. ``(0, [])`` when they have none."""
        if not bot_ids:
            return 0, []
        with self._read("read latest fills") as connection:
            newest = connection.execute(
                select(func.max(FILLS.c.ts)).where(FILLS.c.bot_id.in_(bot_ids))
            ).scalar()
            if newest is None:
                return 0, []
            since = int(newest) - 60_000_000_000
            ids = connection.execute(
                select(FILLS.c.trade_id).where(FILLS.c.bot_id.in_(bot_ids), FILLS.c.ts >= since)
            ).scalars()
            return int(newest), list(ids)

    def positions(self, bot_id: str) -> list[PositionRecord]:
        query = (
            _select_record(POSITIONS, PositionRecord)
            .where(POSITIONS.c.bot_id == bot_id)
            .order_by(POSITIONS.c.symbol)
        )
        with self._read("read positions") as connection:
            return [PositionRecord(*row) for row in connection.execute(query)]

    def account(self, bot_id: str) -> AccountRecord | None:
        query = _select_record(ACCOUNTS, AccountRecord).where(ACCOUNTS.c.bot_id == bot_id)
        with self._read("read account") as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else AccountRecord(*row)

    def equity(self, bot_id: str, *, offset: int = 0, limit: int = 100) -> Page[EquityRecord]:
        """Equity snapshots in time order."""
        order_by = (EQUITY.c.ts, EQUITY.c.id)
        where = [EQUITY.c.bot_id == bot_id]
        return self._page(EQUITY, EquityRecord, where, order_by, offset, limit)

    def events(self, bot_id: str | None, *, offset: int = 0, limit: int = 100) -> Page[EventRecord]:
        """Event log lines, oldest first; ``bot_id`` None reads every line."""
        where = [] if bot_id is None else [EVENTS.c.bot_id == bot_id]
        return self._page(EVENTS, EventRecord, where, (EVENTS.c.id,), offset, limit)

    def max_order_seq(self, bot_id: str, prefix: str) -> int:
        """The largest N among this bot's client order ids ``f"{prefix}{N}"`` (0 if none), so
        that ids continue without reuse after a restart."""
        query = select(ORDERS.c.client_order_id).where(
            ORDERS.c.bot_id == bot_id, ORDERS.c.client_order_id.startswith(prefix, autoescape=True)
        )
        with self._read("read order ids") as connection:
            ids = connection.execute(query).scalars().all()
        # In Python: SQLite's LIKE ignores case and "digits only" is awkward in portable SQL.
        numbers = [
            int(suffix)
            for suffix in (
                order_id[len(prefix) :] for order_id in ids if order_id.startswith(prefix)
            )
            if suffix.isascii() and suffix.isdigit()
        ]
        return max(numbers, default=0)

    # -- internals ---------------------------------------------------------------------------

    def _activity_writer(self) -> ActivityWriter:
        engine = self._require_engine()
        if self._writer is None:  # statements depend on the dialect, known once open
            self._writer = ActivityWriter(engine.dialect.name)
        return self._writer

    def _update_bot(self, bot_id: str, **values: Any) -> None:
        statement = (
            update(BOTS)
            .where(BOTS.c.bot_id == bot_id)
            .values(**values, updated_at=datetime.now(UTC))
        )
        with self._write("update bot") as connection:
            result = connection.execute(statement)
        if result.rowcount == 0:
            raise UnknownBotError(f"no bot {bot_id!r}")

    def _existing_bot_ids(self, bot_ids: Sequence[str] | set[str]) -> set[str]:
        with self._read("read bot ids") as connection:
            return _existing_bot_ids(connection, bot_ids)

    def _page(
        self,
        table: Table,
        record: type[R],
        where: list[ColumnElement[bool]],
        order_by: tuple[Any, ...],
        offset: int,
        limit: int,
    ) -> Page[R]:
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be >= 0, got {offset} and {limit}")
        count = select(func.count()).select_from(table).where(*where)
        query = _select_record(table, record).where(*where).order_by(*order_by)
        query = query.offset(offset).limit(limit)
        with self._read(f"read {table.name}") as connection:
            total = int(connection.execute(count).scalar_one())
            items = [record(*row) for row in connection.execute(query)] if limit else []
        return Page(items=items, total=total, offset=offset, limit=limit)


_JSON_COLUMNS = ("config", "runtime")


@dataclass(frozen=True, slots=True)
class UnreadableBot:
    """A stored bot row that cannot be loaded, and why."""

    bot_id: str
    reason: str


def _stored_decimal(text: Any, what: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValueError(f"{what} is {text!r}, not a number")
    return value


def _json_object(text: str | None, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not a JSON object")
    return value


def _select_record(table: Table, record: type[Any]) -> Any:
    """SELECT the table's columns named like the record's fields, in field order."""
    return select(*(table.c[field.name] for field in fields(record)))


def _existing_bot_ids(connection: Connection, bot_ids: Sequence[str] | set[str]) -> set[str]:
    wanted = list(set(bot_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
        query = select(BOTS.c.bot_id).where(BOTS.c.bot_id.in_(wanted[start : start + 500]))
        found.update(connection.execute(query).scalars())
    return found


def _some(ids: Sequence[str], shown: int = 5) -> str:
    text = ", ".join(repr(bot_id) for bot_id in ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
