"""Committed risk history for the API: lockouts, the risk log, the audit trail (paged reads
that run off the event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from algotrade.store.records import Page
from algotrade.store.risk_store import RiskStore

__all__ = ["RiskReads"]


class RiskReads:
    """Committed risk history for the API (reads run off the event loop)."""

    def __init__(self, store: RiskStore) -> None:
        self._store = store

    async def lockouts(
        self, account_id: str | None, *, active_only: bool, offset: int, limit: int
    ) -> dict[str, Any]:
        return _page_dict(
            await asyncio.to_thread(
                self._store.lockouts,
                account_id,
                offset=offset,
                limit=limit,
                active_only=active_only,
            )
        )

    async def log(
        self, account_id: str | None, *, kinds: Sequence[str] | None, offset: int, limit: int
    ) -> dict[str, Any]:
        return _page_dict(
            await asyncio.to_thread(
                self._store.log, account_id, offset=offset, limit=limit, kinds=kinds
            )
        )

    async def audit(self, *, offset: int, limit: int) -> dict[str, Any]:
        return _page_dict(await asyncio.to_thread(self._store.audit, offset=offset, limit=limit))


def _page_dict(page: Page[Any]) -> dict[str, Any]:
    return {
        "items": [record.to_api() for record in page.items],
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    }
