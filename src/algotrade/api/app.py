"""``create_app``: the daemon's REST + WebSocket control plane over a ``BotServiceApi``."""

from __future__ import annotations

from fastapi import FastAPI

from algotrade.api import routes_bots, routes_risk, routes_system, routes_venues, ws
from algotrade.api.auth import ApiKeys, check_request_access
from algotrade.api.deps import ApiContext
from algotrade.api.errors import BodyLimitMiddleware, install_error_handlers
from algotrade.api.metrics import ApiMetrics, MetricsMiddleware
from algotrade.daemon.service_api import BotServiceApi

# Bot configs are small; a cap keeps a client from making the daemon buffer a huge body.
MAX_BODY_BYTES = 1 << 20

DESCRIPTION = """\
Control plane of the algo-trade daemon.

Send an API key in the `X-API-Key` header (the WebSocket `/ws` also takes `?token=`).
Admin keys may do everything; trader keys may only read. `/api/health` is open.
Every error answers `{"error": {"code": ..., "message": ...}}`.
"""


def create_app(service: BotServiceApi, auth: ApiKeys, *, version: str) -> FastAPI:
    """A new app bound to ``service``; nothing global, so many apps can coexist (tests)."""
    app = FastAPI(
        title="algo-trade daemon",
        version=version,
        description=DESCRIPTION,
    )
    metrics = ApiMetrics(service.bus)
    app.state.ctx = ApiContext(service=service, auth=auth, metrics=metrics, version=version)
    install_error_handlers(app, check_request_access)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    # Added last = outermost: it sees the 500s the error middleware produces.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(routes_system.router)
    app.include_router(routes_bots.router)
    app.include_router(routes_risk.router)
    app.include_router(routes_venues.router)
    app.include_router(ws.router)
    return app
