"""The task supervisor: failures logged once with the task's name, stuck tasks cancelled with a
timeout, references kept; the back-off of failing loops."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from algotrade.core.events import Bar
from algotrade.daemon.bot_config import BotConfig, FeedKind
from algotrade.daemon.feeds import ReplayBotFeed, feed_factory
from algotrade.daemon.sim_feed import SimFeedHub, SimOptions
from algotrade.daemon.supervisor import Backoff, SupervisorClosed, TaskSupervisor

LOGGER = "algotrade.daemon.supervisor"


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


async def test_a_failing_task_is_logged_once_with_its_name_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = TaskSupervisor()
    seen: list[tuple[str, BaseException]] = []

    async def boom() -> None:
        raise RuntimeError("feed file vanished")

    task = supervisor.spawn(
        boom(),
        name="replay:bot-1",
        on_failure=lambda t, exc: seen.append((t.get_name(), exc)),
        bot_id="bot-1",
    )
    with pytest.raises(RuntimeError):
        await task
    await asyncio.sleep(0)  # done-callbacks run on the next loop iteration

    [record] = failures(caplog)
    assert "replay:bot-1" in record.getMessage()
    assert "RuntimeError: feed file vanished" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is task.exception()
    assert getattr(record, "bot_id", None) == "bot-1"
    assert [(name, str(exc)) for name, exc in seen] == [("replay:bot-1", "feed file vanished")]
    assert supervisor.failures == 1
    assert supervisor.running == []


async def test_cancelled_and_finished_tasks_are_not_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = TaskSupervisor()
    gate = asyncio.Event()
    waiting = supervisor.spawn(gate.wait(), name="waits")
    quick = supervisor.spawn(asyncio.sleep(0, result=7), name="quick")
    assert await quick == 7
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.sleep(0)
    assert failures(caplog) == []
    assert supervisor.failures == 0
    assert supervisor.running == []


async def test_a_broken_failure_handler_does_not_hide_the_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = TaskSupervisor()

    async def boom() -> None:
        raise ValueError("bad bar")

    def broken(_task: asyncio.Task[object], _exc: BaseException) -> None:
        raise KeyError("handler bug")

    task = supervisor.spawn(boom(), name="sim-feed:BTC", on_failure=broken)
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    messages = [r.getMessage() for r in failures(caplog)]
    assert messages[0].startswith("task sim-feed:BTC failed: ValueError: bad bar")
    assert messages[1] == "handling the failure of task sim-feed:BTC failed"


async def test_the_supervisor_keeps_a_reference_to_unreferenced_tasks() -> None:
    supervisor = TaskSupervisor()
    gate = asyncio.Event()
    finished = asyncio.Event()

    async def work() -> None:
        await gate.wait()
        finished.set()

    supervisor.spawn(work(), name="fire-and-forget")  # the caller drops the task
    gc.collect()
    assert supervisor.running == ["fire-and-forget"]
    gate.set()
    await finished.wait()


async def test_shutdown_cancels_everything_and_names_tasks_that_will_not_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = TaskSupervisor()
    cancelled_cleanly = asyncio.Event()
    stubborn_cancels = 0
    release = asyncio.Event()

    async def polite() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled_cleanly.set()
            raise

    async def stubborn() -> None:
        nonlocal stubborn_cancels
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                stubborn_cancels += 1  # swallows every cancellation

    supervisor.spawn(polite(), name="file-channel")
    stuck_task = supervisor.spawn(stubborn(), name="risk-enforce:acct-1")
    await asyncio.sleep(0)  # both are running

    stuck = await supervisor.shutdown(timeout=0.05)

    assert stuck == ["risk-enforce:acct-1"]
    assert cancelled_cleanly.is_set()
    assert stubborn_cancels >= 1
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert warnings == ["task risk-enforce:acct-1 did not stop within 0.1 s of being cancelled"]
    release.set()
    await stuck_task


async def test_shutdown_cancels_tasks_spawned_during_shutdown() -> None:
    supervisor = TaskSupervisor()
    cleanup_started = asyncio.Event()
    cleanup_cancelled = asyncio.Event()

    async def cleanup() -> None:
        cleanup_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleanup_cancelled.set()
            raise

    async def spawns_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            supervisor.spawn(cleanup(), name="cleanup")
            raise

    supervisor.spawn(spawns_on_cancel(), name="parent")
    await asyncio.sleep(0)
    assert await supervisor.shutdown(timeout=5) == []
    assert cleanup_cancelled.is_set()


async def test_spawning_after_shutdown_is_refused() -> None:
    supervisor = TaskSupervisor()
    await supervisor.shutdown(timeout=1)

    async def late() -> None:
        raise AssertionError("must never run")

    with pytest.raises(SupervisorClosed, match="cannot start task late"):
        supervisor.spawn(late(), name="late")


def test_backoff_doubles_to_its_ceiling_and_resets() -> None:
    backoff = Backoff(initial=0.2, maximum=5.0)
    delays = [backoff.failed() for _ in range(8)]
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    for _ in range(10_000):
        backoff.failed()  # no OverflowError however long the fault lasts
    assert backoff.failed() == 5.0
    assert backoff.succeeded() == 10_009
    assert backoff.failed() == 0.2


# -- the daemon's feeds run their tasks under the supervisor ----------------------------------


def replay_config(tmp_path: Path) -> BotConfig:
    data = tmp_path / "ES-1d.csv"
    data.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-02T00:00:00Z,10,11,9,10.5,100\n"
        "2024-01-03T00:00:00Z,10.5,12,10,11,200\n"
    )
    return BotConfig(
        bot_id="replayer",
        symbol="ES",
        strategy="rsi",
        feed=FeedKind.REPLAY,
        feed_options={"path": str(data), "speed": 0},
    )


async def test_a_failing_replay_feed_is_logged_with_its_bot_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = TaskSupervisor()
    reported: list[tuple[str, str]] = []
    make = feed_factory(
        SimFeedHub(supervisor),
        on_feed_error=lambda bot_id, exc: reported.append((bot_id, str(exc))),
    )

    def handler(_bar: Bar) -> None:
        raise ValueError("strategy state corrupt")

    feed = make(replay_config(tmp_path), handler)
    assert isinstance(feed, ReplayBotFeed)
    await feed.start(warmup=0)
    assert supervisor.running == ["replay:replayer"]
    await asyncio.wait_for(until(lambda: supervisor.running == []), timeout=5)

    [record] = failures(caplog)
    assert record.getMessage().startswith(
        "task replay:replayer failed: ValueError: strategy state corrupt"
    )
    assert getattr(record, "bot_id", None) == "replayer"
    assert reported == [("replayer", "strategy state corrupt")]
    assert feed.error == "replay feed failed: ValueError: strategy state corrupt"


async def test_sim_streams_run_under_the_supervisor_and_end_at_its_shutdown() -> None:
    supervisor = TaskSupervisor()
    hub = SimFeedHub(supervisor)
    bars: list[Bar] = []
    hub.subscribe("bot-1", "SIM-BTC", SimOptions(tick_seconds=0.001), bars.append)
    assert supervisor.running == ["sim-feed:SIM-BTC"]
    await asyncio.wait_for(until(lambda: len(bars) >= 3), timeout=5)
    assert await supervisor.shutdown(timeout=5) == []
    assert supervisor.running == []


async def test_a_failing_sim_stream_names_the_bots_it_leaves_without_bars(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = TaskSupervisor()
    hub = SimFeedHub(supervisor)

    def broken(_bar: Bar) -> None:
        raise RuntimeError("handler escaped its guard")

    hub.subscribe("bot-2", "SIM-ETH", SimOptions(tick_seconds=0.001), broken)
    await asyncio.wait_for(until(lambda: supervisor.failures == 1), timeout=5)
    await asyncio.sleep(0)
    [failure] = failures(caplog)
    assert failure.getMessage().startswith("task sim-feed:SIM-ETH failed: RuntimeError")
    starved = [r.getMessage() for r in caplog.records if r.name == "algotrade.daemon.sim"]
    assert starved == ["sim prices for SIM-ETH stopped; bots without new bars: bot-2"]
    await hub.stop()


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)
