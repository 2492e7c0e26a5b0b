"""What the routes get injected: one ``ApiContext`` per app, kept on ``app.state``.

No module globals: every app built by ``create_app`` carries its own service, keys and metrics,
so tests (and a daemon embedding several apps) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from starlette.requests import HTTPConnection

from algotrade.api.session import FailureThrottle, SessionStore
from algotrade.daemon.service_api import BotServiceApi

if TYPE_CHECKING:
    from algotrade.api.keys import ApiKeys
    from algotrade.api.metrics import ApiMetrics


class ReloadControl(Protocol):
    """What ``/api/reload`` drives (``daemon.reload.Reloader`` behind an adapter)."""

    async def reload(self, caller: str) -> dict[str, Any]: ...

    def history(self) -> list[dict[str, Any]]: ...

    def busy(self) -> bool: ...


@dataclass(slots=True)
class ApiContext:
    """Not frozen: a reload swaps ``auth`` (``replace_keys``) and installs ``reloader``."""

    service: BotServiceApi
    auth: ApiKeys
    metrics: ApiMetrics
    version: str
    # Dashboard sessions and the wrong-key throttle: per app, in memory (a restart signs out).
    sessions: SessionStore = field(default_factory=SessionStore)
    throttle: FailureThrottle = field(default_factory=FailureThrottle)
    reloader: ReloadControl | None = None  # None: this app cannot reload (no config source)
    # Counts key swaps: an open WebSocket authorised under an older generation is re-checked.
    keys_generation: int = 0

    def replace_keys(self, keys: ApiKeys) -> None:
        """Key rotation: every request from now on, each session (its key's fingerprint is
        looked up in ``auth`` per request) and each WebSocket's next check use ``keys``."""
        self.auth = keys
        self.keys_generation += 1


def context_of(conn: HTTPConnection) -> ApiContext:
    return cast(ApiContext, conn.app.state.ctx)


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool,
# two thread hops per request for what is an attribute lookup.
async def get_context(conn: HTTPConnection) -> ApiContext:
    """FastAPI dependency (HTTP and WebSocket alike)."""
    return context_of(conn)


async def get_service(conn: HTTPConnection) -> BotServiceApi:
    return context_of(conn).service
