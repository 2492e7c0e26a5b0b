"""Prometheus metrics of one app, in a registry of its own (tests build many apps)."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from algotrade.daemon.bus import EventBus
from algotrade.daemon.status import BotState, BotStatus

# Label for requests that matched no route: keeps fuzzers and scanners from creating a time
# series per random path.
UNMATCHED_ROUTE = "<unmatched>"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _BusCollector(Collector):
    """Reads the bus's own counters at scrape time (the bus counts; we only expose)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def collect(self) -> Iterator[Metric]:
        published = CounterMetricFamily(
            "algotrade_bus_messages_published", "Messages published on the event bus"
        )
        published.add_metric([], self._bus.published_total)
        yield published
        dropped = CounterMetricFamily(
            "algotrade_bus_messages_dropped",
            "Messages not delivered because a subscriber's queue was full",
        )
        dropped.add_metric([], self._bus.dropped_total)
        yield dropped


class ApiMetrics:
    def __init__(self, bus: EventBus) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "algotrade_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "algotrade_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.bots = Gauge("algotrade_bots", "Bots by state", ["state"], registry=self.registry)
        self.ws_connections = Gauge(
            "algotrade_ws_connections", "Open WebSocket connections", registry=self.registry
        )
        self.ws_dropped = Counter(
            "algotrade_ws_clients_dropped",
            "WebSocket clients closed (1013) because they fell behind the event stream",
            registry=self.registry,
        )
        self.registry.register(_BusCollector(bus))
        self.venue_connected = Gauge(
            "algotrade_venue_connected",
            "1 when the live venue's stream is connected",
            ["venue"],
            registry=self.registry,
        )
        self.venue_blocked = Gauge(
            "algotrade_venue_blocked_symbols",
            "Symbols whose bots are blocked by reconciliation (fail closed)",
            ["venue"],
            registry=self.registry,
        )
        self.venue_counters = Gauge(
            "algotrade_venue_events",
            "Live venue counters since the connection started (requests, weight, 429s, "
            "reconnects, malformed messages, reconciliations, ...)",
            ["venue", "counter"],
            registry=self.registry,
        )

    def set_bot_states(self, statuses: Iterable[BotStatus]) -> None:
        counts = Tally(status.state for status in statuses)
        # Every state gets a sample, so a state that drops to zero does not vanish from graphs.
        for state in BotState:
            self.bots.labels(state=state.value).set(counts.get(state, 0))

    def set_venue_states(self, states: Iterable[dict[str, Any]]) -> None:
        for state in states:
            venue = str(state.get("venue"))
            self.venue_connected.labels(venue=venue).set(1 if state.get("connected") else 0)
            self.venue_blocked.labels(venue=venue).set(len(state.get("blocked") or {}))
            counters = dict(state.get("counters") or {})
            counters["reconciles"] = state.get("reconciles", 0)
            counters["reconcile_failures"] = state.get("reconcile_failures", 0)
            counters["alerts"] = len(state.get("alerts") or [])
            for name, value in counters.items():
                self.venue_counters.labels(venue=venue, counter=name).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times HTTP requests by route template (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Errors become 500 responses inside; no response at all means the request was
        # cancelled (client gone): 499, nginx's "client closed request".
        status = 499

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            # The router stores the matched route in the (shared) scope dict.
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            method = scope.get("method", "")
            method = method if method in _KNOWN_METHODS else "OTHER"
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_latency.labels(method, template).observe(
                time.perf_counter() - started
            )
