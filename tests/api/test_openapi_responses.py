"""The statuses the middleware answers are documented on every operation they can reach
(schemathesis' status_code_conformance met undocumented 400s and 429s on a real daemon)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from algotrade.api.app import MAX_BODY_BYTES
from testkit.api_harness import ADMIN, TestClient

PATH_VALUES = {
    "bot_id": "alpha",
    "account_id": "acct-1",
    "venue": "paper",
    "job_id": "bt-00000000000000000-000000",
}


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in spec["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m[1]], template)
        for method, operation in item.items():
            yield method.upper(), url, operation


def test_a_body_that_is_not_json_text_or_too_large_is_a_documented_status(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    checked = 0
    for method, url, operation in operations(spec):
        if "requestBody" not in operation:
            continue
        for body in (b'{"a": "\xff"}', b" " * (MAX_BODY_BYTES + 1)):
            headers = {**ADMIN, "Content-Type": "application/json"}
            response = client.request(method, url, content=body, headers=headers)
            assert str(response.status_code) in operation["responses"], (method, url, response)
            assert response.status_code in (400, 413), (method, url, response.text)
            checked += 1
    assert checked >= 12  # bots, config, unlock, rules, session, backtests


def test_a_locked_out_address_gets_a_documented_429_everywhere(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for n in range(5):
        assert client.get("/api/version", headers={"X-API-Key": f"wrong-{n}"}).status_code == 401
    checked = 0
    for method, url, operation in operations(spec):
        if not operation.get("security"):
            continue
        response = client.request(method, url, headers=ADMIN)
        assert response.status_code == 429, (method, url, response.text)
        documented = operation["responses"]["429"]
        assert documented["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
        assert "Retry-After" in documented["headers"]
        assert int(response.headers["Retry-After"]) >= 1
        checked += 1
    assert checked >= 30
