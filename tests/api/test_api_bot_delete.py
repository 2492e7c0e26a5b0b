"""``DELETE /api/bots/{id}`` on a real ``BotService`` and store: the bot's event log goes with
it, so a new bot given the same id does not show the deleted one's history as its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from algotrade.api import create_app
from algotrade.daemon.service import BotService
from algotrade.store.store import Store
from testkit.api_harness import ADMIN, VERSION, TestClient, make_keys, make_test_client

BOT = {"bot_id": "again", "symbol": "SIM-X", "strategy": "rsi"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, BotService]]:
    store = Store(f"sqlite:///{tmp_path / 'bots.db'}")
    store.open()
    service = BotService(store)
    try:
        with make_test_client(create_app(service, make_keys(), version=VERSION)) as client:
            assert client.portal is not None
            client.portal.call(service.start)
            try:
                yield client, service
            finally:
                client.portal.call(service.shutdown)
    finally:
        store.close()


def ok(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, headers=ADMIN, **kwargs)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def test_a_bot_created_again_after_a_delete_starts_with_an_empty_log(
    served: tuple[TestClient, BotService],
) -> None:
    client, service = served
    ok(client, "POST", "/api/bots", json=BOT)
    ok(client, "PUT", "/api/bots/again/start")
    ok(client, "PUT", "/api/bots/again/stop")
    ok(client, "DELETE", "/api/bots/again")  # flushes the bot's activity, then deletes it

    ok(client, "POST", "/api/bots", json=BOT)

    page = ok(client, "GET", "/api/bots/again/logs")
    assert (page["total"], page["items"]) == (0, [])
    assert ok(client, "GET", "/api/bots/again/orders")["total"] == 0
    # From then on the log is the new bot's own.
    ok(client, "PUT", "/api/bots/again/start")
    assert client.portal is not None
    client.portal.call(service.writer.flush)
    page = ok(client, "GET", "/api/bots/again/logs")
    assert [line["message"] for line in page["items"]] == ["bot running"]
