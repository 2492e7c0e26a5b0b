"""What the routes get injected: one ``ApiContext`` per app, kept on ``app.state``.

No module globals: every app built by ``create_app`` carries its own service, keys and metrics,
so tests (and a daemon embedding several apps) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from starlette.requests import HTTPConnection

from algotrade.daemon.service_api import BotServiceApi

if TYPE_CHECKING:
    from algotrade.api.auth import ApiKeys
    from algotrade.api.metrics import ApiMetrics


@dataclass(frozen=True, slots=True)
class ApiContext:
    service: BotServiceApi
    auth: ApiKeys
    metrics: ApiMetrics
    version: str


def get_context(conn: HTTPConnection) -> ApiContext:
    """FastAPI dependency (HTTP and WebSocket alike)."""
    return cast(ApiContext, conn.app.state.ctx)


def get_service(conn: HTTPConnection) -> BotServiceApi:
    return get_context(conn).service
