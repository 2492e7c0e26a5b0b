"""``RiskStore``: the account risk engine's durable memory, on an opened ``Store``.

Lockouts, per-account state (daily PnL, trade counts, ...), the risk log and the audit trail
must survive ``kill -9``: ``commit_decision`` writes everything one decision caused in ONE
transaction, committed before it returns, so the engine acknowledges (and enforces) a decision
only once it is durable. A companion of ``Store`` in this package: it uses the store's
connections, transaction discipline and error translation (``StoreError`` /
``StoreUnavailableError``, never SQL or passwords in messages).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from algotrade.store.errors import StoreError
from algotrade.store.models import Base
from algotrade.store.record_reads import select_record
from algotrade.store.records import Page
from algotrade.store.records_risk import (
    AUDIT_ACTIONS,
    LOG_KINDS,
    LOG_STATUSES,
    UNTIL_KINDS,
    AuditRecord,
    LockoutRecord,
    RiskLogRecord,
    RiskStateRecord,
)
from algotrade.store.store import Store
from algotrade.store.writes import Row, _plain, _upsert

_T = Base.metadata.tables
STATES, LOCKOUTS = _T["risk_account_state"], _T["risk_lockouts"]
LOG, AUDIT = _T["risk_log"], _T["risk_audit"]

LockoutRef = int | tuple[str, str, int]
"""A lockout by its store id, or by its key (account_id, rule, start_ts)."""
Clear = tuple[LockoutRef, int, str, str]
"""(lockout, cleared_ts, cleared_by, clear_reason)."""


class UnknownLockoutError(StoreError):
    """A lockout to clear is not stored (or belongs to another account); nothing of the call
    was committed."""


class UnknownLogEntryError(StoreError):
    """No risk log line with this id."""


def _names(record: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record) if f.name != "id")  # id: assigned by the store


_STATE_FIELDS = _names(RiskStateRecord)
_LOCKOUT_FIELDS = _names(LockoutRecord)
_LOG_FIELDS = _names(RiskLogRecord)
_AUDIT_FIELDS = _names(AuditRecord)


def _row(record: Any, names: tuple[str, ...]) -> Row:
    return {name: _plain(getattr(record, name)) for name in names}


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _owned(account_id: str | None, kind: str, owner: str | None) -> None:
    """With an ``account_id``, every item of the call must belong to that account."""
    if account_id is not None and owner != account_id:
        raise ValueError(f"{kind} of account {owner!r} given in a decision of {account_id!r}")


def _state_row(account_id: str | None, state: RiskStateRecord) -> Row:
    _owned(account_id, "state", state.account_id)
    return _row(state, _STATE_FIELDS)


def _lockout_row(account_id: str | None, lockout: LockoutRecord) -> Row:
    _owned(account_id, "lockout", lockout.account_id)
    row = _row(lockout, _LOCKOUT_FIELDS)
    _one_of("until_kind", row["until_kind"], UNTIL_KINDS)
    if row["until_kind"] == "time" and lockout.until_ts is None:
        raise ValueError(f"lockout {lockout.rule!r} until 'time' needs an until_ts")
    return row


def _log_row(account_id: str | None, line: RiskLogRecord) -> Row:
    _owned(account_id, "log line", line.account_id)
    row = _row(line, _LOG_FIELDS)
    _one_of("log kind", row["kind"], LOG_KINDS)
    _one_of("log status", row["status"], LOG_STATUSES)
    if line.attempts < 0:
        raise ValueError(f"attempts must be >= 0, got {line.attempts}")
    return row


def _audit_row(account_id: str | None, entry: AuditRecord) -> Row:
    _owned(account_id, "audit entry", entry.account_id)
    row = _row(entry, _AUDIT_FIELDS)
    _one_of("audit action", row["action"], AUDIT_ACTIONS)
    return row


def _lockout_where(account_id: str | None, ref: LockoutRef) -> list[ColumnElement[bool]]:
    if isinstance(ref, int) and not isinstance(ref, bool):
        where = [LOCKOUTS.c.id == ref]
        if account_id is not None:
            where.append(LOCKOUTS.c.account_id == account_id)
        return where
    if not (isinstance(ref, tuple) and len(ref) == 3):
        raise ValueError(f"a lockout is an id or (account_id, rule, start_ts), got {ref!r}")
    owner, rule, start_ts = ref
    _owned(account_id, "lockout", owner)
    return [
        LOCKOUTS.c.account_id == owner,
        LOCKOUTS.c.rule == rule,
        LOCKOUTS.c.start_ts == start_ts,
    ]


def _describe(account_id: str | None, ref: LockoutRef) -> str:
    if isinstance(ref, tuple):
        return f"(account {ref[0]!r}, rule {ref[1]!r}, start_ts {ref[2]})"
    return f"id {ref}" + ("" if account_id is None else f" of account {account_id!r}")


def _first_wins(rows: list[Row], key: Callable[[Row], Any]) -> list[Row]:
    first: dict[Any, Row] = {}
    for row in rows:
        first.setdefault(key(row), row)
    return list(first.values())


def _without(record: Any, *names: str) -> dict[str, Any]:
    api: dict[str, Any] = record.to_api()
    for name in names:
        del api[name]
    return api


class RiskStore:
    """The risk tables on ``store``'s database; every call is one transaction.

    Build it from a ``Store`` (it shares the store's engine and its open/closed life: calls
    on a closed store raise ``StoreError``).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        insert: Callable[[Table], Any]
        insert = sqlite.insert if store.backend == "sqlite" else postgresql.insert
        self._upsert_state = _upsert(insert(STATES), ("account_id",))
        self._insert_lockouts = insert(LOCKOUTS).on_conflict_do_nothing(
            index_elements=["account_id", "rule", "start_ts"]
        )
        # One executemany that returns every new id, in the order the rows were given.
        self._insert_log = LOG.insert().returning(LOG.c.id, sort_by_parameter_order=True)
        self._insert_audit = AUDIT.insert()

    # -- writes ------------------------------------------------------------------------------

    def commit_decision(
        self,
        account_id: str | None,
        *,
        state: RiskStateRecord | None = None,
        new_lockouts: Sequence[LockoutRecord] = (),
        cleared: Sequence[Clear] = (),
        log: Sequence[RiskLogRecord] = (),
        audit: Sequence[AuditRecord] = (),
    ) -> list[int]:
        """Write everything one decision caused in ONE transaction (all or nothing); returns
        the new log lines' ids, in the order given.

        - ``state`` replaces the account's state row (upsert);
        - ``new_lockouts`` are inserted once: a lockout whose (account_id, rule, start_ts) is
          stored already is skipped (a replayed decision changes nothing), cleared or not;
        - ``cleared`` items ``(lockout, cleared_ts, cleared_by, clear_reason)`` name a lockout
          by id or by (account_id, rule, start_ts), possibly one inserted by this very call.
          An already cleared lockout keeps its first clearing; an unknown one raises
          ``UnknownLockoutError`` and rolls the whole call back;
        - ``log`` lines and ``audit`` entries are appended.

        With an ``account_id`` every item must belong to that account (``ValueError``
        otherwise, before anything is written); ``None`` is a global call (e.g. a rules change
        that clears lockouts of several accounts), where items carry their own accounts.
        """
        state_rows = [] if state is None else [_state_row(account_id, state)]
        lockout_rows = _first_wins(
            [_lockout_row(account_id, lockout) for lockout in new_lockouts],
            lambda row: (row["account_id"], row["rule"], row["start_ts"]),
        )
        clears = [
            (_lockout_where(account_id, ref), _describe(account_id, ref), ts, by, why)
            for ref, ts, by, why in cleared
        ]
        log_rows = [_log_row(account_id, line) for line in log]
        audit_rows = [_audit_row(account_id, entry) for entry in audit]
        ids: list[int] = []
        with self._store._write("commit risk decision") as connection:
            if state_rows:
                connection.execute(self._upsert_state, state_rows)
            if lockout_rows:
                connection.execute(self._insert_lockouts, lockout_rows)
            for where, described, cleared_ts, cleared_by, clear_reason in clears:
                _clear(connection, where, described, cleared_ts, cleared_by, clear_reason)
            if log_rows:
                ids = [int(n) for n in connection.execute(self._insert_log, log_rows).scalars()]
            if audit_rows:
                connection.execute(self._insert_audit, audit_rows)
        return ids

    def update_log_status(self, log_id: int, status: str, attempts: int, message: str) -> None:
        """Record an enforcement line's progress (its own small transaction)."""
        _one_of("log status", status, LOG_STATUSES)
        if attempts < 0:
            raise ValueError(f"attempts must be >= 0, got {attempts}")
        statement = (
            update(LOG)
            .where(LOG.c.id == log_id)
            .values(status=status, attempts=attempts, message=message)
        )
        with self._store._write("update risk log status") as connection:
            result = connection.execute(statement)
        if result.rowcount == 0:
            raise UnknownLogEntryError(f"no risk log line {log_id}")

    # -- reads -------------------------------------------------------------------------------

    def load_states(self) -> dict[str, RiskStateRecord]:
        """Every account's state, by account id (restoring the engine in one query)."""
        with self._store._read("read risk states") as connection:
            rows = connection.execute(select_record(STATES, RiskStateRecord)).all()
        records = sorted((RiskStateRecord(*row) for row in rows), key=lambda r: r.account_id)
        return {record.account_id: record for record in records}

    def active_lockouts(self, account_id: str | None = None) -> list[LockoutRecord]:
        """Lockouts not cleared yet (of one account, or of all), oldest first."""
        query = (
            select_record(LOCKOUTS, LockoutRecord)
            .where(*_lockouts_where(account_id, active_only=True))
            .order_by(LOCKOUTS.c.id)
        )
        with self._store._read("read active lockouts") as connection:
            return [LockoutRecord(*row) for row in connection.execute(query)]

    def lockouts(
        self,
        account_id: str | None,
        *,
        offset: int = 0,
        limit: int = 100,
        active_only: bool = False,
    ) -> Page[LockoutRecord]:
        """Lockouts in the order they were stored; ``account_id`` None reads every account."""
        where = _lockouts_where(account_id, active_only=active_only)
        order_by = (LOCKOUTS.c.id,)
        return self._store._page(LOCKOUTS, LockoutRecord, where, order_by, offset, limit)

    def log(
        self,
        account_id: str | None,
        *,
        offset: int = 0,
        limit: int = 100,
        kinds: Sequence[str] | None = None,
    ) -> Page[RiskLogRecord]:
        """Risk log lines, oldest first (by id); ``account_id`` None reads every line (global
        ones included); ``kinds`` keeps only those kinds."""
        where: list[ColumnElement[bool]] = []
        if account_id is not None:
            where.append(LOG.c.account_id == account_id)
        if kinds is not None:
            where.append(LOG.c.kind.in_(list(kinds)))
        return self._store._page(LOG, RiskLogRecord, where, (LOG.c.id,), offset, limit)

    def audit(self, *, offset: int = 0, limit: int = 100) -> Page[AuditRecord]:
        """The audit trail, oldest first."""
        return self._store._page(AUDIT, AuditRecord, [], (AUDIT.c.id,), offset, limit)

    def dump_all(self) -> dict[str, list[dict[str, Any]]]:
        """Every risk table's rows as JSON-friendly dicts (``to_api()`` forms), in an order that
        depends only on the data: states by account, lockouts by (account_id, rule,
        start_ts), log and audit in insertion order. Store-assigned ids and the audit trail's
        wall-clock times are left out, so two replays of the same inputs, on SQLite or
        PostgreSQL, dump equal. Sorting is done here, not by the database: PostgreSQL's text
        collation orders strings differently from SQLite."""
        with self._store._read("dump risk tables") as connection:  # one snapshot
            states = connection.execute(select_record(STATES, RiskStateRecord)).all()
            lockouts = connection.execute(select_record(LOCKOUTS, LockoutRecord)).all()
            log = connection.execute(select_record(LOG, RiskLogRecord).order_by(LOG.c.id)).all()
            audit = connection.execute(select_record(AUDIT, AuditRecord).order_by(AUDIT.c.id)).all()
        state_records = sorted((RiskStateRecord(*r) for r in states), key=lambda s: s.account_id)
        lockout_records = sorted((LockoutRecord(*r) for r in lockouts), key=lambda x: x.key)
        return {
            "risk_account_state": [record.to_api() for record in state_records],
            "risk_lockouts": [_without(record, "id") for record in lockout_records],
            "risk_log": [_without(RiskLogRecord(*row), "id") for row in log],
            "risk_audit": [_without(AuditRecord(*row), "id", "timestamp") for row in audit],
        }


def _lockouts_where(account_id: str | None, *, active_only: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if account_id is not None:
        where.append(LOCKOUTS.c.account_id == account_id)
    if active_only:
        where.append(LOCKOUTS.c.cleared_ts.is_(None))
    return where


def _clear(
    connection: Connection,
    where: list[ColumnElement[bool]],
    described: str,
    cleared_ts: int,
    cleared_by: str,
    clear_reason: str,
) -> None:
    """Clear one lockout inside the caller's transaction; raising rolls the whole call back."""
    statement = (
        update(LOCKOUTS)
        .where(*where, LOCKOUTS.c.cleared_ts.is_(None))
        .values(cleared_ts=cleared_ts, cleared_by=cleared_by, clear_reason=clear_reason)
    )
    if connection.execute(statement).rowcount:
        return
    # Nothing updated: either cleared already (keep the first clearing) or not stored at all.
    if connection.execute(select(LOCKOUTS.c.id).where(*where)).first() is None:
        raise UnknownLockoutError(f"no lockout {described} to clear")
