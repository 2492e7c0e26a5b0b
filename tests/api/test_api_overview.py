"""The API the interfaces read: summary, strategies, bars, logs, newest-first pages, and the
``bars``/``summary`` WebSocket topics (with the fake service; the daemon side is tested in
tests/daemon/test_service_views.py)."""

from __future__ import annotations

from typing import Any

from testkit.api_harness import ADMIN, TRADER, TRADER_KEY, TestClient, on_app_loop
from testkit.fake_bot_service import FakeBotService

WS = f"/ws?token={TRADER_KEY}"


def _subscribe(ws: Any, topics: list[str], bot_id: str = "*") -> list[dict[str, Any]]:
    ws.send_json({"op": "subscribe", "topics": topics, "bot_id": bot_id})
    replies = [ws.receive_json() for _ in range(1 + len(topics))]
    assert replies[0]["type"] == "subscribed"
    return replies[1:]


def _bar(minute: int, close: str) -> dict[str, Any]:
    return {"ts": f"2026-01-01T00:{minute:02d}:00Z", "close": close}


def test_summary_has_every_total_the_overview_shows(client: TestClient) -> None:
    answer = client.get("/api/summary", headers=TRADER)
    assert answer.status_code == 200
    summary = answer.json()
    for field in (
        "bots",
        "states",
        "equity",
        "pnl_today",
        "pnl_total",
        "open_positions",
        "errors",
        "warnings",
        "alerts",
        "lockouts",
    ):
        assert field in summary, field
    assert summary["bots"] == 1
    assert summary["states"]["stopped"] == 1
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Summary"]
    assert set(summary) <= set(schema["properties"])


def test_strategies_carry_parameter_json_schemas(client: TestClient) -> None:
    answer = client.get("/api/strategies", headers=TRADER)
    assert answer.status_code == 200
    by_name = {s["name"]: s for s in answer.json()}
    crossover = by_name["ma_crossover"]
    assert crossover["description"]
    properties = crossover["params_schema"]["properties"]
    assert {"fast", "slow"} <= set(properties)
    assert properties["fast"]["type"] == "integer"


def test_bars_oldest_first_and_limit_bounds_name_the_field(
    client: TestClient, service: FakeBotService
) -> None:
    for minute, close in enumerate(["100", "101", "102"]):
        service.add_bar("alpha", _bar(minute, close))
    answer = client.get("/api/bots/alpha/bars?limit=2", headers=TRADER)
    assert answer.status_code == 200
    assert [b["close"] for b in answer.json()] == ["101", "102"]
    for bad in ("0", "1001", "x"):
        refused = client.get(f"/api/bots/alpha/bars?limit={bad}", headers=TRADER)
        assert refused.status_code == 422, bad
        assert "limit" in refused.text
    assert client.get("/api/bots/nobody/bars", headers=TRADER).status_code == 404


def test_logs_newest_first(client: TestClient, service: FakeBotService) -> None:
    for line in ("first", "second", "third"):
        service.log("alpha", line)
    page = client.get("/api/bots/alpha/logs?limit=2", headers=TRADER).json()
    assert page["order"] == "desc"
    assert [line["message"] for line in page["items"]] == ["third", "second"]


def test_orders_and_fills_page_newest_first_on_request(
    client: TestClient, service: FakeBotService
) -> None:
    for trade in ("t1", "t2", "t3"):
        service.add_fill("alpha", {"trade_id": trade})
    oldest = client.get("/api/bots/alpha/fills", headers=TRADER).json()
    newest = client.get("/api/bots/alpha/fills?order=desc&limit=2", headers=TRADER).json()
    assert oldest["order"] == "asc"
    assert [f["trade_id"] for f in oldest["items"]] == ["t1", "t2", "t3"]
    assert newest["order"] == "desc"
    assert [f["trade_id"] for f in newest["items"]] == ["t3", "t2"]
    refused = client.get("/api/bots/alpha/orders?order=bogus", headers=TRADER)
    assert refused.status_code == 422
    assert "order" in refused.text


def test_records_have_typed_response_models(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, model in (
        ("/api/bots/{bot_id}/orders", "OrderPage"),
        ("/api/bots/{bot_id}/fills", "FillPage"),
        ("/api/bots/{bot_id}/equity", "EquityPage"),
        ("/api/bots/{bot_id}/logs", "LogPage"),
    ):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(model), path
    positions = paths["/api/bots/{bot_id}/positions"]["get"]["responses"]["200"]
    assert "PositionOut" in str(positions)


def test_ws_bars_snapshot_then_new_bars(client: TestClient, service: FakeBotService) -> None:
    service.add_bar("alpha", _bar(0, "100"))
    with client.websocket_connect(WS) as ws:
        (snapshot,) = _subscribe(ws, ["bars"], "alpha")
        assert [b["close"] for b in snapshot["data"]] == ["100"]
        on_app_loop(client, service.add_bar, "alpha", _bar(1, "101"))
        event = ws.receive_json()
        assert (event["topic"], event["bot_id"]) == ("bars", "alpha")
        assert event["data"]["close"] == "101"


def test_ws_summary_snapshot(client: TestClient) -> None:
    with client.websocket_connect(WS) as ws:
        (snapshot,) = _subscribe(ws, ["summary"])
        assert len(snapshot["data"]) == 1
        assert snapshot["data"][0]["bots"] == 1
    assert client.get("/api/summary", headers=ADMIN).status_code == 200
