"""A ``BotService`` over a fresh SQLite store in a test's folder, started and closed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from algotrade.daemon.service import BotService
from algotrade.store.store import Store


async def open_service(path: Path, **kwargs: Any) -> BotService:
    store = Store(f"sqlite:///{path / 'bots.db'}")
    await asyncio.to_thread(store.open)
    service = BotService(store, **kwargs)
    await service.start()
    return service


async def close_service(service: BotService) -> None:
    await service.shutdown(timeout=10)
    service._store.close()
