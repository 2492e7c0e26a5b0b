"""Closed bars from Hyperliquid candles: the builder's rule and the shared hub.

The hub runs on a real ``HlWebSocket`` against a local WebSocket server; ``candleSnapshot`` is
a fake ``CandleSource`` and time is an injected clock, so no test waits for a real minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.core.events import Bar
from algotrade.venues.hyperliquid.config import HyperliquidConfig
from algotrade.venues.hyperliquid.data import (
    INTERVAL_MS,
    INTERVALS,
    CandleBarBuilder,
    HyperliquidBotFeed,
    HyperliquidCandleHub,
)
from algotrade.venues.hyperliquid.schemas import Candle
from algotrade.venues.hyperliquid.ws import HlWebSocket
from testkit.ws_peer import ScriptedHlWs

MINUTE = 60_000
T0 = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE  # a minute boundary
GRACE_MS = 2_000


def wire(k: int, close: float = 100.0, n: int = 1, coin: str = "BTC") -> dict[str, Any]:
    t = T0 + k * MINUTE
    return {
        "t": t,
        "T": t + MINUTE - 1,
        "s": coin,
        "i": "1m",
        "o": "100",
        "c": str(close),
        "h": str(max(close, 100.0)),
        "l": str(min(close, 100.0)),
        "v": str(n * 0.5),
        "n": n,
    }


def frame(k: int, close: float = 100.0, n: int = 1, coin: str = "BTC") -> dict[str, Any]:
    """A ``candle`` channel frame."""
    return {"channel": "candle", "data": wire(k, close, n, coin)}


def candle(k: int, close: float = 100.0, n: int = 1, coin: str = "BTC") -> Candle:
    return Candle.model_validate(wire(k, close, n, coin))


def bar(k: int, close: float = 100.0, n: int = 1, symbol: str = "BTC") -> Bar:
    return candle(k, close, n).to_bar(symbol)


def closes(bars: list[Bar]) -> list[tuple[int, float]]:
    return [((b.ts // 1_000_000 - T0) // MINUTE, b.close) for b in bars]


# --------------------------------------------------------------------------- builder


def test_intervals() -> None:
    assert INTERVAL_MS["1m"] == MINUTE
    assert INTERVAL_MS["1w"] == 7 * 24 * 60 * MINUTE
    assert "1M" in INTERVALS
    assert "1M" not in INTERVAL_MS


def test_builder_emits_a_candle_only_when_a_later_one_starts() -> None:
    builder = CandleBarBuilder("BTC-PERP", "1m")
    assert builder.update(candle(0, 101, n=1)) == []
    assert builder.update(candle(0, 102, n=2)) == []
    assert builder.update(candle(1, 103, n=1)) == [bar(0, 102, n=2, symbol="BTC-PERP")]
    assert builder.update(candle(0, 99, n=3)) == []  # late update of an emitted candle: ignored
    assert builder.forming == candle(1, 103, n=1)
    assert builder.last_emitted_ms == T0


def test_builder_closes_a_quiet_candle_after_grace_with_the_confirmed_candle() -> None:
    builder = CandleBarBuilder("BTC", "1m", grace_ms=GRACE_MS)
    builder.update(candle(0, 101, n=1))
    close_ms = T0 + MINUTE - 1
    assert builder.close_due(close_ms + GRACE_MS - 1) is None
    assert builder.close_due(close_ms + GRACE_MS) == T0
    assert builder.confirm([], close_ms + GRACE_MS) == []  # not confirmed: still forming
    assert builder.confirm([candle(0, 105, n=4)], close_ms + GRACE_MS) == [bar(0, 105, n=4)]
    assert builder.forming is None
    assert builder.close_due(close_ms + 10 * GRACE_MS) is None
    assert builder.update(candle(0, 106, n=5)) == []  # never twice


def test_builder_merges_snapshot_and_live_states_by_trade_count() -> None:
    builder = CandleBarBuilder("BTC", "1m")
    builder.update(candle(3, 110, n=9))
    # An older snapshot of the same candle does not overwrite the newer live state; the
    # snapshot's earlier candles are closed because a later one exists.
    bars = builder.confirm([candle(1, 101, 5), candle(2, 102, 5), candle(3, 100, 2)], T0)
    assert closes(bars) == [(1, 101.0), (2, 102.0)]
    assert builder.forming == candle(3, 110, n=9)


def test_unsynced_builder_records_but_emits_nothing_until_confirmed() -> None:
    builder = CandleBarBuilder("BTC", "1m")
    builder.update(candle(0, 100, n=1))
    builder.desync()
    assert builder.update(candle(2, 120, n=1)) == []
    assert builder.update(candle(3, 130, n=1)) == []
    bars = builder.confirm([candle(0, 101, 7), candle(1, 111, 3), candle(2, 121, 2)], T0)
    assert closes(bars) == [(0, 101.0), (1, 111.0), (2, 121.0)]
    assert builder.forming == candle(3, 130, n=1)
    assert builder.synced


@st.composite
def candle_histories(draw: st.DrawFn) -> tuple[list[Candle], list[Candle]]:
    """Updates of candles 0..N in time order (trade counts growing within a candle), with
    late updates of already-superseded candles mixed in; and each candle's last state."""
    count = draw(st.integers(min_value=1, max_value=8))
    ks = sorted(draw(st.sets(st.integers(min_value=0, max_value=30), min_size=count)))
    updates: list[Candle] = []
    finals: list[Candle] = []
    for index, k in enumerate(ks):
        n = 0
        for close in draw(st.lists(st.integers(50, 150), min_size=1, max_size=5)):
            n += draw(st.integers(min_value=0, max_value=3))
            updates.append(candle(k, float(close), n))
            if index > 0 and draw(st.booleans()):
                late = draw(st.sampled_from(ks[:index]))
                updates.append(candle(late, 1.0, 0))  # stale: must never surface
        finals.append(next(u for u in reversed(updates) if u.open_ms == T0 + k * MINUTE))
    return updates, finals


@given(candle_histories())
@settings(max_examples=200, deadline=None)
def test_builder_emits_each_closed_candle_once_in_order(
    history: tuple[list[Candle], list[Candle]],
) -> None:
    updates, finals = history
    builder = CandleBarBuilder("BTC", "1m")
    emitted: list[Bar] = []
    for update in updates:
        emitted.extend(builder.update(update))
    stamps = [b.ts for b in emitted]
    assert stamps == sorted(set(stamps))  # strictly increasing: none twice, none out of order
    assert emitted == [final.to_bar("BTC") for final in finals[:-1]]  # last state of each
    assert builder.forming == finals[-1]  # the forming candle is never emitted


# --------------------------------------------------------------------------- hub fixtures


@dataclass
class FakeSource:
    """``candleSnapshot`` over a table the test edits; records each request."""

    candles: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, int, int]] = field(default_factory=list)
    reply_cap: int | None = None  # the oldest this many per reply, as the docs page ranges

    def put(self, *rows: dict[str, Any]) -> None:
        for row in rows:
            self.candles[(row["s"], row["t"])] = row

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> list[Candle]:
        self.calls.append((coin, interval, start_ms, end_ms))
        rows = sorted(
            (row for (c, t), row in self.candles.items() if c == coin and start_ms <= t <= end_ms),
            key=lambda row: row["t"],
        )
        kept = rows[: self.reply_cap] if self.reply_cap is not None else rows[-5000:]
        return [Candle.model_validate(row) for row in kept]


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@dataclass
class Rig:
    server: ScriptedHlWs
    ws: HlWebSocket
    source: FakeSource
    clock: Clock
    hub: HyperliquidCandleHub


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    server = ScriptedHlWs()
    await server.start()
    config = HyperliquidConfig(
        ws_url=server.url, reconnect_min_s=0.01, reconnect_max_s=0.02, request_timeout_s=2.0
    )
    ws = HlWebSocket(server.url, config)
    source = FakeSource()
    # History: candles 0..9 closed, candle 10 forming; now is 30 s into candle 10.
    source.put(*(wire(k, 100.0 + k, n=5) for k in range(11)))
    clock = Clock(T0 + 10 * MINUTE + 30_000)
    hub = HyperliquidCandleHub(ws, source, grace_s=GRACE_MS / 1000, clock=clock, tick_s=0.01)
    await ws.start(timeout=3.0)
    yield Rig(server, ws, source, clock, hub)
    await hub.stop()
    await ws.stop()
    await server.close()


# --------------------------------------------------------------------------- hub


async def test_a_warmup_longer_than_one_reply_is_paged(rig: Rig) -> None:
    """Defect: warm-up and gap fill made one candleSnapshot request, but the docs cap a
    time-range reply at 500: a warm-up of 1,200 bars got the oldest 500 and no newer ones."""
    rig.source.reply_cap = 500
    rig.source.put(*(wire(k, 100.0 + k) for k in range(-1300, 11)))
    warm = await rig.hub.subscribe("bot", "BTC", "1m", lambda _: None, 1200)
    assert closes(warm) == [(k, 100.0 + k) for k in range(-1190, 10)]
    assert len(rig.source.calls) == 3  # 500 + 500 + the rest (a short reply ends it)


async def test_warmup_is_closed_bars_only_and_bars_fan_out_to_every_bot(rig: Rig) -> None:
    a: list[Bar] = []
    b: list[Bar] = []
    warm_a = await rig.hub.subscribe("bot-a", "BTC", "1m", a.append, 5)
    warm_b = await rig.hub.subscribe("bot-b", "BTC", "1m", b.append, 3, symbol="BTC-PERP")
    assert closes(warm_a) == [(k, 100.0 + k) for k in range(5, 10)]  # forming 10 excluded
    assert closes(warm_b) == [(k, 100.0 + k) for k in range(7, 10)]
    assert {x.symbol for x in warm_a} == {"BTC"}
    assert {x.symbol for x in warm_b} == {"BTC-PERP"}
    assert len(rig.source.calls) == 1  # the second bot is warmed up from the shared history
    await eventually(
        lambda: (
            rig.server.sent("subscribe") == [{"type": "candle", "coin": "BTC", "interval": "1m"}]
        )
    )
    assert rig.hub.handler_count("BTC", "1m") == 2

    await rig.server.push(frame(10, 111.0, n=6))
    await rig.server.push(frame(10, 112.0, n=8))
    await rig.server.push(frame(11, 113.0, n=1))
    await eventually(lambda: len(a) == 1 and len(b) == 1)
    assert closes(a) == closes(b) == [(10, 112.0)]
    assert a[0].symbol == "BTC"
    assert b[0].symbol == "BTC-PERP"


async def test_a_raising_bot_does_not_stop_the_others(rig: Rig) -> None:
    got: list[Bar] = []

    def broken(_: Bar) -> None:
        raise RuntimeError("bot bug")

    await rig.hub.subscribe("broken", "BTC", "1m", broken, 0)
    await rig.hub.subscribe("fine", "BTC", "1m", got.append, 0)
    await rig.server.push(frame(11, 113.0, n=1))
    await eventually(lambda: len(got) == 1)
    assert closes(got) == [(10, 110.0)]
    await rig.server.push(frame(12, 114.0, n=1))
    await eventually(lambda: len(got) == 2)


async def test_gap_after_a_reconnect_is_filled_once_and_in_order(rig: Rig) -> None:
    got: list[Bar] = []
    await rig.hub.subscribe("bot", "BTC", "1m", got.append, 2)
    await rig.server.push(frame(10, 111.0, n=6))
    await rig.server.push(frame(11, 120.0, n=1))
    await eventually(lambda: closes(got) == [(10, 111.0)])

    # While we are away candle 11 finishes, 12 and 13 happen, 14 is forming.
    rig.source.put(wire(11, 121.0, 9), wire(12, 122.0, 9), wire(13, 123.0, 9), wire(14, 124.0, 2))
    rig.clock.ms = T0 + 14 * MINUTE + 10_000
    # After re-subscribing, the venue pushes the forming candle at once.
    rig.server.on_subscribe = lambda: [frame(14, 124.5, n=3)]
    rig.server.abort()
    await eventually(lambda: rig.ws.stats.reconnects == 1)
    await eventually(lambda: len(got) == 4)
    await eventually(lambda: len(rig.server.sent("subscribe")) == 2)  # once per connection
    assert closes(got) == [(10, 111.0), (11, 121.0), (12, 122.0), (13, 123.0)]
    assert rig.source.calls[-1][2] == T0 + 10 * MINUTE + 1  # from the last emitted bar + 1 ms

    await rig.server.push(frame(12, 999.0, n=99))  # a stale replay: ignored
    await rig.server.push(frame(15, 125.0, n=1))
    await eventually(lambda: len(got) == 5)
    assert closes(got)[-1] == (14, 124.5)  # the live state (n=3) beat the snapshot's (n=2)
    stamps = [x.ts for x in got]
    assert stamps == sorted(set(stamps))


async def test_grace_timer_closes_a_quiet_candle(rig: Rig) -> None:
    got: list[Bar] = []
    await rig.hub.subscribe("bot", "BTC", "1m", got.append, 0)
    await rig.server.push(frame(10, 111.0, n=7))
    close_ms = T0 + 11 * MINUTE - 1
    rig.clock.ms = close_ms + GRACE_MS - 1  # not due yet
    await asyncio.sleep(0.1)
    assert got == []
    calls = len(rig.source.calls)
    rig.source.put(wire(10, 112.0, n=8))  # the venue's final state of candle 10
    rig.clock.ms = close_ms + GRACE_MS
    await eventually(lambda: len(got) == 1)
    assert closes(got) == [(10, 112.0)]
    assert len(rig.source.calls) == calls + 1
    await asyncio.sleep(0.1)
    assert len(got) == 1  # nothing forming: no more requests, no second bar
    assert len(rig.source.calls) == calls + 1
    await rig.server.push(frame(10, 113.0, n=9))  # a late push of the closed candle
    await rig.server.push(frame(11, 114.0, n=1))
    await asyncio.sleep(0.05)
    assert len(got) == 1


async def test_unsubscribing_the_last_bot_unsubscribes_the_channel(rig: Rig) -> None:
    channel = {"type": "candle", "coin": "BTC", "interval": "1m"}
    feed_a = HyperliquidBotFeed(rig.hub, "BTC-PERP", "BTC", "1m", "bot-a", lambda _: None)
    feed_b = HyperliquidBotFeed(rig.hub, "BTC-PERP", "BTC", "1m", "bot-b", lambda _: None)
    warm = await feed_a.start(2)
    assert {x.symbol for x in warm} == {"BTC-PERP"}
    await feed_b.start(0)
    with pytest.raises(ValueError, match="already subscribed"):
        await rig.hub.subscribe("bot-a", "BTC", "1m", lambda _: None, 0)
    feed_a.stop()
    await asyncio.sleep(0.05)
    assert rig.server.sent("unsubscribe") == []
    feed_b.stop()
    await eventually(lambda: rig.server.sent("unsubscribe") == [channel])
    assert rig.hub.handler_count("BTC", "1m") == 0
    assert rig.ws.subscriptions() == []
    # Subscribing again starts a fresh stream and subscribes the channel again.
    got: list[Bar] = []
    warm = await rig.hub.subscribe("bot-c", "BTC", "1m", got.append, 1)
    assert closes(warm) == [(9, 109.0)]
    await eventually(lambda: rig.server.sent("subscribe") == [channel, channel])


async def test_subscribe_rejects_unknown_intervals_and_failed_warmups_leave_nothing(
    rig: Rig,
) -> None:
    with pytest.raises(ValueError, match="interval"):
        await rig.hub.subscribe("bot", "BTC", "7m", lambda _: None, 0)

    async def failing(coin: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        raise ConnectionError("info endpoint down")

    rig.source.candle_snapshot = failing  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await rig.hub.subscribe("bot", "ETH", "1m", lambda _: None, 10)
    assert rig.hub.handler_count("ETH", "1m") == 0
    await eventually(lambda: rig.ws.subscriptions() == [])
