"""Health (open), version and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from algotrade.api.auth import require_access
from algotrade.api.deps import ApiContext, get_context
from algotrade.api.schemas import ERROR_RESPONSES, Health, VersionInfo

router = APIRouter(tags=["system"])
Context = Annotated[ApiContext, Depends(get_context)]


@router.get("/api/health", response_model=Health)
async def health(ctx: Context) -> Health:
    """Liveness: open to everyone (probes carry no key), cheap, never touches bots."""
    return Health.model_validate({**ctx.service.health(), "status": "ok"})


@router.get(
    "/api/version",
    response_model=VersionInfo,
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_access)],
)
async def version(ctx: Context) -> VersionInfo:
    return VersionInfo(version=ctx.version)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={**ERROR_RESPONSES, 200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    dependencies=[Depends(require_access)],
)
async def metrics(ctx: Context) -> PlainTextResponse:
    """Prometheus text format. Bot counts are taken now, so a scrape always sees fresh states."""
    ctx.metrics.set_bot_states(await ctx.service.list_bots())
    ctx.metrics.set_venue_states(await ctx.service.venue_status())
    return PlainTextResponse(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
