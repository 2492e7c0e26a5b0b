"""Reads of a bot's trading facts: orders, fills, positions, accounts, equity, events.

Pages (``_page``) serve the API and the CLI; the whole-table reads (``fills_by_bot``) serve a
restart. Every read takes its own pooled connection (see ``Database._read``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Table, Text, func, select, type_coerce
from sqlalchemy.sql import ColumnElement

from algotrade.store.database import Database
from algotrade.store.records import (
    OPEN_ORDER_STATUSES,
    AccountRecord,
    EquityRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    Page,
    PositionRecord,
)
from algotrade.store.tables import ACCOUNTS, EQUITY, EVENTS, FILLS, ORDERS, POSITIONS

R = TypeVar("R")
#: Trade ids asked about per query (``booked_trade_ids``): well under the bound parameters
#: either backend takes in one statement, with the bot ids beside them.
_TRADE_ID_BATCH = 500


class RecordReads(Database):
    """The read half of ``Store`` (the writes and the bots table live in ``store.py``)."""

    def orders(
        self,
        bot_id: str,
        *,
        offset: int = 0,
        limit: int = 100,
        open_only: bool = False,
        newest_first: bool = False,
    ) -> Page[OrderRecord]:
        """Orders in creation order (``newest_first``: reversed, the offset counted from the
        newest; the same for fills, equity and events)."""
        where = [ORDERS.c.bot_id == bot_id]
        if open_only:
            where.append(ORDERS.c.status.in_(OPEN_ORDER_STATUSES))
        order_by = (ORDERS.c.created_ts, ORDERS.c.client_order_id)
        return self._page(ORDERS, OrderRecord, where, order_by, offset, limit, newest_first)

    def open_orders(self, bot_id: str) -> list[OrderRecord]:
        """Orders still working (new, accepted, partially filled), in creation order."""
        query = (
            select_record(ORDERS, OrderRecord)
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

    def open_orders_of(self, bot_ids: Sequence[str]) -> list[OrderRecord]:
        """The orders still working of all these bots, oldest first: after a restart, the
        orders that may have filled at the venue while nothing was recorded."""
        if not bot_ids:
            return []
        query = (
            select_record(ORDERS, OrderRecord)
            .where(ORDERS.c.bot_id.in_(bot_ids), ORDERS.c.status.in_(OPEN_ORDER_STATUSES))
            .order_by(ORDERS.c.created_ts, ORDERS.c.bot_id, ORDERS.c.client_order_id)
        )
        with self._read("read open orders") as connection:
            return [OrderRecord(*row) for row in connection.execute(query)]

    def booked_trade_ids(self, bot_ids: Sequence[str], trade_ids: Iterable[str]) -> set[str]:
        """Which of ``trade_ids`` are stored as fills of these bots: whether an execution the
        venue reports after a restart was booked, whatever its age."""
        wanted = list(dict.fromkeys(trade_ids))
        if not bot_ids or not wanted:
            return set()
        found: set[str] = set()
        with self._read("read booked trade ids") as connection:
            for start in range(0, len(wanted), _TRADE_ID_BATCH):
                batch = wanted[start : start + _TRADE_ID_BATCH]
                query = select(FILLS.c.trade_id).where(
                    FILLS.c.bot_id.in_(bot_ids), FILLS.c.trade_id.in_(batch)
                )
                found.update(connection.execute(query).scalars())
        return found

    def fills(
        self, bot_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> Page[FillRecord]:
        """Fills in time order."""
        order_by = (FILLS.c.ts, FILLS.c.id)
        where = [FILLS.c.bot_id == bot_id]
        return self._page(FILLS, FillRecord, where, order_by, offset, limit, newest_first)

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

    def latest_fills(
        self, bot_ids: Sequence[str], window_ns: int = 60_000_000_000
    ) -> tuple[int, list[str]]:
        """(timestamp of the newest fill of these bots, trade ids of the fills at or after
        ``window_ns`` before it): where a venue adapter resumes asking for fills after a
        restart, and which of those it has booked already. ``(0, [])`` when they have none."""
        if not bot_ids:
            return 0, []
        with self._read("read latest fills") as connection:
            newest = connection.execute(
                select(func.max(FILLS.c.ts)).where(FILLS.c.bot_id.in_(bot_ids))
            ).scalar()
            if newest is None:
                return 0, []
            since = int(newest) - window_ns
            ids = connection.execute(
                select(FILLS.c.trade_id).where(FILLS.c.bot_id.in_(bot_ids), FILLS.c.ts >= since)
            ).scalars()
            return int(newest), list(ids)

    def positions(self, bot_id: str) -> list[PositionRecord]:
        query = (
            select_record(POSITIONS, PositionRecord)
            .where(POSITIONS.c.bot_id == bot_id)
            .order_by(POSITIONS.c.symbol)
        )
        with self._read("read positions") as connection:
            return [PositionRecord(*row) for row in connection.execute(query)]

    def account(self, bot_id: str) -> AccountRecord | None:
        query = select_record(ACCOUNTS, AccountRecord).where(ACCOUNTS.c.bot_id == bot_id)
        with self._read("read account") as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else AccountRecord(*row)

    def equity(
        self, bot_id: str, *, offset: int = 0, limit: int = 100, newest_first: bool = False
    ) -> Page[EquityRecord]:
        """Equity snapshots in time order."""
        order_by = (EQUITY.c.ts, EQUITY.c.id)
        where = [EQUITY.c.bot_id == bot_id]
        return self._page(EQUITY, EquityRecord, where, order_by, offset, limit, newest_first)

    def equity_before(self, ts: int) -> dict[str, Decimal]:
        """Each bot's last equity snapshot taken before ``ts`` (ns): what a bot was worth at
        that moment, for "PnL today". Bots without one are left out."""
        last = (
            select(EQUITY.c.bot_id, func.max(EQUITY.c.id).label("id"))
            .where(EQUITY.c.ts < ts)
            .group_by(EQUITY.c.bot_id)
            .subquery()
        )
        query = select(EQUITY.c.bot_id, EQUITY.c.equity).join(last, EQUITY.c.id == last.c.id)
        with self._read("read equity") as connection:
            return {str(bot_id): equity for bot_id, equity in connection.execute(query)}

    def events(
        self,
        bot_id: str | None,
        *,
        offset: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> Page[EventRecord]:
        """Event log lines, oldest first; ``bot_id`` None reads every line."""
        where = [] if bot_id is None else [EVENTS.c.bot_id == bot_id]
        order_by = (EVENTS.c.id,)
        return self._page(EVENTS, EventRecord, where, order_by, offset, limit, newest_first)

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

    def _page(
        self,
        table: Table,
        record: type[R],
        where: list[ColumnElement[bool]],
        order_by: tuple[Any, ...],
        offset: int,
        limit: int,
        newest_first: bool = False,
    ) -> Page[R]:
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be >= 0, got {offset} and {limit}")
        if newest_first:
            order_by = tuple(column.desc() for column in order_by)
        count = select(func.count()).select_from(table).where(*where)
        query = select_record(table, record).where(*where).order_by(*order_by)
        query = query.offset(offset).limit(limit)
        with self._read(f"read {table.name}") as connection:
            total = int(connection.execute(count).scalar_one())
            items = [record(*row) for row in connection.execute(query)] if limit else []
        return Page(items=items, total=total, offset=offset, limit=limit)


def select_record(table: Table, record: type[Any]) -> Any:
    """SELECT the table's columns named like the record's fields, in field order."""
    return select(*(table.c[field.name] for field in fields(record)))


def _stored_decimal(text: Any, what: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValueError(f"{what} is {text!r}, not a number")
    return value
