"""``/api/summary`` (totals across bots) and ``/api/strategies`` (what a bot can run)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from algotrade.api.auth import require_access
from algotrade.api.deps import get_service
from algotrade.api.schemas import ERROR_RESPONSES
from algotrade.api.schemas_records import StrategyInfo, Summary
from algotrade.daemon.service_api import BotServiceApi
from algotrade.strategies.catalog import builtin_summaries, describe

router = APIRouter(prefix="/api", tags=["overview"], dependencies=[Depends(require_access)])
Service = Annotated[BotServiceApi, Depends(get_service)]


@router.get("/summary", response_model=Summary, responses=ERROR_RESPONSES)
async def summary(service: Service) -> Response:
    """Totals across every bot (committed books), counts by state, warnings and errors logged
    since start, alerts (venues, risk, bots) and active lockouts. Streams on the WebSocket
    topic ``summary`` (at most once a second, when it changed)."""
    body = json.dumps(await service.summary(), separators=(",", ":"))
    return Response(content=body, media_type="application/json")


@router.get("/strategies", response_model=list[StrategyInfo], responses=ERROR_RESPONSES)
async def strategies() -> list[StrategyInfo]:
    """The built-in strategies, each with the JSON Schema of its parameters (what a bot's
    ``params`` must satisfy): forms in the dashboard and the TUI are generated from it."""
    return [_info(name) for name, _ in builtin_summaries()]


def _info(name: str) -> StrategyInfo:
    info = describe(name)
    schema: dict[str, Any] = info.schema or {"type": "object"}
    return StrategyInfo.model_validate(
        {
            "name": info.name,
            "description": info.summary,
            "params_schema": schema,
            "parameters": [p.to_json() for p in info.parameters],
        }
    )
