"""``create_app``: the daemon's REST + WebSocket control plane over a ``BotServiceApi``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from algotrade.api import (
    routes_backtests,
    routes_bots,
    routes_overview,
    routes_reload,
    routes_risk,
    routes_session,
    routes_system,
    routes_venues,
    ws,
)
from algotrade.api.auth import OPEN_PATHS, AccessMiddleware, ApiKeys
from algotrade.api.deps import ApiContext
from algotrade.api.docs import DOCS_PATHS, DOCS_PREFIXES, OPENAPI_URL, install_docs
from algotrade.api.errors import BodyLimitMiddleware, install_error_handlers
from algotrade.api.metrics import ApiMetrics, MetricsMiddleware
from algotrade.api.openapi_responses import install_middleware_responses
from algotrade.api.session import FailureThrottle, SessionStore
from algotrade.daemon.service_api import BotServiceApi
from algotrade.web import DASHBOARD_OPEN_PATHS, DASHBOARD_OPEN_PREFIXES, install_dashboard

# Bot configs are small; a cap keeps a client from making the daemon buffer a huge body.
MAX_BODY_BYTES = 1 << 20

DESCRIPTION = """\
Control plane of the algo-trade daemon.

Send an API key in the `X-API-Key` header (the WebSocket `/ws` also takes `?token=`), or sign
in with `POST /api/session` for a session cookie (the web dashboard does); changes authorised by
the cookie must come from the daemon's own origin. Admin keys may do everything; trader keys may
only read. `/api/health`, these docs and the dashboard's pages are open. The key is checked
before the request body is read: a refused call gets 401/403 whatever it sent; five different
wrong keys within 10 minutes from one address get 429 with `Retry-After`.
Every error answers `{"error": {"code": ..., "message": ...}}`.
"""


def create_app(
    service: BotServiceApi,
    auth: ApiKeys,
    *,
    version: str,
    data_dir: Path | None = None,
    market_data_url: str | None = None,
) -> FastAPI:
    """A new app bound to ``service``; nothing global, so many apps can coexist (tests)."""
    app = FastAPI(
        title="algo-trade daemon",
        version=version,
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # install_docs serves both pages with local assets (no CDN)
        redoc_url=None,
    )
    metrics = ApiMetrics(service.bus)
    ctx = ApiContext(
        service=service,
        auth=auth,
        metrics=metrics,
        version=version,
        sessions=SessionStore(),
        throttle=FailureThrottle(),
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    # Outside the body limit: a caller without the right key never gets a 413 (nor has its body
    # read at all).
    app.add_middleware(
        AccessMiddleware,
        ctx=ctx,
        open_paths=OPEN_PATHS | DOCS_PATHS | DASHBOARD_OPEN_PATHS,
        open_prefixes=DOCS_PREFIXES + DASHBOARD_OPEN_PREFIXES,
    )
    # Added last = outermost: it sees the 500s the error middleware produces and the 401/403s.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_docs(app)
    install_middleware_responses(app, MAX_BODY_BYTES)
    app.include_router(routes_system.router)
    app.include_router(routes_reload.router)
    app.include_router(routes_bots.router)
    routes_bots.install_direct_listing(app)
    app.include_router(routes_overview.router)
    app.include_router(routes_risk.router)
    app.include_router(routes_venues.router)
    app.include_router(routes_session.router)
    app.include_router(routes_backtests.router)
    routes_backtests.install(app, data_dir, service.bus, market_data_url=market_data_url)
    app.include_router(ws.router)
    install_dashboard(app)  # last: "/" must not shadow an API route
    return app
