"""``Reloader``: one reload at a time, framed RELOADING…READY, audited, all or nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from algotrade.api.keys import ApiKeys, Role
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.reload import Reloader
from algotrade.daemon.reload_apply import ApplyTarget
from algotrade.daemon.reload_audit import Outcome, Trigger
from algotrade.daemon.reload_plan import Keys, Running
from algotrade.daemon.reload_settings import settings_data
from algotrade.daemon.settings import load_settings
from algotrade.daemon.status import BotStatus

KEY = "coordinator-admin-key-0123456789"


class FakeService:
    def __init__(self) -> None:
        self.bus = EventBus()
        self.risk = None
        self.created: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def list_bots(self) -> list[BotStatus]:
        await self.gate.wait()  # lets a test hold a reload in its planning step
        return []

    async def create_bot(self, config: BotConfig, *, to_run: bool = False) -> None:
        self.created.append(config.bot_id)

    def validate_config(self, config: BotConfig) -> None:
        pass

    def health(self) -> dict[str, Any]:
        return {"bots": len(self.created), "by_state": {"stopped": len(self.created)}}


class FakeStore:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def add_events(self, events: list[Any]) -> None:
        self.events.extend(events)


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.readied = True  # the daemon is up unless a test says it is still starting

    def reloading(self, status: str = "") -> None:
        self.sent.append("RELOADING")

    def ready(self, status: str = "") -> None:
        self.sent.append("READY")


def make(tmp_path: Path, toml: str) -> tuple[Reloader, FakeService, FakeStore, FakeNotifier]:
    config = tmp_path / "daemon.toml"
    config.write_text(toml, encoding="utf-8")
    settings = load_settings(config, {})
    assert settings.origin is not None
    service, store, notifier = FakeService(), FakeStore(), FakeNotifier()

    def load_keys(env: Any, keys_file: Path | None) -> Keys:
        return ApiKeys.from_sources(env, keys_file)

    reloader = Reloader(
        origin=settings.origin,
        running=Running(settings_data(settings), ApiKeys([(Role.ADMIN, KEY)]), None),
        target=ApplyTarget(service, lambda keys: None, lambda level: None),  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        notifier=notifier,  # type: ignore[arg-type]
        load_keys=load_keys,
        check_keys=lambda keys: None,
        environ={"ALGOTRADE_API_KEYS": f"admin:{KEY}"},
    )
    return reloader, service, store, notifier


BOT = '[[bots]]\nbot_id = "{id}"\nsymbol = "SIM-BTC"\nstrategy = "ma_crossover"\nfeed = "sim"\n'


def test_a_second_reload_waits_for_the_first_and_reads_the_files_again(tmp_path: Path) -> None:
    reloader, service, store, notifier = make(tmp_path, "")

    async def scenario() -> list[Any]:
        service.gate.clear()
        first = asyncio.create_task(reloader.reload(Trigger.signal()))
        await asyncio.sleep(0.01)
        assert reloader.busy
        second = asyncio.create_task(reloader.reload(Trigger.api("admin key 0123")))
        # Saved while the first reload is reading: the second one must see it.
        (tmp_path / "daemon.toml").write_text(BOT.format(id="late"), encoding="utf-8")
        await asyncio.sleep(0.01)
        service.gate.set()
        return list(await asyncio.gather(first, second))

    first, second = asyncio.run(scenario())
    assert first.finished_at is not None
    assert second.started_at >= first.finished_at
    assert service.created == ["late"]
    assert second.bots_created == ["late"]
    assert notifier.sent == ["RELOADING", "READY", "RELOADING", "READY"]
    assert [event.kind for event in store.events] == ["reload", "reload"]


def test_a_reload_while_starting_sends_no_ready_before_the_daemon_is_up(tmp_path: Path) -> None:
    # SIGHUP is taken from before the API listens; READY=1 then would tell systemd too early.
    reloader, service, store, notifier = make(tmp_path, BOT.format(id="early"))
    notifier.readied = False
    record = asyncio.run(reloader.reload(Trigger.signal()))
    assert record.outcome is Outcome.APPLIED
    assert service.created == ["early"]
    assert notifier.sent == []
    assert [event.kind for event in store.events] == ["reload"]


def test_a_rejected_reload_is_framed_audited_and_changes_nothing(tmp_path: Path) -> None:
    reloader, service, store, notifier = make(tmp_path, '[logging]\nlevel = "INFO"\n')
    subscription = service.bus.subscribe([Topic.LOGS])
    (tmp_path / "daemon.toml").write_text(
        '[logging]\nlevel = "DEBUG"\n' + BOT.format(id="x") + "[api\n", encoding="utf-8"
    )
    running = reloader.running
    record = asyncio.run(reloader.reload(Trigger.signal()))
    assert record.outcome is Outcome.REJECTED
    assert record.error is not None
    assert "daemon.toml line" in record.error
    assert reloader.running is running
    assert service.created == []
    assert notifier.sent == ["RELOADING", "READY"]
    [event] = store.events
    assert (event.bot_id, event.kind, event.level) == (None, "reload", "error")
    published = subscription.queue.get_nowait()
    assert published.data["data"]["outcome"] == "rejected"
    assert [r.id for r in reloader.history.records()] == [record.id]
