"""AlgoTradeClient against a real uvicorn server: every call, error mapping, no daemon."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algotrade.client import AlgoTradeClient, ApiError, DaemonUnreachable
from testkit.api_harness import ADMIN_KEY, TRADER_KEY, VERSION, ServerThread
from testkit.fake_bot_service import FakeBotService


def test_every_call(server: ServerThread, service: FakeBotService) -> None:
    with AlgoTradeClient(server.base_url + "/", ADMIN_KEY) as client:
        assert client.health()["status"] == "ok"
        assert client.version() == {"version": VERSION}
        status = client.create_bot(
            {"bot_id": "beta", "symbol": "ETH-USD", "strategy": "rsi", "leverage": Decimal("2.5")}
        )
        assert status["state"] == "stopped"
        assert [bot["bot_id"] for bot in client.list_bots()] == ["alpha", "beta"]
        detail = client.get_bot("beta")
        assert detail["config"]["leverage"] == "2.5"
        assert client.start_bot("beta")["state"] == "running"
        assert client.pause_bot("beta")["state"] == "paused"
        assert client.resume_bot("beta")["state"] == "running"
        assert client.stop_bot("beta")["state"] == "stopped"
        config = client.update_config("beta", {"commission": Decimal("0.001")})
        assert config["commission"] == "0.001"

        def record() -> None:
            for i in range(5):
                service.add_order("beta", {"id": i})
                service.add_fill("beta", {"id": i})
                service.add_equity("beta", {"ts": i})
            service.set_positions("beta", [{"symbol": "ETH-USD", "qty": "1"}])

        server.call(record)
        page = client.orders("beta", offset=3, limit=10)
        assert [item["id"] for item in page["items"]] == [3, 4]
        assert page | {"items": None} == {
            "items": None,
            "total": 5,
            "offset": 3,
            "limit": 10,
            "order": "asc",
        }
        assert client.fills("beta")["total"] == 5
        assert len(client.equity("beta", limit=2)["items"]) == 2
        [position] = client.positions("beta")
        assert (position["symbol"], position["qty"], position["bot_id"]) == ("ETH-USD", "1", "beta")
        assert "algotrade_bots" in client.metrics_text()
        client.delete_bot("beta")
        assert [bot["bot_id"] for bot in client.list_bots()] == ["alpha"]


def test_api_errors(server: ServerThread) -> None:
    with AlgoTradeClient(server.base_url, ADMIN_KEY) as client:
        with pytest.raises(ApiError) as caught:
            client.create_bot({"bot_id": "alpha", "symbol": "X", "strategy": "rsi"})
        error = caught.value
        assert (error.status, error.code) == (409, "conflict")
        assert str(error) == "409 conflict: bot 'alpha' exists"

        with pytest.raises(ApiError) as caught:
            client.get_bot("ghost")
        assert str(caught.value) == "404 not_found: no bot 'ghost'"

        with pytest.raises(ApiError) as caught:
            client.update_config("alpha", {"nope": 1})
        expected = "422 validation_error: body.nope: Extra inputs are not permitted"
        assert str(caught.value) == expected

        with pytest.raises(ApiError) as caught:
            client.pause_bot("alpha")
        assert caught.value.code == "invalid_state"

        with pytest.raises(ApiError) as caught:
            client.orders("alpha", limit=5000)
        assert caught.value.status == 422


def test_auth_errors(server: ServerThread) -> None:
    with AlgoTradeClient(server.base_url) as anonymous:
        assert anonymous.health()["status"] == "ok"
        with pytest.raises(ApiError) as caught:
            anonymous.list_bots()
        assert (caught.value.status, caught.value.code) == (401, "unauthorized")
        with pytest.raises(ApiError) as caught:
            anonymous.metrics_text()
        assert caught.value.status == 401
    with AlgoTradeClient(server.base_url, TRADER_KEY) as trader:
        assert trader.list_bots()
        with pytest.raises(ApiError) as caught:
            trader.start_bot("alpha")
        assert (caught.value.status, caught.value.code) == (403, "forbidden")


def test_daemon_unreachable(dead_url: str) -> None:
    with (
        AlgoTradeClient(dead_url, ADMIN_KEY, timeout=2) as client,
        pytest.raises(DaemonUnreachable) as caught,
    ):
        client.list_bots()
    message = str(caught.value)
    assert message.startswith(f"cannot reach the daemon at {dead_url}: ")
    assert "\n" not in message
    assert caught.value.url == dead_url
    assert ADMIN_KEY not in message


def test_non_api_error_answer() -> None:
    # Something that is not the daemon (a proxy, another server) answering an error page.
    import httpx

    from algotrade import client as client_module

    response = httpx.Response(502, text="<html>Bad Gateway</html>")
    error = client_module.error_from_response(response)
    assert str(error) == "502 http_error: Bad Gateway"
