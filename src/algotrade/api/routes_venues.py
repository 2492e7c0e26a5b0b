"""Live venue routes: connection and reconciliation state for everyone with a key; an
on-demand reconciliation for admins (POST is admin-only like every write)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from algotrade.api.auth import require_access
from algotrade.api.deps import get_service
from algotrade.api.schemas import READ_RESPONSES, WRITE_RESPONSES, ErrorResponse
from algotrade.daemon.service_api import BotServiceApi, VenueNotFound
from algotrade.venues.registry import venue_names

router = APIRouter(prefix="/api/venues", tags=["venues"], dependencies=[Depends(require_access)])
Service = Annotated[BotServiceApi, Depends(get_service)]


@router.get("", responses=READ_RESPONSES)
async def list_venues(service: Service) -> list[dict[str, Any]]:
    """Each connected live venue: connection, last reconciliation (mismatches, unknown orders),
    blocked symbols and recent alerts. Empty when no bot uses a live venue."""
    return await service.venue_status()


@router.post(
    "/{venue}/reconcile",
    responses={
        **WRITE_RESPONSES,
        404: {"model": ErrorResponse, "description": "no venue of that name is registered"},
        409: {"model": ErrorResponse, "description": "the venue is not connected"},
    },
)
async def reconcile(venue: str, service: Service) -> dict[str, Any]:
    """Reconcile a registered live venue now (positions, open orders, missed fills); returns
    the venue's state after."""
    known = venue_names()
    if venue not in known:
        raise VenueNotFound(f"unknown venue '{venue}' (known: {', '.join(known) or 'none'})")
    return await service.reconcile_venue(venue)
