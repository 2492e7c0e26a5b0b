"""Stopping a live venue's WebSocket: the connection closed cleanly, then its task joined."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, Protocol

__all__ = ["close_and_join"]


class Closable(Protocol):
    def close(self) -> Awaitable[Any]: ...


async def close_and_join(
    conn: Closable | None, task: asyncio.Task[Any] | None, timeout: float
) -> None:
    """Close ``conn`` (errors ignored), then wait up to ``timeout`` s for ``task`` to end;
    cancel it if it is still running."""
    if conn is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), timeout)
    if task is None:
        return
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
