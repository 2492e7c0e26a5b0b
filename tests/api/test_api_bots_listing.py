"""``GET /api/bots`` served by the direct route answers exactly as the documented FastAPI route
(status, headers, body, errors, access, metrics), and the service's cached listing follows
every change over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from algotrade.api import create_app
from algotrade.api.routes_bots import _DIRECT_LISTING
from algotrade.daemon.status import BotState
from testkit.api_harness import ADMIN, TRADER, VERSION, TestClient, make_keys, make_test_client
from testkit.fake_bot_service import FakeBotService, make_config

REQUESTS = [
    ("GET", "/api/bots", ADMIN),
    ("GET", "/api/bots", TRADER),
    ("GET", "/api/bots?limit=3&x=y", ADMIN),
    ("GET", "/api/bots", {}),
    ("GET", "/api/bots", {"X-API-Key": "wrong-key-0123456789abcdef"}),
    ("HEAD", "/api/bots", ADMIN),
    ("POST", "/api/bots", ADMIN),
]


def documented_only(service: FakeBotService) -> FastAPI:
    """The same app without the direct route: what FastAPI's own route answers."""
    app = create_app(service, make_keys(), version=VERSION)
    app.router.routes.remove(_DIRECT_LISTING)
    return app


@pytest.fixture
def both() -> Iterator[tuple[TestClient, TestClient, FakeBotService]]:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    service.add_bot(make_config("beta"), BotState.RUNNING)
    direct_app = create_app(service, make_keys(), version=VERSION)
    assert direct_app.router.routes[0] is _DIRECT_LISTING
    with make_test_client(direct_app) as direct, make_test_client(documented_only(service)) as doc:
        yield direct, doc, service


@pytest.mark.parametrize(("method", "url", "headers"), REQUESTS)
def test_direct_route_answers_like_the_documented_one(
    both: tuple[TestClient, TestClient, FakeBotService],
    method: str,
    url: str,
    headers: dict[str, str],
) -> None:
    direct, documented, _ = both
    got = direct.request(method, url, headers=headers)
    want = documented.request(method, url, headers=headers)
    assert got.status_code == want.status_code
    assert got.content == want.content
    drop = {"date", "server"}
    assert {k: v for k, v in got.headers.items() if k not in drop} == {
        k: v for k, v in want.headers.items() if k not in drop
    }


def test_errors_and_metrics_as_before(both: tuple[TestClient, TestClient, FakeBotService]) -> None:
    direct, documented, service = both
    service.fail_with = RuntimeError("boom")
    got = direct.get("/api/bots", headers=ADMIN)
    service.fail_with = RuntimeError("boom")
    want = documented.get("/api/bots", headers=ADMIN)
    assert got.status_code == want.status_code == 500
    assert got.json() == want.json()
    service.fail_with = None
    assert direct.get("/api/bots", headers=ADMIN).status_code == 200
    metrics = direct.get("/metrics", headers=ADMIN).text
    assert 'route="/api/bots",status="200"' in metrics
    assert 'route="/api/bots",status="500"' in metrics


def test_listing_is_still_documented(both: tuple[TestClient, TestClient, FakeBotService]) -> None:
    direct, _, _ = both
    spec = direct.get("/openapi.json").json()
    assert "get" in spec["paths"]["/api/bots"]
    assert "post" in spec["paths"]["/api/bots"]


def test_listing_follows_changes(both: tuple[TestClient, TestClient, FakeBotService]) -> None:
    direct, _, _ = both
    assert [s["bot_id"] for s in direct.get("/api/bots", headers=ADMIN).json()] == ["alpha", "beta"]
    assert (
        direct.post(
            "/api/bots", headers=ADMIN, json=make_config("gamma").model_dump(mode="json")
        ).status_code
        == 201
    )
    assert direct.put("/api/bots/alpha/start", headers=ADMIN).status_code == 200
    listed = {s["bot_id"]: s for s in direct.get("/api/bots", headers=ADMIN).json()}
    assert list(listed) == ["alpha", "beta", "gamma"]
    assert listed["alpha"]["state"] == "running"
