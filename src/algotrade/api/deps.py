"""What the routes get injected: one ``ApiContext`` per app, kept on ``app.state``.

No module globals: every app built by ``create_app`` carries its own service, keys and metrics,
so tests (and a daemon embedding several apps) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from starlette.requests import HTTPConnection

from algotrade.api.session import FailureThrottle, SessionStore
from algotrade.daemon.service_api import BotServiceApi

if TYPE_CHECKING:
    from algotrade.api.keys import ApiKeys
    from algotrade.api.metrics import ApiMetrics


@dataclass(frozen=True, slots=True)
class ApiContext:
    service: BotServiceApi
    auth: ApiKeys
    metrics: ApiMetrics
    version: str
    # Dashboard sessions and the wrong-key throttle: per app, in memory (a restart signs out).
    sessions: SessionStore = field(default_factory=SessionStore)
    throttle: FailureThrottle = field(default_factory=FailureThrottle)


def context_of(conn: HTTPConnection) -> ApiContext:
    return cast(ApiContext, conn.app.state.ctx)


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool,
# two thread hops per request for what is an attribute lookup.
async def get_context(conn: HTTPConnection) -> ApiContext:
    """FastAPI dependency (HTTP and WebSocket alike)."""
    return context_of(conn)


async def get_service(conn: HTTPConnection) -> BotServiceApi:
    return context_of(conn).service
