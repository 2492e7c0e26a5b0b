"""``RiskStore``: the risk engine's state, lockouts, log and audit, one transaction per decision."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect
from store_factories import SECOND, T0, bot_config

from algotrade.store import (
    AuditRecord,
    LockoutRecord,
    RiskLogRecord,
    RiskStateRecord,
    RiskStore,
    Store,
    StoreError,
    UnknownLockoutError,
    UnknownLogEntryError,
)
from algotrade.store.engine import alembic_config, parse_url
from algotrade.store.models import ALL_TABLES, RISK_TABLES

TINY = Decimal("0.000000012345678901234567")
WALL = datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def risk(store: Store) -> RiskStore:
    return RiskStore(store)


STATE = {
    "daily_pnl": "-123.450000000000000001",
    "recent": [T0, T0 + SECOND, 2**62],
    "positions": {"BTCUSDT": {"qty": "-0.5", "avg": "42000.1"}},
    "misc": [0.1, True, None, "é€"],
}


def state(account_id: str = "acct1", **changes: Any) -> RiskStateRecord:
    values = {"trading_day": "2026-11-20", "last_reset_ts": T0, "state": STATE, "updated_ts": T0}
    return RiskStateRecord(account_id, **{**values, **changes})


def lockout(account_id: str = "acct1", rule: str = "max_loss", **changes: Any) -> LockoutRecord:
    values = {"reason": "loss 500 > 400", "start_ts": T0, "until_kind": "reset", "until_ts": T0 + 9}
    return LockoutRecord(account_id, rule, **{**values, **changes})


def line(account_id: str | None = "acct1", kind: str = "breach", **changes: Any) -> RiskLogRecord:
    return RiskLogRecord(account_id, **{"ts": T0, "kind": kind, "rule": "r", **changes})


def audit(account_id: str | None = "acct1", **changes: Any) -> AuditRecord:
    values = {"ts": WALL, "actor": "admin:ops", "action": "unlock", "details": {"rule": "r"}}
    return AuditRecord(account_id=account_id, **{**values, **changes})


def test_round_trip_is_exact(risk: RiskStore) -> None:
    enforcement = line(
        kind="enforcement", action="close_position", symbol="BTCUSDT", qty=-TINY,
        status="requested", attempts=1, message="closing", data={"id": "o-1", "n": 2**60},
    )  # fmt: skip
    entry = audit(ts=WALL.astimezone(timezone(timedelta(hours=1))), details={"a": ["1.50"]})
    manual = lockout(rule="cooldown", until_kind="manual", until_ts=None)
    ids = risk.commit_decision(
        "acct1", state=state(), new_lockouts=[lockout(), manual], log=[line(), enforcement],
        audit=[entry],
    )  # fmt: skip
    assert len(ids) == 2
    assert ids[0] < ids[1]
    assert risk.load_states() == {"acct1": state()}
    stored = risk.active_lockouts("acct1")
    assert [replace(item, id=None) for item in stored] == [lockout(), manual]
    assert all(item.id is not None for item in stored)
    lines = risk.log("acct1").items
    assert lines == [replace(line(), id=ids[0]), replace(enforcement, id=ids[1])]
    assert str(lines[1].qty) == str(-TINY)
    (stored_entry,) = risk.audit().items
    assert replace(stored_entry, id=None) == entry  # the same instant ...
    assert stored_entry.ts.utcoffset() == timedelta(0)  # ... in UTC

    newer = state(trading_day="2026-11-21", last_reset_ts=None, state={"trades": 0})
    risk.commit_decision("acct1", state=newer)  # the state row is replaced whole
    assert risk.load_states() == {"acct1": newer}


def test_to_api_forms() -> None:
    api = line(kind="enforcement", qty=Decimal("-2.50"), id=7).to_api()
    assert api == {
        "id": 7, "account_id": "acct1", "timestamp": "2023-11-14T22:13:20Z", "ts": T0,
        "kind": "enforcement", "rule": "r", "action": "", "symbol": "", "qty": "-2.5",
        "status": "", "attempts": 0, "message": "", "data": {},
    }  # fmt: skip
    api = lockout(until_ts=T0 + SECOND, cleared_ts=T0 + 1, cleared_by="admin:ops").to_api()
    assert (api["start_at"], api["until_at"]) == ("2023-11-14T22:13:20Z", "2023-11-14T22:13:21Z")
    assert api["cleared_at"] == "2023-11-14T22:13:20.000000Z"
    assert api["active"] is False
    assert lockout().to_api()["cleared_at"] is None
    assert state(last_reset_ts=None).to_api()["last_reset_at"] is None
    assert audit().to_api()["timestamp"] == "2026-11-20T09:30:00.123456Z"


def test_from_lockout_takes_the_engines_lockout() -> None:
    from algotrade.risk.decisions import Lockout, LockUntil

    record = LockoutRecord.from_lockout(Lockout("acct1", "cd", "why", T0, LockUntil.TIME, T0 + 1))
    assert record == lockout(rule="cd", reason="why", until_kind="time", until_ts=T0 + 1)
    assert type(record.until_kind) is str


def test_lockout_insert_is_idempotent(risk: RiskStore) -> None:
    risk.commit_decision("acct1", new_lockouts=[lockout(), lockout(reason="replayed")])
    risk.commit_decision("acct1", new_lockouts=[lockout(reason="again")])
    (only,) = risk.active_lockouts()
    assert only.reason == "loss 500 > 400"  # the first copy stays
    risk.commit_decision("acct1", cleared=[(only.key, T0 + 9, "expiry", "reset")])
    risk.commit_decision("acct1", new_lockouts=[lockout()])  # a replay does not revive it
    assert risk.active_lockouts() == []
    assert risk.lockouts("acct1").total == 1


def test_clear_by_id_and_by_key(risk: RiskStore) -> None:
    first, second = lockout(rule="a"), lockout(rule="b")
    risk.commit_decision("acct1", new_lockouts=[first, second])
    by_rule = {item.rule: item for item in risk.active_lockouts("acct1")}
    assert by_rule["a"].id is not None
    risk.commit_decision("acct1", cleared=[(by_rule["a"].id, T0 + 1, "admin:ops", "checked")])
    risk.commit_decision("acct1", cleared=[(("acct1", "b", T0), T0 + 2, "engine", "expired")])
    cleared = {item.rule: item for item in risk.lockouts("acct1").items}
    a, b = cleared["a"], cleared["b"]
    assert (a.cleared_ts, a.cleared_by, a.clear_reason) == (T0 + 1, "admin:ops", "checked")
    assert (b.cleared_ts, b.cleared_by, b.clear_reason) == (T0 + 2, "engine", "expired")
    assert not a.active
    # Clearing again keeps the first clearing (a replayed decision changes nothing).
    risk.commit_decision("acct1", cleared=[(first.key, T0 + 5, "other", "late")])
    assert risk.lockouts("acct1").items[0].cleared_by == "admin:ops"
    # Inserted and cleared by the same call.
    third = lockout(rule="c", until_kind="time")
    risk.commit_decision("acct1", new_lockouts=[third], cleared=[(third.key, T0, "engine", "x")])
    assert risk.active_lockouts() == []


def test_active_filtering(risk: RiskStore) -> None:
    risk.commit_decision("acct1", new_lockouts=[lockout(rule="a"), lockout(rule="b")])
    risk.commit_decision("acct2", new_lockouts=[lockout("acct2", rule="a")])
    risk.commit_decision("acct1", cleared=[(("acct1", "a", T0), T0 + 1, "engine", "reset")])
    active = [(x.account_id, x.rule) for x in risk.active_lockouts()]
    assert active == [("acct1", "b"), ("acct2", "a")]
    assert [x.rule for x in risk.active_lockouts("acct1")] == ["b"]
    assert risk.active_lockouts("nobody") == []
    assert risk.lockouts("acct1").total == 2
    assert [x.rule for x in risk.lockouts("acct1", active_only=True).items] == ["b"]
    assert risk.lockouts(None, active_only=True).total == 2
    assert risk.lockouts(None).total == 3


def test_paging(risk: RiskStore) -> None:
    for n in range(7):
        new, log = [lockout(start_ts=T0 + n)], [line(ts=T0 + n, message=f"m{n}")]
        risk.commit_decision("acct1", new_lockouts=new, log=log, audit=[audit(details={"n": n})])
    page = risk.lockouts("acct1", offset=2, limit=3)
    assert (page.total, page.offset, page.limit) == (7, 2, 3)
    assert [x.start_ts - T0 for x in page.items] == [2, 3, 4]
    assert [x.message for x in risk.log("acct1", offset=5, limit=10).items] == ["m5", "m6"]
    assert [x.details["n"] for x in risk.audit(offset=1, limit=2).items] == [1, 2]
    assert (risk.audit(limit=0).items, risk.audit(limit=0).total) == ([], 7)
    with pytest.raises(ValueError, match="offset"):
        risk.log(None, offset=-1)


def test_log_filters_by_kind_and_account(risk: RiskStore) -> None:
    risk.commit_decision("acct1", log=[line(kind="breach"), line(kind="lockout")])
    risk.commit_decision("acct2", log=[line("acct2", kind="breach")])
    risk.commit_decision(None, log=[line(None, kind="rules_change")], audit=[audit(None)])
    assert [x.kind for x in risk.log(None).items] == ["breach", "lockout", "breach", "rules_change"]
    assert risk.log(None).items[-1].account_id is None
    assert [x.kind for x in risk.log("acct1").items] == ["breach", "lockout"]
    breaches = risk.log(None, kinds=["breach"])
    assert [x.account_id for x in breaches.items] == ["acct1", "acct2"]
    assert {x.kind for x in breaches.items} == {"breach"}
    assert risk.log("acct1", kinds=["lockout", "rules_change"]).total == 1
    assert risk.log(None, kinds=[]).total == 0


def test_update_log_status(risk: RiskStore) -> None:
    (log_id,) = risk.commit_decision(
        "acct1", log=[line(kind="enforcement", action="flatten", status="requested")]
    )
    risk.update_log_status(log_id, "failed", 1, "venue timeout")
    risk.update_log_status(log_id, "done", 2, "flattened")
    (entry,) = risk.log("acct1").items
    assert (entry.status, entry.attempts, entry.message) == ("done", 2, "flattened")
    with pytest.raises(UnknownLogEntryError):
        risk.update_log_status(log_id + 100, "done", 1, "")
    with pytest.raises(ValueError, match="status"):
        risk.update_log_status(log_id, "finished", 1, "")


def _nothing_written(risk: RiskStore) -> None:
    counts = (risk.lockouts(None).total, risk.log(None).total, risk.audit().total)
    assert (risk.load_states(), counts) == ({}, (0, 0, 0))


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"cleared": [(424242, T0, "engine", "expiry")]}, UnknownLockoutError),
        ({"cleared": [(("acct1", "nope", T0), T0, "engine", "x")]}, UnknownLockoutError),
        ({"log": [line(kind="enforcement", qty=0.5)]}, StoreError),  # float money
        ({"audit": [audit(ts=datetime(2026, 1, 1))]}, StoreError),  # naive wall clock
    ],
    ids=["unknown-id", "unknown-key", "float-qty", "naive-ts"],
)
def test_a_failing_item_rolls_back_the_whole_call(
    risk: RiskStore, bad: dict[str, Any], error: type[Exception]
) -> None:
    items: dict[str, Any] = {
        "state": state(), "new_lockouts": [lockout()], "log": [line(), line(kind="lockout")],
        "cleared": [(lockout().key, T0 + 1, "engine", "expiry")], "audit": [audit()],
    }  # fmt: skip
    for name, extra in bad.items():
        items[name] = [*items[name], *extra]
    with pytest.raises(error):
        risk.commit_decision("acct1", **items)
    _nothing_written(risk)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"state": state("acct2")}, "state of account 'acct2'"),
        ({"new_lockouts": [lockout("acct2")]}, "lockout of account 'acct2'"),
        ({"new_lockouts": [lockout(until_kind="forever")]}, "until_kind must be one of"),
        ({"new_lockouts": [lockout(until_kind="time", until_ts=None)]}, "needs an until_ts"),
        ({"cleared": [(("acct2", "r", T0), T0, "engine", "x")]}, "lockout of account 'acct2'"),
        ({"cleared": [(("acct1", "r"), T0, "engine", "x")]}, "an id or"),
        ({"log": [line(None)]}, "log line of account None"),
        ({"log": [line(kind="oops")]}, "log kind"),
        ({"log": [line(status="maybe")]}, "log status"),
        ({"log": [line(attempts=-1)]}, "attempts"),
        ({"audit": [audit(action="delete")]}, "audit action"),
    ],
)
def test_invalid_items_are_refused_before_writing(
    risk: RiskStore, bad: dict[str, Any], match: str
) -> None:
    items: dict[str, Any] = {"log": [line()], **bad}
    with pytest.raises(ValueError, match=match):
        risk.commit_decision("acct1", **items)
    _nothing_written(risk)


def test_a_decision_cannot_clear_another_accounts_lockout_by_id(risk: RiskStore) -> None:
    risk.commit_decision("acct2", new_lockouts=[lockout("acct2")])
    (other,) = risk.active_lockouts()
    assert other.id is not None
    with pytest.raises(UnknownLockoutError, match="acct1"):
        risk.commit_decision("acct1", cleared=[(other.id, T0, "engine", "x")])
    risk.commit_decision(None, cleared=[(other.id, T0, "admin:ops", "global")])
    assert risk.active_lockouts() == []


def test_a_closed_store_is_refused(store_url: str) -> None:
    store = Store(store_url)
    with pytest.raises(StoreError, match="not open"):
        RiskStore(store).load_states()


# The child commits decisions, then dies without any cleanup: no close(), no atexit, no flush.
CHILD = """
import os, signal, sys
from decimal import Decimal
from algotrade.store import LockoutRecord, RiskLogRecord, RiskStateRecord, RiskStore, Store

url, how = sys.argv[1], sys.argv[2]
store = Store(url)
store.open()
risk = RiskStore(store)
for n in range(50):
    key = ("durable", f"rule{n}", n)
    risk.commit_decision(
        "durable",
        state=RiskStateRecord("durable", "2026-11-20", None, {"n": n, "pnl": f"-{n}.5"}, n),
        new_lockouts=[LockoutRecord("durable", f"rule{n}", "loss", n, "manual", None)],
        cleared=[(key, n + 1, "engine", "expiry")] if n % 2 else [],
        log=[RiskLogRecord("durable", n, "enforcement", qty=Decimal("0.000000012345678901234567"))],
    )
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
os._exit(0)
"""


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_committed_decisions_survive_sudden_death(store_url: str, how: str) -> None:
    argv = [sys.executable, "-c", CHILD, store_url, how]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == (-signal.SIGKILL if how == "kill" else 0), child.stderr
    with Store(store_url) as store:
        risk = RiskStore(store)
        assert risk.load_states()["durable"].state == {"n": 49, "pnl": "-49.5"}
        assert risk.lockouts("durable").total == 50
        assert [x.rule for x in risk.active_lockouts()] == [f"rule{n}" for n in range(0, 50, 2)]
        log = risk.log("durable", limit=100)
        assert log.total == 50
        assert {x.qty for x in log.items} == {TINY}


ACCOUNTS = ["acct-B", "acct-a", "acct_1", "Äcct", "acct 2"]


def replay(risk: RiskStore) -> None:
    """A fixed sequence of decisions; account ids sort differently under PostgreSQL's text
    collation than byte-wise, so ``dump_all`` must not rely on the database's ORDER BY."""
    for n, account in enumerate(ACCOUNTS * 3):
        ts = T0 + n * SECOND
        found = line(account, ts=ts, message=f"breach {n}", data={"n": n, "pnl": f"-{n}.10"})
        ids = risk.commit_decision(
            account,
            state=state(account, updated_ts=ts, state={"n": n, "x": [0.1, 2**61, "1E+3"]}),
            new_lockouts=[lockout(account, rule=f"r{n % 2}", start_ts=ts, until_kind="manual")],
            log=[found, line(account, kind="enforcement", ts=ts, qty=Decimal(f"-{n}.500"))],
        )
        risk.update_log_status(ids[1], "done" if n % 3 else "failed", n % 3 + 1, f"step {n}")
        if n % 4 == 1:
            active = risk.active_lockouts(account)
            risk.commit_decision(
                account,
                cleared=[(active[0].key, ts + 1, "admin:ops", "manual")],
                log=[line(account, kind="unlock", ts=ts + 1)],
                audit=[audit(account, ts=datetime.now(UTC), details={"n": n})],
            )
    risk.commit_decision(None, log=[line(None, kind="rules_change")], audit=[audit(None)])


@pytest.fixture
def both_backends(tmp_path: Path, pg_url: str) -> Iterator[tuple[Store, Store]]:
    from testkit.postgres import truncate_tables

    with Store(pg_url):
        pass
    truncate_tables(pg_url, ALL_TABLES)
    with Store(f"sqlite:///{tmp_path / 'replay.db'}") as lite, Store(pg_url) as pg:
        yield lite, pg


@pytest.mark.postgres
def test_dump_all_is_identical_on_sqlite_and_postgresql(both_backends: tuple[Store, Store]) -> None:
    dumps = []
    for store in both_backends:
        risk = RiskStore(store)
        replay(risk)
        dumps.append(risk.dump_all())
    lite, pg = dumps
    assert lite == pg
    assert list(lite) == list(RISK_TABLES)
    assert [row["account_id"] for row in lite["risk_account_state"]] == sorted(ACCOUNTS)
    assert (len(lite["risk_log"]), lite["risk_log"][1]["qty"]) == (2 * 15 + 4 + 1, "-0.5")
    assert "id" not in lite["risk_lockouts"][0]
    assert "timestamp" not in lite["risk_audit"][0]


def test_upgrade_from_0001_keeps_data_and_adds_the_risk_tables(store_url: str) -> None:
    if store_url.startswith("postgresql"):
        from testkit.postgres import reset_schema

        reset_schema(store_url)
    url = parse_url(store_url)
    engine = create_engine(url)
    try:
        config = alembic_config(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        with Store(store_url) as store:  # opening migrates 0001 -> head
            store.insert_bot(bot_config("b1"))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        with engine.connect() as connection:
            assert not set(RISK_TABLES) & set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.count_bots() == 1
        RiskStore(store).commit_decision("acct1", state=state())
        assert list(RiskStore(store).load_states()) == ["acct1"]
