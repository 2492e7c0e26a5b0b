"""/metrics: per-app registry, request counts by route template, bots by state, bus counters."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from algotrade.api import create_app
from algotrade.daemon.bus import Topic
from testkit.api_harness import ADMIN, VERSION, TestClient, make_keys, make_test_client
from testkit.fake_bot_service import FakeBotService, make_config


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_request_counts_use_route_templates(client: TestClient) -> None:
    client.get("/api/bots/alpha", headers=ADMIN)
    client.get("/api/bots/ghost", headers=ADMIN)
    client.get("/api/random/path/123", headers=ADMIN)
    response = client.get("/metrics", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    by_bot = "/api/bots/{bot_id}"
    ok = (("method", "GET"), ("route", by_bot), ("status", "200"))
    missing = (("method", "GET"), ("route", by_bot), ("status", "404"))
    assert samples[("algotrade_http_requests_total", ok)] == 1
    assert samples[("algotrade_http_requests_total", missing)] == 1
    unmatched = (("method", "GET"), ("route", "<unmatched>"), ("status", "404"))
    assert samples[("algotrade_http_requests_total", unmatched)] == 1
    latency = (("method", "GET"), ("route", by_bot))
    assert samples[("algotrade_http_request_duration_seconds_count", latency)] == 2
    assert not any("ghost" in str(key) or "random" in str(key) for key in samples)


def test_bots_by_state_and_bus_counters(client: TestClient, service: FakeBotService) -> None:
    service.add_bot(make_config("beta"))
    client.put("/api/bots/alpha/start", headers=ADMIN)
    service.log("alpha", "hello")
    samples = _samples(client.get("/metrics", headers=ADMIN).text)
    assert samples[("algotrade_bots", (("state", "running"),))] == 1
    assert samples[("algotrade_bots", (("state", "stopped"),))] == 1
    assert samples[("algotrade_bots", (("state", "paused"),))] == 0
    assert samples[("algotrade_bus_messages_published_total", ())] == 2
    assert samples[("algotrade_bus_messages_dropped_total", ())] == 0
    assert samples[("algotrade_ws_connections", ())] == 0
    assert samples[("algotrade_ws_clients_dropped_total", ())] == 0


def test_500_is_counted(client: TestClient, service: FakeBotService) -> None:
    service.fail_with = RuntimeError("boom")
    assert client.get("/api/bots", headers=ADMIN).status_code == 500
    service.fail_with = None
    samples = _samples(client.get("/metrics", headers=ADMIN).text)
    key = (("method", "GET"), ("route", "/api/bots"), ("status", "500"))
    assert samples[("algotrade_http_requests_total", key)] == 1


def test_each_app_has_its_own_registry() -> None:
    first = create_app(FakeBotService(), make_keys(), version=VERSION)
    second = create_app(FakeBotService(), make_keys(), version=VERSION)
    with make_test_client(first) as one, make_test_client(second) as two:
        one.get("/api/version", headers=ADMIN)
        text = two.get("/metrics", headers=ADMIN).text
    assert "/api/version" not in text


def test_ws_gauge_follows_connections(client: TestClient, service: FakeBotService) -> None:
    # A copy: websocket_connect adds handshake headers to the dict it is given.
    with client.websocket_connect("/ws", headers=dict(ADMIN)) as ws:
        ws.send_json({"op": "subscribe", "topics": [Topic.LOGS], "bot_id": "*"})
        assert ws.receive_json()["type"] == "subscribed"
        samples = _samples(client.get("/metrics", headers=ADMIN).text)
        assert samples[("algotrade_ws_connections", ())] == 1
        assert service.bus.subscriber_count == 1
    samples = _samples(client.get("/metrics", headers=ADMIN).text)
    assert samples[("algotrade_ws_connections", ())] == 0
    assert service.bus.subscriber_count == 0


def test_live_venue_state_is_exported(client: TestClient, service: FakeBotService) -> None:
    service.venues = [
        {
            "venue": "hyperliquid",
            "connected": True,
            "blocked": {"BTC": "position mismatch on BTC"},
            "reconciles": 4,
            "reconcile_failures": 1,
            "alerts": [{"at": "t", "message": "m"}],
            "counters": {"http_rate_limited": 2, "ws_reconnects": 3},
        }
    ]
    samples = _samples(client.get("/metrics", headers=ADMIN).text)
    venue = (("venue", "hyperliquid"),)
    assert samples[("algotrade_venue_connected", venue)] == 1
    assert samples[("algotrade_venue_blocked_symbols", venue)] == 1

    def counter(name: str) -> float:
        return samples[("algotrade_venue_events", (("counter", name), ("venue", "hyperliquid")))]

    assert counter("reconciles") == 4
    assert counter("reconcile_failures") == 1
    assert counter("alerts") == 1
    assert counter("http_rate_limited") == 2
    assert counter("ws_reconnects") == 3
