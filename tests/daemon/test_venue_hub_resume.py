"""What the venue hub tells a live venue's account about its bots after a restart, from the
store: the orders it holds open and which venue trade ids it booked (any age)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import EventBus
from algotrade.daemon.venues import VenueHub
from algotrade.store import FillRecord, OrderRecord, Store
from algotrade.venues.live.resume import StoredOrder

T0 = 1_700_000_000_000_000_000


def _order(bot_id: str, seq: int, status: str, created_ts: int) -> OrderRecord:
    return OrderRecord(
        bot_id, f"{bot_id}-{seq}", f"v{seq}", "BTC", "buy", "limit", Decimal(1),
        Decimal(60_000), None, "gtc", False, status, Decimal(0), Decimal(0), Decimal(0), "", "",
        created_ts, created_ts,
    )  # fmt: skip


def _fill(bot_id: str, trade_id: str, seq: int) -> FillRecord:
    return FillRecord(
        bot_id, trade_id, f"{bot_id}-{seq}", f"v{seq}", "BTC", "buy", Decimal(1),
        Decimal(60_000), Decimal(0), "maker", T0,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'algotrade.db'}") as opened:
        yield opened


def _config(bot_id: str, **live: str) -> BotConfig:
    return BotConfig(bot_id=bot_id, symbol="BTC", strategy="ma_crossover", **live)


async def test_the_hub_answers_for_the_bots_on_the_venue_only(store: Store) -> None:
    on_hl = {"venue": "hyperliquid", "mode": "live"}
    configs = [_config("hl-a", **on_hl), _config("hl-b", **on_hl), _config("paper")]
    for config in configs:
        store.insert_bot(config.model_dump(mode="json"))
    store.record_activity("hl-a", orders=[_order("hl-a", 1, "accepted", T0 + 5)])
    store.record_activity(
        "hl-b",
        orders=[_order("hl-b", 1, "filled", T0), _order("hl-b", 2, "partially_filled", T0)],
        fills=[_fill("hl-b", "111", 1)],
    )
    store.record_activity(
        "paper", orders=[_order("paper", 1, "new", T0)], fills=[_fill("paper", "222", 1)]
    )
    actors: list[Any] = [SimpleNamespace(config=config) for config in configs]
    hub = VenueHub({}, store, EventBus(), lambda: actors)

    assert await hub.stored_open_orders("hyperliquid") == [
        StoredOrder("hl-b-2", "v2", T0),
        StoredOrder("hl-a-1", "v1", T0 + 5),
    ]  # oldest first; the paper bot's are not the venue's
    assert await hub.booked_trade_ids("hyperliquid", ["111", "222", "333"]) == {"111"}
