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
from typing import Any

from sqlalchemy import (
    Connection,
    Text,
    bindparam,
    cast,
    func,
    select,
    update,
)

from algotrade.store.database import ConstraintViolationError
from algotrade.store.errors import DuplicateBotError, UnknownBotError
from algotrade.store.record_reads import RecordReads, select_record
from algotrade.store.records import (
    AccountRecord,
    Activity,
    ActivityLike,
    BotRecord,
    EquityRecord,
    EventRecord,
    FillConflict,
    FillRecord,
    OrderRecord,
    PositionRecord,
)
from algotrade.store.tables import ACCOUNTS, BOTS, EVENTS, FILLS, ORDERS, POSITIONS
from algotrade.store.writes import ActivityWriter, bot_row, event_row


class Store(RecordReads):
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
        """Delete the bot and (cascade, in the same transaction) its orders, fills, positions,
        account, equity and event log."""
        with self._write("delete bot") as connection:
            result = connection.execute(BOTS.delete().where(BOTS.c.bot_id == bot_id))
        if result.rowcount == 0:
            raise UnknownBotError(f"no bot {bot_id!r}")

    def get_bot(self, bot_id: str) -> BotRecord | None:
        with self._read("get bot") as connection:
            query = select_record(BOTS, BotRecord).where(BOTS.c.bot_id == bot_id)
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
        query = select_record(ACCOUNTS, AccountRecord).order_by(ACCOUNTS.c.bot_id)
        with self._read("read accounts") as connection:
            return [AccountRecord(*row) for row in connection.execute(query)]

    def all_positions(self) -> list[PositionRecord]:
        """Every bot's positions, by bot then symbol."""
        query = select_record(POSITIONS, PositionRecord).order_by(
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


_JSON_COLUMNS = ("config", "runtime")


@dataclass(frozen=True, slots=True)
class UnreadableBot:
    """A stored bot row that cannot be loaded, and why."""

    bot_id: str
    reason: str


def _json_object(text: str | None, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not a JSON object")
    return value


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
