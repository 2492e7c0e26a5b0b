"""REST routes on the fake service: success paths, pagination, and the OpenAPI document."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from algotrade.api.schemas import BotConfigPatch
from algotrade.daemon.bot_config import BotConfig
from testkit.api_harness import ADMIN, TRADER, VERSION, TestClient
from testkit.fake_bot_service import FakeBotService


def test_create_get_list_delete(client: TestClient) -> None:
    body = {"bot_id": "beta", "symbol": "ETH-USD", "strategy": "rsi", "leverage": "2.5"}
    response = client.post("/api/bots", json=body, headers=ADMIN)
    assert response.status_code == 201
    assert response.json()["bot_id"] == "beta"
    assert response.json()["state"] == "stopped"

    detail = client.get("/api/bots/beta", headers=TRADER).json()
    assert set(detail) == {"config", "status"}
    assert detail["config"]["leverage"] == "2.5"  # Decimal travels as exact text
    assert detail["config"]["symbol"] == "ETH-USD"
    assert detail["status"]["state"] == "stopped"

    listed = client.get("/api/bots", headers=TRADER).json()
    assert [bot["bot_id"] for bot in listed] == ["alpha", "beta"]

    response = client.delete("/api/bots/beta", headers=ADMIN)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get("/api/bots/beta", headers=ADMIN).status_code == 404


def test_lifecycle(client: TestClient) -> None:
    def put(command: str) -> str:
        response = client.put(f"/api/bots/alpha/{command}", headers=ADMIN)
        assert response.status_code == 200, response.text
        return str(response.json()["state"])

    assert put("start") == "running"
    assert put("pause") == "paused"
    assert put("resume") == "running"
    assert put("stop") == "stopped"


def test_patch_config(client: TestClient, service: FakeBotService) -> None:
    changes = {"leverage": "3", "params": {"fast": 5}, "auto_resume": True}
    response = client.patch("/api/bots/alpha/config", json=changes, headers=ADMIN)
    assert response.status_code == 200, response.text
    config = response.json()
    assert config["leverage"] == "3"
    assert config["params"] == {"fast": 5}
    assert config["auto_resume"] is True
    assert config["symbol"] == "BTC-USD"  # untouched fields keep their value
    assert service._bots["alpha"].config.leverage == Decimal(3)
    # An empty patch changes nothing and answers the current config.
    assert client.patch("/api/bots/alpha/config", json={}, headers=ADMIN).json() == config


def test_patch_model_matches_bot_config() -> None:
    # BotConfigPatch is written out for mypy and the docs; it must follow BotConfig.
    assert list(BotConfigPatch.model_fields) == list(BotConfig.model_fields)


def test_pages(client: TestClient, service: FakeBotService) -> None:
    for i in range(250):
        service.add_order("alpha", {"client_order_id": f"o{i}", "price": str(Decimal("1.5") + i)})
        service.add_fill("alpha", {"trade_id": f"t{i}"})
        service.add_equity("alpha", {"ts": i, "equity": "10000"})
    page = client.get("/api/bots/alpha/orders?offset=240&limit=20", headers=TRADER).json()
    assert page["total"] == 250
    assert page["offset"] == 240
    assert page["limit"] == 20
    assert [o["client_order_id"] for o in page["items"]] == [f"o{i}" for i in range(240, 250)]
    default = client.get("/api/bots/alpha/fills", headers=TRADER).json()
    assert (default["offset"], default["limit"], len(default["items"])) == (0, 100, 100)
    equity = client.get("/api/bots/alpha/equity?limit=1000", headers=TRADER).json()
    assert len(equity["items"]) == 250
    far = client.get(f"/api/bots/alpha/orders?offset={2**63 - 1}", headers=TRADER).json()
    assert far["items"] == []


def test_positions(client: TestClient, service: FakeBotService) -> None:
    assert client.get("/api/bots/alpha/positions", headers=TRADER).json() == []
    service.set_positions("alpha", [{"symbol": "BTC-USD", "qty": "0.5"}])
    [position] = client.get("/api/bots/alpha/positions", headers=TRADER).json()
    assert (position["symbol"], position["qty"]) == ("BTC-USD", "0.5")


def test_health_version(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["bots"]["stopped"] == 1  # the service's facts come along
    assert client.get("/api/version", headers=TRADER).json() == {"version": VERSION}


def test_openapi_is_complete(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["version"] == VERSION
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]

    def response_schema(path: str, method: str, status: str = "200") -> dict[str, Any]:
        content = paths[path][method]["responses"][status]["content"]
        return dict(content["application/json"]["schema"])

    listed = response_schema("/api/bots", "get")
    assert listed["items"] == {"$ref": "#/components/schemas/BotStatus"}
    create = paths["/api/bots"]["post"]
    assert "201" in create["responses"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.startswith("#/components/schemas/BotConfig")
    assert response_schema("/api/bots/{bot_id}", "get")["$ref"].endswith("/BotDetail")
    assert "204" in paths["/api/bots/{bot_id}"]["delete"]["responses"]
    for what, page in (("orders", "OrderPage"), ("fills", "FillPage"), ("equity", "EquityPage")):
        assert response_schema(f"/api/bots/{{bot_id}}/{what}", "get")["$ref"].endswith(page)
    patch = paths["/api/bots/{bot_id}/config"]["patch"]
    patch_ref = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert patch_ref.endswith("/BotConfigPatch")
    assert schemas["BotConfigPatch"]["additionalProperties"] is False
    assert "required" not in schemas["BotConfigPatch"]
    # Errors are documented in our shape, not FastAPI's default HTTPValidationError.
    error_ref = paths["/api/bots/{bot_id}/start"]["put"]["responses"]["409"]["content"]
    assert error_ref["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "HTTPValidationError" not in schemas
    limit = next(
        p for p in paths["/api/bots/{bot_id}/fills"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    # The API key scheme is declared, so /docs offers "Authorize".
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert "security" not in paths["/api/health"]["get"]
    assert "text/plain" in str(paths["/metrics"]["get"]["responses"]["200"]["content"])


def test_docs_page(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
