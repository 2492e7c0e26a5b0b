"""A bot's unsaved activity: what it did since the activity writer last drained it."""

from __future__ import annotations

import time

from algotrade.core.events import OrderFilled
from algotrade.core.orders import Order
from algotrade.core.portfolio import Portfolio
from algotrade.daemon import persist
from algotrade.store.records import Activity, EventRecord, FillRecord, OrderRecord

EQUITY_SNAPSHOT_SECONDS = 60.0
MAX_UNSAVED_EVENTS = 1000  # a runaway strategy log must not eat memory


class UnsavedActivity:
    """Orders touched, fills booked and log events since the last drain, plus whether the
    account changed and when equity was last snapshotted."""

    __slots__ = ("account_changed", "events", "fills", "last_snapshot", "orders")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.fills: list[OrderFilled] = []
        self.events: list[EventRecord] = []
        self.account_changed = False
        self.last_snapshot = 0.0

    def add_event(self, record: EventRecord) -> None:
        self.events.append(record)
        if len(self.events) > MAX_UNSAVED_EVENTS:
            del self.events[:-MAX_UNSAVED_EVENTS]

    def is_due(self) -> bool:
        """Whether a drain would write something beyond events (checked on every bar)."""
        return bool(
            self.orders
            or self.fills
            or time.monotonic() - self.last_snapshot >= EQUITY_SNAPSHOT_SECONDS
        )

    def drain(self, bot_id: str, portfolio: Portfolio, *, active: bool) -> Activity:
        """Snapshot what changed as immutable records and start over; an equity record goes
        with every fill, and every ``EQUITY_SNAPSHOT_SECONDS`` while the bot is ``active``."""
        now = time.time_ns()
        orders = [OrderRecord.from_order(bot_id, o) for o in self.orders.values()]
        fills = [FillRecord.from_fill(bot_id, f) for f in self.fills]
        symbols = {o.symbol for o in self.orders.values()}
        positions = [
            persist.position_record(bot_id, p)
            for s, p in portfolio.positions.items()
            if s in symbols
        ]
        account_due = orders or self.account_changed
        account = persist.account_record(bot_id, portfolio, now) if account_due else None
        self.account_changed = False
        snapshot_due = time.monotonic() - self.last_snapshot >= EQUITY_SNAPSHOT_SECONDS
        equity = []
        if fills or (snapshot_due and active):
            equity.append(persist.equity_record(bot_id, portfolio, now))
            self.last_snapshot = time.monotonic()
        activity = Activity(orders, fills, positions, account, equity, self.events)
        self.orders = {}
        self.fills = []
        self.events = []
        return activity
