"""Bots: insert, update, state, delete (cascade), bulk insert and load."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from store_factories import account, bot_config, equity, event, fill, order, position

from algotrade.daemon.bot_config import BotConfig
from algotrade.store import DuplicateBotError, Store, UnknownBotError


def test_insert_and_load_round_trip_a_bot_config(store: Store) -> None:
    config = bot_config("alpha", params={"fast": 10, "slow": 30}, commission="0.00075")
    before = datetime.now(UTC)
    record = store.insert_bot(config)
    assert record.bot_id == "alpha"
    assert record.state == "stopped"
    assert record.runtime == {}
    assert before <= record.created_at == record.updated_at <= datetime.now(UTC)

    (loaded,) = store.load_bots()
    assert loaded == record
    assert loaded.created_at.tzinfo is not None
    assert BotConfig.model_validate(loaded.config) == BotConfig.model_validate(config)
    assert store.get_bot("alpha") == record
    assert store.get_bot("nope") is None
    assert store.count_bots() == 1


def test_duplicate_bot_is_refused(store: Store) -> None:
    store.insert_bot(bot_config("alpha"))
    with pytest.raises(DuplicateBotError, match="alpha"):
        store.insert_bot(bot_config("alpha"))
    assert store.count_bots() == 1


def test_update_config_and_state(store: Store) -> None:
    created = store.insert_bot(bot_config("alpha"))
    store.update_bot_config("alpha", bot_config("alpha", interval="5m"))
    store.set_bot_state("alpha", "running", {"order_seq": 7, "was_running": True})
    loaded = store.get_bot("alpha")
    assert loaded is not None
    assert loaded.config["interval"] == "5m"
    assert loaded.state == "running"
    assert loaded.runtime == {"order_seq": 7, "was_running": True}
    assert loaded.created_at == created.created_at
    assert loaded.updated_at >= created.updated_at

    store.set_bot_state("alpha", "stopped", {"last_error": None})
    loaded = store.get_bot("alpha")
    assert loaded is not None
    assert loaded.runtime == {"last_error": None}  # replaced, not merged

    with pytest.raises(ValueError, match="beta"):
        store.update_bot_config("alpha", bot_config("beta"))


def test_set_many_states_is_all_or_nothing(store: Store) -> None:
    store.insert_bots([bot_config("a"), bot_config("b")])
    store.set_bot_states([("a", "running", {"n": 1}), ("b", "paused", {"n": 2})])
    assert [(r.bot_id, r.state, r.runtime) for r in store.load_bots()] == [
        ("a", "running", {"n": 1}),
        ("b", "paused", {"n": 2}),
    ]
    with pytest.raises(UnknownBotError, match="ghost"):
        store.set_bot_states([("a", "stopped", {}), ("ghost", "stopped", {})])
    assert store.get_bot("a").state == "running"  # type: ignore[union-attr]


def test_unknown_bot_errors(store: Store) -> None:
    with pytest.raises(UnknownBotError):
        store.update_bot_config("ghost", bot_config("ghost"))
    with pytest.raises(UnknownBotError):
        store.set_bot_state("ghost", "running", {})
    with pytest.raises(UnknownBotError):
        store.delete_bot("ghost")


def test_delete_cascades_to_trading_facts_and_the_event_log(store: Store) -> None:
    for bot_id in ("gone", "kept"):
        store.insert_bot(bot_config(bot_id))
        store.record_activity(
            bot_id,
            orders=[order(bot_id)],
            fills=[fill(bot_id)],
            positions=[position(bot_id)],
            account=account(bot_id),
            equity=[equity(bot_id)],
            events=[event(bot_id)],
        )
    store.delete_bot("gone")

    assert [r.bot_id for r in store.load_bots()] == ["kept"]
    assert store.orders("gone").total == 0
    assert store.fills("gone").total == 0
    assert store.positions("gone") == []
    assert store.account("gone") is None
    assert store.equity("gone").total == 0
    assert store.events("gone").total == 0  # else shown on the next bot of that id
    kept = store.orders("kept")
    assert kept.total == 1
    assert store.events("kept").total == 1
    assert store.account("kept") is not None
    assert store.order_fill_counts() == {"kept": (1, 1)}


def test_bulk_insert_rejects_duplicates_atomically(store: Store) -> None:
    with pytest.raises(DuplicateBotError, match="twice"):
        store.insert_bots([bot_config("twice"), bot_config("x"), bot_config("twice")])
    store.insert_bot(bot_config("exists"))
    with pytest.raises(DuplicateBotError, match="exists"):
        store.insert_bots([bot_config("new1"), bot_config("exists"), bot_config("new2")])
    assert [r.bot_id for r in store.load_bots()] == ["exists"]  # nothing of the batch landed
    store.insert_bots([])


@pytest.mark.slow
def test_ten_thousand_bots_insert_and_load(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [bot_config(f"bot-{i:05d}", params={"fast": i % 50 + 1}) for i in range(10_000)]

    started = time.perf_counter()
    store.insert_bots(configs)
    inserted = time.perf_counter()
    records = store.load_bots()
    loaded = time.perf_counter()

    assert len(records) == 10_000
    assert store.count_bots() == 10_000
    assert records[0].bot_id == "bot-00000"
    assert records[-1].config == configs[-1]
    with capsys.disabled():
        print(
            f"\n[{store.backend}] 10,000 bots: insert {inserted - started:.3f} s, "
            f"load {loaded - inserted:.3f} s"
        )
