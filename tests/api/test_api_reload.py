"""``/api/reload`` in process (the reloader faked) and key rotation through ``ApiContext``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from algotrade.api.deps import ApiContext
from algotrade.api.keys import ApiKeys, Role
from testkit.api_harness import ADMIN, ADMIN_KEY, TRADER, TRADER_KEY, TestClient

SAME = {"Origin": "http://testserver"}


def report(outcome: str = "applied", error: str | None = None, caller: str = "") -> dict[str, Any]:
    return {
        "id": 1,
        "source": "api",
        "actor": caller,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:00.1Z",
        "outcome": outcome,
        "error": error,
        "changed": ["logging.level (INFO → DEBUG)"],
        "needs_restart": ["api.port (8080 → 8081)"],
        "keys": None,
        "bots": {"created": ["b"], "updated": {}, "deleted": [], "kept": {}, "failed": {}},
    }


class FakeReloader:
    def __init__(self) -> None:
        self.callers: list[str] = []
        self.error: str | None = None

    async def reload(self, caller: str) -> dict[str, Any]:
        self.callers.append(caller)
        if self.error is not None:
            return report("rejected", self.error, caller)
        return report(caller=caller)

    def history(self) -> list[dict[str, Any]]:
        return [report(caller=caller) for caller in self.callers]

    def busy(self) -> bool:
        return False


@pytest.fixture
def reloader(app: FastAPI) -> FakeReloader:
    fake = FakeReloader()
    app.state.ctx.reloader = fake
    return fake


def test_an_admin_reloads_and_reads_what_changed(
    client: TestClient, reloader: FakeReloader
) -> None:
    answer = client.post("/api/reload", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["needs_restart"] == ["api.port (8080 → 8081)"]
    # The audit names the role and a key id, never the key.
    [caller] = reloader.callers
    assert caller.startswith("admin key ")
    assert ADMIN_KEY not in caller
    listed = client.get("/api/reload", headers=TRADER).json()
    assert listed["in_progress"] is False
    assert [r["actor"] for r in listed["reloads"]] == [caller]


def test_a_trader_cannot_reload(client: TestClient, reloader: FakeReloader) -> None:
    answer = client.post("/api/reload", headers=TRADER)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert reloader.callers == []
    assert client.post("/api/reload").status_code == 401


def test_a_rejected_reload_is_422_with_the_standard_error_body(
    client: TestClient, reloader: FakeReloader
) -> None:
    reloader.error = "daemon.toml line 3: Expected '=' (column 5)"
    answer = client.post("/api/reload", headers=ADMIN)
    assert answer.status_code == 422
    assert answer.json() == {
        "error": {
            "code": "invalid_config",
            "message": "daemon.toml line 3: Expected '=' (column 5)",
        }
    }


def test_without_a_reloader_the_route_says_so(client: TestClient) -> None:
    answer = client.post("/api/reload", headers=ADMIN)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "reload_disabled"


NEW_KEY = "rotated-admin-key-0123456789"


def test_rotated_keys_work_at_once_and_a_removed_keys_sessions_end(
    client: TestClient, app: FastAPI
) -> None:
    ctx: ApiContext = app.state.ctx
    signed_in = client.post("/api/session", json={"api_key": TRADER_KEY}, headers=SAME)
    assert signed_in.status_code in (200, 201), signed_in.text
    assert client.get("/api/bots").status_code == 200  # the session cookie
    ctx.replace_keys(ApiKeys([(Role.ADMIN, NEW_KEY)]))
    assert client.get("/api/bots", headers={"X-API-Key": NEW_KEY}).status_code == 200
    assert client.get("/api/bots", headers=ADMIN).status_code == 401
    assert client.get("/api/bots").status_code == 401  # the trader key's session is over
    assert len(ctx.sessions) == 0
    assert ctx.keys_generation == 1
