"""Offline replay: the example day trips the expected rules, and what lands in the store is the
same on every run and on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.errors import AlgoTradeError, DataError, InputError
from algotrade.daemon import risk_service
from algotrade.risk import journal
from algotrade.risk.config_loader import RiskConfig, load_risk_config
from algotrade.risk.engine import UnknownAccount
from algotrade.risk.event_codec import ReplayEvent, read_events
from algotrade.risk.events import AccountFill, ClockTick, MarkUpdate, OrderIntent
from algotrade.risk.replay import engine_for, replay
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "risk"
DAY = "2024-06-04T"


@pytest.fixture(scope="module")
def config() -> RiskConfig:
    return load_risk_config(EXAMPLES / "accounts.yaml", EXAMPLES / "risk.yaml")


@pytest.fixture(scope="module")
def events() -> list[ReplayEvent]:
    return list(read_events(EXAMPLES / "day.jsonl"))


@pytest.fixture(scope="module")
def result(events: list[ReplayEvent], config: RiskConfig) -> dict[str, Any]:
    return replay(events, config)


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    with Store(url) as store:
        return RiskStore(store).dump_all()


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


# -- the example day -----------------------------------------------------------------------


def test_example_day_breaches(result: dict[str, Any]) -> None:
    # Every losing trade of $300 or more cools the account down for 30 minutes: -375, -425
    # and -450. The -450 also takes the day to -1052 net of fees: daily_realized_loss locks
    # until the 17:00 Chicago reset (22:00 UTC in June).
    assert [(b["ts"], b["rule"]) for b in result["breaches"]] == [
        (DAY + "14:24:10Z", "cooldown_after_loss"),
        (DAY + "15:19:40Z", "cooldown_after_loss"),
        (DAY + "16:06:20Z", "daily_realized_loss"),
        (DAY + "16:06:20Z", "cooldown_after_loss"),
    ]
    daily = result["breaches"][2]
    assert daily["account_id"] == "acct-1"
    assert daily["message"] == "daily realized loss 1052.00 reached the limit of 1000"
    assert daily["lockout"]["until"] == "reset"
    assert daily["lockout"]["until_at"] == DAY + "22:00:00Z"
    # Flat when it tripped (the stop filled): only the open orders are cancelled.
    assert daily["actions"] == [{"kind": "cancel_orders", "symbol": "", "qty": "0"}]
    cooldowns = [b["lockout"] for b in result["breaches"] if b["rule"] == "cooldown_after_loss"]
    assert [(c["start_at"], c["until_at"]) for c in cooldowns] == [
        (DAY + "14:24:10Z", DAY + "14:54:10Z"),
        (DAY + "15:19:40Z", DAY + "15:49:40Z"),
        (DAY + "16:06:20Z", DAY + "16:36:20Z"),
    ]
    assert result["counts"]["breaches_by_rule"] == {
        "cooldown_after_loss": 3,
        "daily_realized_loss": 1,
    }


def test_example_day_rejections(result: dict[str, Any]) -> None:
    # Seven intents: the one inside the first cooldown and the one after the daily loss are
    # refused; the others (one reduce-only) pass.
    rejected = [(r["ts"], r["rule"]) for r in result["rejections"]]
    assert rejected == [
        (DAY + "14:31:00Z", "cooldown_after_loss"),
        (DAY + "16:15:00Z", "daily_realized_loss"),
    ]
    last = result["rejections"][1]
    assert {k: last[k] for k in ("account_id", "bot_id", "symbol", "side", "qty")} == {
        "account_id": "acct-1",
        "bot_id": "es-breakout",
        "symbol": "ES",
        "side": "buy",
        "qty": "1",
    }
    assert "until 2024-06-04T22:00:00" in last["reason"]
    assert result["counts"]["order_intents"] == 7


def test_example_day_lockouts_expire_and_reset(result: dict[str, Any]) -> None:
    lockouts = {(lock["rule"], lock["start_at"]): lock for lock in result["lockouts"]}
    assert len(lockouts) == 4
    assert not any(lock["active"] for lock in lockouts.values())
    assert {lock["cleared_by"] for lock in lockouts.values()} == {"expired"}
    # Expiry is noticed by the next event of the account (or a tick).
    cleared = {key: lock["cleared_at"] for key, lock in lockouts.items()}
    assert cleared == {
        ("cooldown_after_loss", DAY + "14:24:10Z"): DAY + "14:54:30Z",  # the tick
        ("cooldown_after_loss", DAY + "15:19:40Z"): DAY + "15:55:00Z",  # the next intent
        ("cooldown_after_loss", DAY + "16:06:20Z"): DAY + "20:00:00Z",  # the 20:00 tick
        ("daily_realized_loss", DAY + "16:06:20Z"): DAY + "22:00:00Z",  # the daily reset
    }
    daily = lockouts["daily_realized_loss", DAY + "16:06:20Z"]
    assert daily["until_kind"] == "reset"
    assert daily["until_at"] == DAY + "22:00:00Z"
    resets = [line for line in result["log"] if line["kind"] == "reset"]
    assert [line["timestamp"] for line in resets] == [DAY + "22:00:00Z"]
    expiries = [
        (line["timestamp"], line["rule"]) for line in result["log"] if line["kind"] == "expiry"
    ]
    assert expiries[-1] == (DAY + "22:00:00Z", "daily_realized_loss")

    account = result["accounts"]["acct-1"]
    assert account["balance"] == "48948"  # 50000 - 1025 gross - 27 fees
    assert account["daily_realized_pnl"] == "0"  # the reset started a new day
    assert account["trading_day"] == "2024-06-05"
    assert account["lockouts"] == []
    assert account["positions"] == {}
    assert result["accounts"]["acct-2"]["balance"] == "100000"  # no events: untouched


def test_example_day_log_and_enforcements(result: dict[str, Any]) -> None:
    log = result["log"]
    assert [line["kind"] for line in log[:3]] == ["breach", "lockout", "enforcement"]
    assert all("id" not in line for line in log)
    assert result["enforcements"] == [line for line in log if line["kind"] == "enforcement"]
    assert {line["status"] for line in result["enforcements"]} == {"requested"}  # not enforced
    assert {line["action"] for line in result["enforcements"]} == {"cancel_orders"}
    counts = result["counts"]
    assert counts["events"] == 46
    assert counts["log_lines"] == len(log)
    assert counts["lockouts"] == 4
    assert counts["active_lockouts"] == 0
    assert counts["resets"] == 1
    assert counts["expiries"] == 4
    json.dumps(result, allow_nan=False)  # JSON-ready as it is


def test_replay_is_deterministic(
    events: list[ReplayEvent], config: RiskConfig, result: dict[str, Any], tmp_path: Path
) -> None:
    again = replay(events, config)
    assert canonical(again) == canonical(result)
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    assert canonical(replay(iter(events), config, db_url=url)) == canonical(result)
    stored = dump(url)
    assert stored["risk_log"] == result["log"]
    assert stored["risk_lockouts"] == result["lockouts"]
    assert [s["account_id"] for s in stored["risk_account_state"]] == ["acct-1"]
    assert stored["risk_audit"] == []


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def replay_pg_url(pg_url: str) -> Iterator[str]:
    """A database of its own (the store tests truncate the shared one between tests)."""
    import psycopg
    from psycopg import sql

    from testkit.postgres import conninfo, with_database

    name = "algotrade_replay_" + secrets.token_hex(4)
    with psycopg.connect(conninfo(pg_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(pg_url, name)
    finally:
        with psycopg.connect(conninfo(pg_url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.mark.postgres
def test_postgresql_stores_exactly_what_sqlite_stores(
    events: list[ReplayEvent],
    config: RiskConfig,
    result: dict[str, Any],
    replay_pg_url: str,
    tmp_path: Path,
) -> None:
    on_postgres = replay(events, config, db_url=replay_pg_url)
    assert canonical(on_postgres) == canonical(result)
    sqlite_url = f"sqlite:///{tmp_path / 'replay.db'}"
    replay(events, config, db_url=sqlite_url)
    assert canonical(dump(replay_pg_url)) == canonical(dump(sqlite_url))


# -- input problems ------------------------------------------------------------------------


def test_a_database_with_risk_data_is_refused(
    events: list[ReplayEvent], config: RiskConfig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'used.db'}"
    replay(events[:10], config, db_url=url)
    before = dump(url)
    with pytest.raises(InputError, match="already holds risk data"):
        replay(events, config, db_url=url)
    assert dump(url) == before


def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "day.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def mark_line(account: str, ts: str = f"{DAY}13:30:00Z", price: str = "5301") -> str:
    return json.dumps(
        {"type": "mark", "ts": ts, "account": account, "symbol": "ES", "price": price}
    )


def fill_line(ts: str, side: str, qty: str, price: str) -> str:
    return json.dumps(
        {"type": "fill", "ts": f"{DAY}{ts}Z", "account": "acct-1", "symbol": "ES"}
        | {"side": side, "qty": qty, "price": price}
    )


def test_an_unknown_account_names_the_file_line_and_nothing_is_stored(
    config: RiskConfig, tmp_path: Path
) -> None:
    path = write_lines(tmp_path, mark_line("acct-1"), "# a comment", mark_line("ghost"))
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    with pytest.raises(DataError) as info:
        replay(read_events(path), config, db_url=url)
    assert str(info.value) == (
        "day.jsonl line 3: field 'account': unknown account 'ghost'; "
        "accounts in the config: acct-1, acct-2"
    )
    assert not (tmp_path / "replay.db").exists()  # checked whole before anything is written


def test_large_bounded_amounts_are_computed_exactly(config: RiskConfig, tmp_path: Path) -> None:
    # Each number is within its bounds; the position's value (qty x price x 50 a point for
    # ES) has 32 digits: booked exactly (money is computed in a 120-digit context), where
    # the default 28-digit context could not quantize it.
    path = write_lines(
        tmp_path,
        fill_line("13:35:00", "buy", "1", "5300"),
        fill_line("13:36:00", "buy", "900000000000000", "900000000000000"),
    )
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    replay(read_events(path), config, db_url=url)
    assert (tmp_path / "replay.db").exists()


def test_unknown_account_is_an_input_error_of_the_project(config: RiskConfig) -> None:
    engine = engine_for(config)
    with pytest.raises(UnknownAccount) as info:
        engine.on_event(MarkUpdate("ghost", 1_717_500_000_000_000_000, "ES", Decimal(1)))
    assert isinstance(info.value, InputError)
    assert isinstance(info.value, AlgoTradeError)
    assert str(info.value) == "unknown account 'ghost'; accounts in the config: acct-1, acct-2"


def test_unknown_account_and_time_order(config: RiskConfig) -> None:
    ts = 1_717_500_000_000_000_000
    mark = MarkUpdate("acct-1", ts, "ES", Decimal(5300))
    with pytest.raises(DataError, match=r"event 2 \(.*\): unknown account 'ghost'; .*acct-1"):
        replay([mark, MarkUpdate("ghost", ts, "ES", Decimal(1))], config)
    with pytest.raises(DataError, match=r"event 2 .*events must be in time order"):
        replay([mark, MarkUpdate("acct-1", ts - 1, "ES", Decimal(1))], config)
    # A tick of every account is not an unknown account.
    assert replay([mark, ClockTick("*", ts + 1)], config)["counts"]["events"] == 2


# -- the journal writes what the daemon writes ---------------------------------------------


def test_journal_records_equal_the_daemons(events: list[ReplayEvent], config: RiskConfig) -> None:
    """Until the daemon switches to ``risk.journal``, its own copies must agree with it."""
    engine = engine_for(config)
    seen = 0
    for event in events:
        if isinstance(event, OrderIntent):
            decisions = [engine.check_order(event)[1]]
        else:
            decisions = engine.on_event(event)
        for decision in decisions:
            assert journal.decision_log(decision) == risk_service.decision_log(decision)
            for breach in decision.breaches:
                if breach.lockout is not None:
                    record = journal.lockout_record(breach.lockout)
                    assert record == risk_service.lockout_record(breach.lockout)
                    assert journal.lockout_from_record(record) == breach.lockout
                    seen += 1
    assert seen == 4


def test_commit_decision_refuses_another_accounts_state(config: RiskConfig, tmp_path: Path) -> None:
    engine = engine_for(config)
    fill = AccountFill("acct-1", 1_717_500_000_000_000_000, "ES", "buy", Decimal(1), Decimal(1))
    (decision,) = engine.on_event(fill)
    with Store(f"sqlite:///{tmp_path / 'x.db'}") as store:
        with pytest.raises(ValueError, match="committed with the state of 'acct-2'"):
            journal.commit_decision(RiskStore(store), engine.states["acct-2"], decision)
        assert journal.commit_decision(RiskStore(store), engine.states["acct-1"], decision) == []
        (state,) = RiskStore(store).load_states().values()
        assert state.state == engine.states["acct-1"].to_dict()
