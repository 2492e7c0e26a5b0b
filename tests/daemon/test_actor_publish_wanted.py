"""What a bot committed is turned into bus messages only for topics someone subscribed to."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.service import BotService
from algotrade.store.store import Store
from testkit.parked_bot import parked_bot


async def trade_some_bars(service: BotService, bars: int = 40) -> None:
    stream = service.hub.stream_of("t")
    assert stream is not None
    for _ in range(bars):
        stream.dispatch(stream.next_bar(time.time_ns()))
        await asyncio.sleep(0)
    await service.writer.flush()


async def run(tmp_path: Path, topics: tuple[Topic, ...]) -> tuple[list[Topic], int]:
    store = Store(f"sqlite:///{tmp_path / 'bots.db'}")
    await asyncio.to_thread(store.open)
    bus = EventBus()
    published: list[Topic] = []
    real_publish = bus.publish

    def counting_publish(topic: Topic, bot_id: str | None, data: dict[str, Any]) -> None:
        published.append(topic)
        real_publish(topic, bot_id, data)

    bus.publish = counting_publish  # type: ignore[method-assign]
    service = BotService(store, bus=bus, heartbeat_interval=3600)
    await service.start()
    try:
        subscription = bus.subscribe(topics) if topics else None
        # Fast averages on a volatile stream: orders and fills within a few bars.
        await service.create_bot(parked_bot("t", params={"fast": 2, "slow": 3, "qty": 1}))
        await service.start_bot("t")
        await service.writer.flush()
        published.clear()
        await trade_some_bars(service)
        fills = service._bots["t"].fill_count
        if subscription is not None:
            bus.unsubscribe(subscription)
    finally:
        await service.shutdown(timeout=10)
        store.close()
    return published, fills


@pytest.mark.parametrize(
    ("topics", "expected"),
    [
        ((), set()),
        ((Topic.FILLS,), {Topic.FILLS}),
        ((Topic.ORDERS, Topic.STATUS), {Topic.ORDERS, Topic.STATUS}),
    ],
)
async def test_committed_activity_is_published_only_to_wanted_topics(
    tmp_path: Path, topics: tuple[Topic, ...], expected: set[Topic]
) -> None:
    published, fills = await run(tmp_path, topics)
    assert fills > 0, "the bot must trade for the test to mean anything"
    trading_topics = {Topic.ORDERS, Topic.FILLS, Topic.STATUS, Topic.LOGS}
    assert {topic for topic in published if topic in trading_topics} == expected
