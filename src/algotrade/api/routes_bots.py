"""``/api/bots``: create, inspect, control and delete bots; their orders, fills and equity."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response
from starlette.routing import Route

from algotrade.api.auth import require_access
from algotrade.api.deps import context_of, get_service
from algotrade.api.schemas import (
    DEFAULT_PAGE_LIMIT,
    QUERY_INTEGER,
    READ_RESPONSES,
    WRITE_RESPONSES,
    BotConfigPatch,
    BotDetail,
    PageLimit,
    PageOffset,
)
from algotrade.api.schemas_records import (
    BarOut,
    EquityPage,
    FillPage,
    LogPage,
    OrderPage,
    PositionOut,
)
from algotrade.daemon.bot_config import BOT_ID_PATTERN, BotConfig
from algotrade.daemon.service_api import BotServiceApi, Page
from algotrade.daemon.status import BotStatus

router = APIRouter(prefix="/api/bots", tags=["bots"], dependencies=[Depends(require_access)])

Service = Annotated[BotServiceApi, Depends(get_service)]
BotId = Annotated[str, Path(pattern=BOT_ID_PATTERN, description="the bot's id")]
SortOrder = Annotated[
    Literal["asc", "desc"], Query(description="asc: oldest first; desc: newest first")
]
MAX_BARS = 1000
DEFAULT_BARS = 300


# Records come from the service as JSON-ready dicts built from typed store records; the
# response models document them and are not validated again on the way out.
def _json(data: object) -> Response:
    return Response(content=json.dumps(data, separators=(",", ":")), media_type="application/json")


def _page(page: Page[dict[str, Any]], order: str = "asc") -> Response:
    return _json(
        {
            "items": page.items,
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
            "order": order,
        }
    )


@router.get("", response_model=list[BotStatus], responses=READ_RESPONSES)
async def list_bots(service: Service) -> Response:
    """Every bot's status."""
    # Already serialised by the service (the real one caches each bot's JSON): FastAPI does
    # not validate and encode the list a second time.
    body = await service.list_bots_json()
    return Response(content=body, media_type="application/json")


async def _list_bots_direct(request: Request) -> Response:
    """``list_bots`` without FastAPI's dependency solving, which costs more than the (cached)
    listing itself: the same access check (``require_access``: the role the access middleware
    left, or the check itself), the same service call, the same response."""
    # The matched route, as FastAPI's router records it: the metrics count by its template.
    request.scope["route"] = _DIRECT_LISTING
    ctx = context_of(request)
    await require_access(request, ctx, None, None)
    body = await ctx.service.list_bots_json()
    return Response(content=body, media_type="application/json")


_DIRECT_LISTING = Route("/api/bots", _list_bots_direct, methods=["GET"], include_in_schema=False)
_DIRECT_LISTING.methods = {"GET"}  # Starlette adds HEAD to GET routes; the API route answers 405


def install_direct_listing(app: FastAPI) -> None:
    """Serve ``GET /api/bots`` by ``_list_bots_direct``, matched before the documented route
    (which keeps its place in the OpenAPI document and answers any other method as before)."""
    app.router.routes.insert(0, _DIRECT_LISTING)


@router.post("", status_code=201, response_model=BotStatus, responses=WRITE_RESPONSES)
async def create_bot(service: Service, config: Annotated[BotConfig, Body()]) -> BotStatus:
    """Create a bot (stopped). 409 when the id exists or the bot limit is reached."""
    return await service.create_bot(config)


@router.get("/{bot_id}", response_model=BotDetail, responses=READ_RESPONSES)
async def get_bot(service: Service, bot_id: BotId) -> BotDetail:
    config, status = await service.get_bot(bot_id)
    return BotDetail(config=config, status=status)


@router.delete("/{bot_id}", status_code=204, response_class=Response, responses=WRITE_RESPONSES)
async def delete_bot(service: Service, bot_id: BotId) -> Response:
    await service.delete_bot(bot_id)
    return Response(status_code=204)


@router.put("/{bot_id}/start", response_model=BotStatus, responses=WRITE_RESPONSES)
async def start_bot(service: Service, bot_id: BotId) -> BotStatus:
    """Stopped or error → running."""
    return await service.start_bot(bot_id)


@router.put("/{bot_id}/stop", response_model=BotStatus, responses=WRITE_RESPONSES)
async def stop_bot(service: Service, bot_id: BotId) -> BotStatus:
    """Running or paused → stopped."""
    return await service.stop_bot(bot_id)


@router.put("/{bot_id}/pause", response_model=BotStatus, responses=WRITE_RESPONSES)
async def pause_bot(service: Service, bot_id: BotId) -> BotStatus:
    """Running → paused: keeps receiving market data, sends no new orders."""
    return await service.pause_bot(bot_id)


@router.put("/{bot_id}/resume", response_model=BotStatus, responses=WRITE_RESPONSES)
async def resume_bot(service: Service, bot_id: BotId) -> BotStatus:
    """Paused → running."""
    return await service.resume_bot(bot_id)


@router.patch("/{bot_id}/config", response_model=BotConfig, responses=WRITE_RESPONSES)
async def update_config(
    service: Service, bot_id: BotId, patch: Annotated[BotConfigPatch, Body()]
) -> BotConfig:
    """Change some config fields; answers the whole new config."""
    return await service.update_config(bot_id, patch.changes())


@router.get("/{bot_id}/orders", response_model=OrderPage, responses=READ_RESPONSES)
async def orders(
    service: Service,
    bot_id: BotId,
    offset: PageOffset = 0,
    limit: PageLimit = DEFAULT_PAGE_LIMIT,
    order: SortOrder = "asc",
) -> Response:
    """The bot's orders in creation order; ``order=desc``: newest first (the offset counts
    from the newest)."""
    return _page(await service.orders(bot_id, offset, limit, order == "desc"), order)


@router.get("/{bot_id}/fills", response_model=FillPage, responses=READ_RESPONSES)
async def fills(
    service: Service,
    bot_id: BotId,
    offset: PageOffset = 0,
    limit: PageLimit = DEFAULT_PAGE_LIMIT,
    order: SortOrder = "asc",
) -> Response:
    """The bot's fills in time order; ``order=desc``: newest first."""
    return _page(await service.fills(bot_id, offset, limit, order == "desc"), order)


@router.get("/{bot_id}/equity", response_model=EquityPage, responses=READ_RESPONSES)
async def equity(
    service: Service,
    bot_id: BotId,
    offset: PageOffset = 0,
    limit: PageLimit = DEFAULT_PAGE_LIMIT,
    order: SortOrder = "asc",
) -> Response:
    """Equity snapshots (one a minute while running, and after every fill), oldest first;
    ``order=desc``: newest first."""
    return _page(await service.equity(bot_id, offset, limit, order == "desc"), order)


@router.get("/{bot_id}/positions", response_model=list[PositionOut], responses=READ_RESPONSES)
async def positions(service: Service, bot_id: BotId) -> Response:
    return _json(await service.positions(bot_id))


@router.get("/{bot_id}/logs", response_model=LogPage, responses=READ_RESPONSES)
async def logs(
    service: Service, bot_id: BotId, offset: PageOffset = 0, limit: PageLimit = DEFAULT_PAGE_LIMIT
) -> Response:
    """The bot's event log (state changes, strategy messages, rejections, errors), newest
    first. The same lines stream live on the WebSocket topic ``logs``."""
    return _page(await service.logs(bot_id, offset, limit), "desc")


@router.get("/{bot_id}/bars", response_model=list[BarOut], responses=READ_RESPONSES)
async def bars(
    service: Service,
    bot_id: BotId,
    limit: Annotated[
        int, Query(ge=1, le=MAX_BARS, description="how many of the latest bars"), QUERY_INTEGER
    ] = DEFAULT_BARS,
) -> Response:
    """The latest bars the bot's strategy saw (warm-up included), oldest first. Kept in
    memory, the last 500: empty after a restart until the bot runs again. New bars stream on
    the WebSocket topic ``bars``."""
    return _json(await service.bars(bot_id, limit))
