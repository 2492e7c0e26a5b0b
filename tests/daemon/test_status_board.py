"""Statuses built on read, not per bar; the cached bot listing and state counts follow every
change; the collector pause of a restore."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.timeutil import ns_to_iso
from algotrade.daemon import actor as actor_module
from algotrade.daemon.bus import Topic
from algotrade.daemon.heap import collector_paused
from algotrade.daemon.service import BotService
from algotrade.daemon.status import BotState
from testkit.parked_bot import parked_bot
from testkit.service_harness import close_service, open_service


async def listing(service: BotService) -> dict[str, dict[str, Any]]:
    return {s["bot_id"]: s for s in json.loads(await service.list_bots_json())}


async def test_status_is_right_after_bars_without_being_built_per_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    real_build = actor_module.build_status

    def counting_build(actor: Any) -> Any:
        builds.append(actor.config.bot_id)
        return real_build(actor)

    monkeypatch.setattr(actor_module, "build_status", counting_build)
    service = await open_service(tmp_path, heartbeat_interval=0.01)
    try:
        for name in ("a", "b"):
            # Slow averages that are not ready within the test's bars: no order, no fill.
            await service.create_bot(parked_bot(name, params={"fast": 50, "slow": 100}))
            await service.start_bot(name)
        stream = service.hub.stream_of("a")
        assert stream is not None
        assert set(stream.subscribers) == {"a", "b"}
        await service.writer.flush()
        builds.clear()
        before = time.time_ns()
        for _ in range(30):
            bar = stream.next_bar(time.time_ns())
            stream.dispatch(bar)
            await asyncio.sleep(0.02)  # heartbeat rounds run meanwhile: nobody listens
        after = time.time_ns()
        await service.writer.flush()
        assert builds == []  # neither the bars nor the heartbeat rounds built a status
        listed = await listing(service)
        for name in ("a", "b"):
            status = listed[name]
            assert status["last_price"] == bar.close
            assert ns_to_iso(before) <= status["heartbeat"] <= ns_to_iso(after)
            actor = service._bots[name]
            assert status["heartbeat"] == ns_to_iso(actor.heartbeat_ns)
            assert (await service.bars(name, 1))[0]["ts"] == bar.ts
        assert sorted(builds) == ["a", "b"]  # built once each, when read
        await listing(service)
        assert sorted(builds) == ["a", "b"]
        # The typed status agrees with the cached JSON.
        _, typed = await service.get_bot("a")
        assert typed.model_dump(mode="json") == listed["a"]
    finally:
        await close_service(service)


async def test_heartbeats_are_published_to_a_status_listener(tmp_path: Path) -> None:
    service = await open_service(tmp_path, heartbeat_interval=0.01)
    try:
        await service.create_bot(parked_bot("a"))
        await service.start_bot("a")
        stream = service.hub.stream_of("a")
        assert stream is not None
        subscription = service.bus.subscribe([Topic.STATUS], "a")
        bar = stream.next_bar(time.time_ns())
        stream.dispatch(bar)
        deadline = time.monotonic() + 5
        while True:
            message = await asyncio.wait_for(subscription.queue.get(), timeout=5)
            if message.data.get("last_price") == bar.close:
                break
            assert time.monotonic() < deadline, "no heartbeat with the bar's price"
        assert message.data["heartbeat"] == ns_to_iso(service._bots["a"].heartbeat_ns)
    finally:
        await close_service(service)


async def test_cached_listing_follows_every_change(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        assert await service.list_bots_json() == b"[]"
        await service.create_bot(parked_bot("a"))
        first = await service.list_bots_json()
        assert await service.list_bots_json() is first  # nothing changed: served from cache
        assert (await listing(service))["a"]["state"] == "stopped"

        await service.create_bot(parked_bot("b"))
        assert list(await listing(service)) == ["a", "b"]
        assert service.health()["by_state"] == {"stopped": 2}

        await service.start_bot("a")
        assert (await listing(service))["a"]["state"] == "running"
        assert service.health()["by_state"] == {"running": 1, "stopped": 1}

        stream = service.hub.stream_of("a")
        assert stream is not None
        bar = stream.next_bar(time.time_ns())
        stream.dispatch(bar)
        assert (await listing(service))["a"]["last_price"] == bar.close

        await service.pause_bot("a")
        assert (await listing(service))["a"]["state"] == "paused"
        await service.stop_bot("a")
        assert service.health()["by_state"] == {"stopped": 2}

        await service.update_config("b", {"symbol": "SIM-OTHER"})
        assert (await listing(service))["b"]["symbol"] == "SIM-OTHER"

        await service.writer.flush()
        settled = await service.list_bots_json()
        assert await service.list_bots_json() is settled
        await service.delete_bot("a")
        assert list(await listing(service)) == ["b"]
        assert service.health()["by_state"] == {"stopped": 1}
        assert service.health()["bots"] == 1
    finally:
        await close_service(service)


async def test_listing_shows_committed_fills_and_errors(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(parked_bot("a"))
        await service.start_bot("a")
        stream = service.hub.stream_of("a")
        assert stream is not None
        actor = service._bots["a"]
        for _ in range(200):  # fast 2 / slow 4 on a volatile walk crosses within 200 bars
            stream.dispatch(stream.next_bar(time.time_ns()))
            await service.writer.flush()
            if actor.fill_count:
                break
        assert actor.fill_count, "the strategy never traded"
        status = (await listing(service))["a"]
        assert status["fill_count"] == actor.fill_count
        assert status["position"]

        def broken(_bar: Any) -> None:
            raise RuntimeError("strategy bug")

        assert actor.engine is not None
        actor.engine.on_bar = broken  # type: ignore[method-assign]
        stream.dispatch(stream.next_bar(time.time_ns()))
        status = (await listing(service))["a"]
        assert status["state"] == BotState.ERROR.value
        assert "strategy bug" in status["last_error"]
        assert service.health()["by_state"] == {"error": 1}
    finally:
        await close_service(service)


def test_collector_paused_restores_the_collector_and_freezes_on_request() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    seen_enabled: list[bool] = []

    def failing_block() -> None:
        with collector_paused():
            seen_enabled.append(gc.isenabled())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_block()
    assert seen_enabled == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    try:
        with collector_paused(freeze=True):
            kept = [[] for _ in range(100)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(kept)
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a collector paused by someone else stays paused
    finally:
        gc.enable()
