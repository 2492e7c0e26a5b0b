"""In-process publish/subscribe for the daemon's live events (WebSocket, file channel, logs).

Publishing never blocks: each subscriber has a bounded queue, and a subscriber that falls
behind is dropped (its ``dropped`` flag is set and it receives nothing more). A slow WebSocket
client must never stall a bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ALL_BOTS = "*"


class Topic(StrEnum):
    STATUS = "status"  # BotStatus snapshots, on every state change and periodically
    ORDERS = "orders"  # order records, after they are committed
    FILLS = "fills"  # fill records, after they are committed
    LOGS = "logs"  # the bot's event log lines
    RISK = "risk"  # account risk: breaches, lockouts, enforcements (issue 4)
    VENUES = "venues"  # live venue alerts: reconciliation mismatches, unknown orders, ...
    BARS = "bars"  # each bar a bot's strategy saw (published only while someone listens)
    SUMMARY = "summary"  # totals across bots, at most once a second when they changed
    BACKTESTS = "backtests"  # a backtest job after each change of its state (dashboard jobs)


@dataclass(frozen=True, slots=True)
class BusMessage:
    topic: Topic
    bot_id: str | None
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    topics: frozenset[Topic]
    bot_id: str  # a bot id or ALL_BOTS
    queue: asyncio.Queue[BusMessage] = field(default_factory=lambda: asyncio.Queue(1000))
    dropped: bool = False

    def wants(self, message: BusMessage) -> bool:
        return message.topic in self.topics and (
            self.bot_id == ALL_BOTS or message.bot_id in (self.bot_id, None)
        )


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscriptions: set[Subscription] = set()
        self._queue_size = queue_size
        self.dropped_total = 0
        self.published_total = 0

    def subscribe(self, topics: Iterable[Topic], bot_id: str = ALL_BOTS) -> Subscription:
        subscription = Subscription(frozenset(topics), bot_id, asyncio.Queue(self._queue_size))
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def wants_topic(self, topic: Topic) -> bool:
        """Whether any subscriber takes ``topic``: publishers of costly or frequent messages
        skip building them when nobody listens."""
        return any(topic in subscription.topics for subscription in self._subscriptions)

    def publish(self, topic: Topic, bot_id: str | None, data: dict[str, Any]) -> None:
        message = BusMessage(topic, bot_id, data)
        self.published_total += 1
        for subscription in list(self._subscriptions):
            if not subscription.wants(message):
                continue
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                subscription.dropped = True
                self.dropped_total += 1
                self._subscriptions.discard(subscription)
