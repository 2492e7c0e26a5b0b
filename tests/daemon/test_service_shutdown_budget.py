"""``BotService.shutdown``: one budget for the whole stop; the flush of the books gets what the
steps before it left (a fixed half of it was too little for a busy flush)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from testkit.service_harness import open_service


async def test_a_long_flush_gets_the_rest_of_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await open_service(tmp_path)
    flushed = asyncio.Event()

    async def slow_flush() -> None:
        await asyncio.sleep(2.5)  # more than half of the 4 s budget
        flushed.set()

    monkeypatch.setattr(service.writer, "flush", slow_flush)
    try:
        await service.shutdown(timeout=4.0)
    finally:
        service._store.close()
    assert flushed.is_set()


async def test_a_flush_beyond_the_budget_ends_the_stop_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await open_service(tmp_path)

    async def endless_flush() -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(service.writer, "flush", endless_flush)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            await service.shutdown(timeout=2.0)
    finally:
        service._store.close()
    assert time.monotonic() - started < 2.5
