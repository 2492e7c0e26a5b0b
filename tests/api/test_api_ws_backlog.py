"""/ws for a client that fell behind: the backlog is sent in chunks, a bot's status snapshots
in one state are coalesced to the newest, every state change and every other event is kept."""

from __future__ import annotations

from typing import Any

from algotrade.api import create_app
from algotrade.api.ws import coalesce_statuses
from algotrade.daemon.bus import BusMessage, Topic
from testkit.api_harness import TRADER_KEY, VERSION, make_keys, make_test_client, on_app_loop
from testkit.fake_bot_service import FakeBotService, make_config


def _status(bot_id: str, state: str, n: int) -> BusMessage:
    return BusMessage(Topic.STATUS, bot_id, {"bot_id": bot_id, "state": state, "n": n})


def _order(bot_id: str, n: int) -> BusMessage:
    return BusMessage(Topic.ORDERS, bot_id, {"n": n})


def test_coalescing_keeps_the_newest_status_of_each_state_and_everything_else() -> None:
    messages = [
        _status("a", "running", 1),
        _order("a", 1),
        _status("b", "running", 1),
        _status("a", "running", 2),
        _status("a", "paused", 3),
        _order("a", 2),
        _status("a", "paused", 4),
        _status("b", "running", 2),
    ]
    kept = coalesce_statuses(messages)
    assert [(m.topic.value, m.bot_id, m.data["n"]) for m in kept] == [
        ("orders", "a", 1),
        ("status", "a", 2),  # the last "running" before the change to "paused"
        ("orders", "a", 2),
        ("status", "a", 4),
        ("status", "b", 2),
    ]
    assert coalesce_statuses(kept) == kept
    plain = [_order("a", n) for n in range(3)]
    assert coalesce_statuses(plain) is plain


def test_a_backlog_reaches_the_client_coalesced_in_order() -> None:
    service = FakeBotService(bus_queue_size=1000)
    service.add_bot(make_config("alpha"))
    with (
        make_test_client(create_app(service, make_keys(), version=VERSION)) as client,
        client.websocket_connect(f"/ws?token={TRADER_KEY}") as ws,
    ):
        ws.send_json({"op": "subscribe", "topics": ["status", "orders"], "bot_id": "alpha"})
        assert [ws.receive_json()["type"] for _ in range(3)] == [
            "subscribed",
            "snapshot",
            "snapshot",
        ]

        def burst() -> None:  # all at once on the loop: the sender finds them all queued
            for n in range(300):
                state = "running" if n < 150 else "paused"
                service.bus.publish(Topic.STATUS, "alpha", {"state": state, "n": n})
                service.bus.publish(Topic.ORDERS, "alpha", {"n": n})
            service.bus.publish(Topic.ORDERS, "alpha", {"n": "end"})

        on_app_loop(client, burst)
        received: list[dict[str, Any]] = []
        while not received or received[-1]["data"]["n"] != "end":
            received.append(ws.receive_json())
    orders = [r["data"]["n"] for r in received if r["topic"] == "orders"]
    assert orders == [*range(300), "end"]  # every order, in order
    statuses = [(r["data"]["state"], r["data"]["n"]) for r in received if r["topic"] == "status"]
    assert ("running", 149) in statuses  # the state change is never coalesced away
    assert statuses[-1] == ("paused", 299)
    assert len(statuses) < 300  # the backlog's redundant snapshots were not sent
    assert statuses == sorted(statuses, key=lambda s: s[1])
