"""Every failure answers ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testkit.api_harness import ADMIN, TestClient
from testkit.fake_bot_service import FakeBotService


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    assert "\n" not in message
    return message


def test_unknown_bot_is_404(client: TestClient) -> None:
    for path in ("/api/bots/ghost", "/api/bots/ghost/orders", "/api/bots/ghost/positions"):
        message = _error(client.get(path, headers=ADMIN), 404, "not_found")
        assert "ghost" in message
    _error(client.put("/api/bots/ghost/start", headers=ADMIN), 404, "not_found")
    _error(client.delete("/api/bots/ghost", headers=ADMIN), 404, "not_found")


def test_unknown_route_and_method(client: TestClient) -> None:
    message = _error(client.get("/api/nothing-here", headers=ADMIN), 404, "not_found")
    assert "/api/nothing-here" in message
    assert _error(client.get("/nope", headers=ADMIN), 404, "not_found")
    # Without a key the key is checked first, even for a path that does not exist.
    assert _error(client.get("/nope"), 401, "unauthorized")
    response = client.delete("/api/bots", headers=ADMIN)
    message = _error(response, 405, "method_not_allowed")
    assert message == "method DELETE is not allowed here (allowed: GET, POST)"
    assert response.headers["allow"] == "GET, POST"


def test_allow_lists_every_method_the_path_takes(client: TestClient) -> None:
    # Defect: Allow named the first route matching the path only ("GET" for /api/bots, whose
    # POST it left out): schemathesis' allow_header_conformance compares it with the document.
    spec = client.get("/openapi.json").json()
    for template, item in spec["paths"].items():
        url = template.replace("{bot_id}", "alpha").replace("{account_id}", "a")
        url = url.replace("{venue}", "paper").replace("{job_id}", "bt-00000000000000000-000000")
        response = client.options(url, headers=ADMIN)
        assert response.status_code == 405, url
        assert sorted(response.headers["allow"].split(", ")) == sorted(m.upper() for m in item)


def test_missing_field_is_named(client: TestClient) -> None:
    response = client.post("/api/bots", json={"bot_id": "x", "strategy": "rsi"}, headers=ADMIN)
    assert _error(response, 422, "validation_error") == "body.symbol: Field required"


def test_several_field_errors_are_joined(client: TestClient) -> None:
    body = {"bot_id": "bad id!", "strategy": "rsi", "leverage": 0}
    message = _error(client.post("/api/bots", json=body, headers=ADMIN), 422, "validation_error")
    parts = message.split("; ")
    assert any(part.startswith("body.bot_id: ") for part in parts)
    assert "body.symbol: Field required" in parts
    assert any(part.startswith("body.leverage: ") for part in parts)


def test_invalid_json_body(client: TestClient) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post("/api/bots", content=b'{"bot_id": ', headers=headers)
    assert "invalid JSON" in _error(response, 422, "validation_error")


def test_a_body_that_is_not_declared_json_says_so(client: TestClient) -> None:
    headers = {**ADMIN, "Content-Type": "text/plain"}
    response = client.post("/api/bots", content=b'{"bot_id": "x"}', headers=headers)
    message = _error(response, 422, "validation_error")
    assert message == "body: expected JSON (Content-Type: application/json), got text/plain"


def test_a_check_that_names_its_field_is_not_named_twice(client: TestClient) -> None:
    body = {"bot_id": "x", "symbol": "SIM-X", "strategy": "rsi", "initial_capital": "1e20"}
    message = _error(client.post("/api/bots", json=body, headers=ADMIN), 422, "validation_error")
    assert message == "body.initial_capital: expected a magnitude below 1e15, got 1E+20"


def test_query_and_path_validation(client: TestClient) -> None:
    response = client.get("/api/bots/alpha/orders?limit=0", headers=ADMIN)
    assert _error(response, 422, "validation_error").startswith("query.limit: ")
    response = client.get("/api/bots/alpha/fills?limit=1001&offset=-1", headers=ADMIN)
    message = _error(response, 422, "validation_error")
    assert "query.limit" in message
    assert "query.offset" in message
    response = client.get("/api/bots/alpha/equity?offset=abc", headers=ADMIN)
    assert "query.offset" in _error(response, 422, "validation_error")
    response = client.get("/api/bots/bad%20id", headers=ADMIN)
    assert _error(response, 422, "validation_error").startswith("path.bot_id: ")


def test_patch_unknown_field_is_named(client: TestClient) -> None:
    response = client.patch("/api/bots/alpha/config", json={"levrage": "2"}, headers=ADMIN)
    assert _error(response, 422, "validation_error") == (
        "body.levrage: Extra inputs are not permitted"
    )


def test_patch_value_rejected_by_service(client: TestClient) -> None:
    # The patch's schema has BotConfig's bounds; the rules beyond them are the service's.
    response = client.patch("/api/bots/alpha/config", json={"leverage": "-1"}, headers=ADMIN)
    assert "body.leverage" in _error(response, 422, "validation_error")
    response = client.patch("/api/bots/alpha/config", json={"interval": "5x"}, headers=ADMIN)
    assert "interval" in _error(response, 422, "invalid_config")
    response = client.patch("/api/bots/alpha/config", json={"bot_id": "other"}, headers=ADMIN)
    assert "bot_id" in _error(response, 422, "invalid_config")
    response = client.patch("/api/bots/alpha/config", json={"symbol": None}, headers=ADMIN)
    assert "body.symbol" in _error(response, 422, "validation_error")  # null is not "unset"


def test_conflicts_are_409(client: TestClient, service: FakeBotService) -> None:
    body = {"bot_id": "alpha", "symbol": "BTC-USD", "strategy": "rsi"}
    assert "alpha" in _error(client.post("/api/bots", json=body, headers=ADMIN), 409, "conflict")
    message = _error(client.put("/api/bots/alpha/pause", headers=ADMIN), 409, "invalid_state")
    assert "pause" in message
    assert client.put("/api/bots/alpha/start", headers=ADMIN).status_code == 200
    _error(client.put("/api/bots/alpha/start", headers=ADMIN), 409, "invalid_state")
    _error(client.delete("/api/bots/alpha", headers=ADMIN), 409, "invalid_state")
    service.max_bots = 1
    body["bot_id"] = "beta"
    _error(client.post("/api/bots", json=body, headers=ADMIN), 409, "bot_limit")


def test_shutting_down_is_503(client: TestClient, service: FakeBotService) -> None:
    service.shutting_down = True
    _error(client.put("/api/bots/alpha/start", headers=ADMIN), 503, "shutting_down")
    assert client.get("/api/health").status_code == 200


def test_unexpected_error_is_generic_500_and_logged(
    client: TestClient, service: FakeBotService, caplog: pytest.LogCaptureFixture
) -> None:
    service.fail_with = RuntimeError("db password is hunter2")
    response = client.get("/api/bots", headers=ADMIN)
    message = _error(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "internal error" in message
    records = [r for r in caplog.records if r.name == "algotrade.api" and r.exc_info]
    assert records, "the traceback must reach the log"
    assert "hunter2" in caplog.text  # the log keeps the details the client must not see


def test_oversized_body_is_413(client: TestClient) -> None:
    body = {"bot_id": "big", "symbol": "X", "strategy": "rsi", "params": {"p": "x" * 2_000_000}}
    _error(client.post("/api/bots", json=body, headers=ADMIN), 413, "payload_too_large")


def test_streamed_oversized_body_is_413(client: TestClient) -> None:
    # No Content-Length: the limit must also hold while the body streams in.
    def chunks() -> Iterator[bytes]:
        yield b'{"bot_id": "big", "symbol": "X", "strategy": "rsi", "params": {"p": "'
        for _ in range(300):
            yield b"x" * 4096
        yield b'"}}'

    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post("/api/bots", content=chunks(), headers=headers)
    _error(response, 413, "payload_too_large")
