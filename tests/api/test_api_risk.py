"""/api/risk over a real risk service and store: bounded paging, strict filters, rooted errors."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import get_args

import pytest

from algotrade.api import create_app
from algotrade.api.errors import ApiHttpError
from algotrade.api.routes_risk import InvalidRules, LogKind, RiskDisabled, UnknownAccount
from algotrade.core.errors import AlgoTradeError, ConfigError, InputError
from algotrade.daemon.risk_service import RiskService
from algotrade.risk.config_loader import load_risk_config
from algotrade.risk.rules_config import RiskRules
from algotrade.store.records_risk import LOG_KINDS
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store
from testkit.api_harness import ADMIN, TestClient, make_keys, make_test_client, on_app_loop
from testkit.fake_bot_service import FakeBotService

TOO_BIG = 2**63  # one past what a SQL OFFSET (signed 64-bit) takes


@pytest.fixture
def risk_client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "accounts.yaml").write_text("accounts:\n  - id: acct\n")
    (tmp_path / "risk.yaml").write_text("defaults:\n  max_contracts: {enabled: true, limit: 5}\n")
    config = load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    store = Store(f"sqlite:///{tmp_path / 'risk.db'}")
    store.open()
    service = FakeBotService()
    with ThreadPoolExecutor(1) as executor:
        risk = RiskService(config, RiskStore(store), service.bus, executor)
        service.risk = risk  # type: ignore[assignment]
        app = create_app(service, make_keys(), version="test")
        with make_test_client(app) as client:
            # Started on the app's loop, like the daemon does: writes (unlock) really land.
            on_app_loop(client, risk.start, lambda _account: [])
            yield client
            on_app_loop(client, risk.stop)
    store.close()


@pytest.mark.parametrize("route", ["audit", "lockouts", "enforcements"])
def test_paging_bounds_are_validated_not_500(risk_client: TestClient, route: str) -> None:
    url = f"/api/risk/{route}"
    for query, field in (
        (f"offset={TOO_BIG}", "query.offset"),
        (f"offset={10**30}", "query.offset"),
        ("offset=-1", "query.offset"),
        ("limit=0", "query.limit"),
        ("limit=1001", "query.limit"),
        (f"limit={TOO_BIG}", "query.limit"),
    ):
        response = risk_client.get(f"{url}?{query}", headers=ADMIN)
        assert response.status_code == 422, (query, response.text)
        assert response.json()["error"]["message"].startswith(field)
    # The largest offset allowed reaches the store and finds nothing.
    response = risk_client.get(f"{url}?offset={TOO_BIG - 1}&limit=1000", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    ("request_line", "field"),
    [
        ("GET /api/risk/enforcements?kind=nope", "query.kind.0"),
        ("GET /api/risk/enforcements?account_id=a%00b", "query.account_id"),
        ("GET /api/risk/lockouts?account_id=%20acct", "query.account_id"),
        ("GET /api/risk/accounts/a%0Ab", "path.account_id"),
        # Spellings lax pydantic read as true and as 50: a query says true/false and digits.
        ("GET /api/risk/lockouts?active_only=yes", "query.active_only"),
        ("GET /api/risk/lockouts?active_only=t", "query.active_only"),
        ("GET /api/risk/audit?limit=5_0", "query.limit"),
        ("GET /api/risk/audit?limit=%2B50", "query.limit"),
        ("GET /api/risk/audit?offset=%200", "query.offset"),
    ],
)
def test_filters_are_strict(risk_client: TestClient, request_line: str, field: str) -> None:
    method, url = request_line.split(" ")
    response = risk_client.request(method, url, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(field)


def test_the_rule_names_are_published_and_each_one_is_accepted(risk_client: TestClient) -> None:
    # The schema said "a string": schemathesis' positive_data_acceptance sent "0" and got 422.
    schemas = risk_client.get("/openapi.json").json()["components"]["schemas"]
    [rule, _null] = schemas["UnlockRequest"]["properties"]["rule"]["anyOf"]
    assert rule["enum"] == list(RiskRules.model_fields)
    rules = schemas["RulesChange"]["properties"]["rules"]
    assert rules["propertyNames"] == {"enum": list(RiskRules.model_fields)}
    for name in rule["enum"]:
        body = {"reason": "published", "rule": name}
        response = risk_client.post("/api/risk/accounts/acct/unlock", json=body, headers=ADMIN)
        assert response.status_code == 200, (name, response.text)


def test_query_flags_and_integers_as_serializers_write_them(risk_client: TestClient) -> None:
    for query in ("active_only=false", "active_only=TRUE", "active_only=0", "limit=50&offset=0"):
        response = risk_client.get(f"/api/risk/lockouts?{query}", headers=ADMIN)
        assert response.status_code == 200, (query, response.text)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "line one\nforged line"}, "body.reason"),
        ({"reason": "nul \x00 byte"}, "body.reason"),
        ({"reason": "ok", "rule": "no such; rule"}, "body.rule"),
        # Defect: a blank reason was accepted and audited as "   ".
        ({"reason": "   "}, "body.reason: must not be blank"),
        # Defect: an unknown rule "succeeded" (200, nothing cleared, audited).
        ({"reason": "ok", "rule": "nope"}, "rule: unknown rule 'nope'; expected one of "),
    ],
)
def test_unlock_text_is_one_printable_line(
    risk_client: TestClient, body: dict[str, str], field: str
) -> None:
    response = risk_client.post("/api/risk/accounts/acct/unlock", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(field)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/risk/lockouts?account_id=ghost", None),
        ("GET", "/api/risk/lockouts?account_id=ghost&active_only=false", None),
        ("GET", "/api/risk/enforcements?account_id=ghost&kind=breach", None),
        ("GET", "/api/risk/accounts/ghost", None),
        ("POST", "/api/risk/accounts/ghost/unlock", {"reason": "checked"}),
        ("PUT", "/api/risk/rules", {"account_id": "ghost", "rules": {}}),
    ],
)
def test_an_unknown_account_is_404_naming_the_known_ones_on_every_route(
    risk_client: TestClient, method: str, url: str, body: dict[str, object] | None
) -> None:
    # Defect: the lockouts and enforcements filters answered an empty page (200).
    response = risk_client.request(method, url, json=body, headers=ADMIN)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "no account 'ghost'; known accounts: acct",
    }


def test_log_kinds_match_the_store() -> None:
    assert set(get_args(LogKind)) == set(LOG_KINDS)


def test_api_errors_are_rooted_in_the_project_tree() -> None:
    assert issubclass(ApiHttpError, InputError)
    assert issubclass(RiskDisabled, InputError)
    assert issubclass(UnknownAccount, InputError)
    assert issubclass(InvalidRules, ConfigError)
    for error in (ApiHttpError, RiskDisabled, UnknownAccount, InvalidRules):
        assert issubclass(error, AlgoTradeError)
