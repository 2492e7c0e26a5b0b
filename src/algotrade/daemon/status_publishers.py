"""The periodic status messages of the bus: bots' heartbeats and the summary across bots.

Both build messages only while someone listens: with a thousand running bots a heartbeat
round builds a thousand statuses, which nobody should pay for when no client is connected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from algotrade.daemon.bus import EventBus, Topic

if TYPE_CHECKING:
    from algotrade.daemon.bot_handle import HostedBot


async def publish_heartbeats(bus: EventBus, bots: Mapping[str, HostedBot], interval: float) -> None:
    """Status of every bot that handled market data since the last beat, every ``interval``."""
    seen: dict[str, int | None] = {}
    while True:
        await asyncio.sleep(interval)
        if not bus.wants_topic(Topic.STATUS):
            continue  # the next listener gets every bot that has beaten since it last heard
        for bot_id, actor in list(bots.items()):
            if actor.heartbeat_ns != seen.get(bot_id):
                seen[bot_id] = actor.heartbeat_ns
                bus.publish(Topic.STATUS, bot_id, actor.status().model_dump())


async def publish_summaries(
    bus: EventBus, summary: Callable[[], Awaitable[dict[str, Any]]]
) -> None:
    """The summary to its WebSocket topic, at most once a second, when it changed."""
    last: dict[str, Any] | None = None
    while True:
        await asyncio.sleep(1.0)
        if not bus.wants_topic(Topic.SUMMARY):
            last = None  # a new listener gets its snapshot, then every change
            continue
        current = await summary()
        comparable = {k: v for k, v in current.items() if k != "updated_at"}
        if comparable != last:
            last = comparable
            bus.publish(Topic.SUMMARY, None, current)
