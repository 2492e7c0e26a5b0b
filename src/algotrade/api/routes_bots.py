"""``/api/bots``: create, inspect, control and delete bots; their orders, fills and equity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from algotrade.api.auth import require_access
from algotrade.api.deps import get_service
from algotrade.api.schemas import (
    DEFAULT_PAGE_LIMIT,
    MAX_OFFSET,
    MAX_PAGE_LIMIT,
    READ_RESPONSES,
    WRITE_RESPONSES,
    BotConfigPatch,
    BotDetail,
    RecordPage,
)
from algotrade.daemon.bot_config import BOT_ID_PATTERN, BotConfig
from algotrade.daemon.service_api import BotServiceApi, Page
from algotrade.daemon.status import BotStatus

router = APIRouter(prefix="/api/bots", tags=["bots"], dependencies=[Depends(require_access)])

Service = Annotated[BotServiceApi, Depends(get_service)]
BotId = Annotated[str, Path(pattern=BOT_ID_PATTERN, description="the bot's id")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="records to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="page size")]


def _page(page: Page[dict[str, object]]) -> RecordPage:
    return RecordPage(items=page.items, total=page.total, offset=page.offset, limit=page.limit)


@router.get("", response_model=list[BotStatus], responses=READ_RESPONSES)
async def list_bots(service: Service) -> Response:
    """Every bot's status."""
    # Already serialised by the service (the real one caches each bot's JSON): FastAPI does
    # not validate and encode the list a second time.
    body = await service.list_bots_json()
    return Response(content=body, media_type="application/json")


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


@router.get("/{bot_id}/orders", response_model=RecordPage, responses=READ_RESPONSES)
async def orders(
    service: Service, bot_id: BotId, offset: Offset = 0, limit: Limit = DEFAULT_PAGE_LIMIT
) -> RecordPage:
    return _page(await service.orders(bot_id, offset, limit))


@router.get("/{bot_id}/fills", response_model=RecordPage, responses=READ_RESPONSES)
async def fills(
    service: Service, bot_id: BotId, offset: Offset = 0, limit: Limit = DEFAULT_PAGE_LIMIT
) -> RecordPage:
    return _page(await service.fills(bot_id, offset, limit))


@router.get("/{bot_id}/equity", response_model=RecordPage, responses=READ_RESPONSES)
async def equity(
    service: Service, bot_id: BotId, offset: Offset = 0, limit: Limit = DEFAULT_PAGE_LIMIT
) -> RecordPage:
    """Equity curve points, oldest first."""
    return _page(await service.equity(bot_id, offset, limit))


@router.get("/{bot_id}/positions", response_model=list[dict[str, object]], responses=READ_RESPONSES)
async def positions(service: Service, bot_id: BotId) -> list[dict[str, object]]:
    return await service.positions(bot_id)
