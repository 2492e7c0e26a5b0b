"""A bot's inbox and task start with its first command: idle bots cost no task, and a bot
never commanded still shuts down, is deleted and refuses commands afterwards like any other."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bot_handle import Command
from algotrade.daemon.service import BotService
from algotrade.daemon.service_api import BotNotFound, InvalidTransition
from algotrade.daemon.status import BotState
from testkit.service_harness import open_service


def sim_bot(bot_id: str) -> BotConfig:
    raw: dict[str, Any] = {
        "bot_id": bot_id,
        "symbol": "SIM-INBOX",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 4, "qty": 1},
        "feed_options": {"seed": 3, "tick_seconds": 86400},
    }
    return BotConfig.model_validate(raw)


def bot_tasks(service: BotService) -> list[str]:
    return [name for name in service.supervisor.running if name.startswith("bot:")]


async def test_task_starts_with_the_first_command(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        for name in ("a", "b"):
            await service.create_bot(sim_bot(name))
        assert bot_tasks(service) == []  # created, listed, never commanded
        assert [s.bot_id for s in await service.list_bots()] == ["a", "b"]
        assert (await service.start_bot("a")).state is BotState.RUNNING
        assert bot_tasks(service) == ["bot:a"]
        assert (await service.stop_bot("a")).state is BotState.STOPPED
    finally:
        await service.shutdown(timeout=10)
        service._store.close()
    assert bot_tasks(service) == []


async def test_restored_bots_have_no_task_until_commanded(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    await service.create_bot(sim_bot("a"))
    await service.create_bot(sim_bot("b"))
    await service.shutdown(timeout=10)
    service._store.close()

    service = await open_service(tmp_path)
    try:
        assert bot_tasks(service) == []
        assert service.health()["bots"] == 2
        await service.start_bot("b")
        assert bot_tasks(service) == ["bot:b"]
        await service.delete_bot("a")  # never commanded: shut down inline, then removed
        with pytest.raises(BotNotFound):
            await service.start_bot("a")
    finally:
        await service.shutdown(timeout=10)
        service._store.close()


async def test_a_bot_shut_down_before_any_command_refuses_commands(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        actor = service._bots["a"]
        status = await actor.submit(Command.SHUTDOWN)
        assert status.state is BotState.STOPPED
        with pytest.raises(InvalidTransition, match="shut down"):
            await actor.submit(Command.START)
        assert bot_tasks(service) == []
    finally:
        await service.shutdown(timeout=10)
        service._store.close()


async def test_a_command_sent_after_shutdown_was_queued_is_refused_not_left_waiting(
    tmp_path: Path,
) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")  # the inbox and its task exist now
        actor = service._bots["a"]
        shutdown = asyncio.ensure_future(actor.submit(Command.SHUTDOWN))
        await asyncio.sleep(0)  # SHUTDOWN is queued, not yet served
        # Queued behind SHUTDOWN it would never be served (the task ends with it).
        async with asyncio.timeout(5):
            with pytest.raises(InvalidTransition, match="shut down"):
                await actor.submit(Command.STOP)
        assert (await shutdown).bot_id == "a"
    finally:
        await service.shutdown(timeout=10)
        service._store.close()


async def test_requests_racing_a_delete_answer_not_found_and_none_waits(tmp_path: Path) -> None:
    service = await open_service(tmp_path)
    try:
        await service.create_bot(sim_bot("a"))
        await service.start_bot("a")
        racing = [
            service.stop_bot("a"),
            service.pause_bot("a"),
            service.update_config("a", {"initial_capital": "5"}),
            service.delete_bot("a"),
            service.create_bot(sim_bot("a")),
        ]
        async with asyncio.timeout(5):
            results = await asyncio.gather(service.delete_bot("a"), *racing, return_exceptions=True)
        assert results[0] is None  # the delete that came first
        assert [type(r).__name__ for r in results[1:]] == [
            "BotNotFound",
            "BotNotFound",
            "BotNotFound",
            "BotNotFound",
            "BotExists",  # the id is taken until the store has forgotten the bot
        ]
        await service.create_bot(sim_bot("a"))  # afterwards the id is free again
        assert (await service.get_bot("a"))[1].state is BotState.STOPPED
    finally:
        await service.shutdown(timeout=10)
        service._store.close()
