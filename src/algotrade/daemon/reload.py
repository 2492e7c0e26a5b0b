"""``Reloader``: one live reload at a time, whatever triggered it (SIGHUP / ``systemctl
reload``, ``POST /api/reload``, a watched file), framed for systemd and audited.

A reload is all-or-nothing up to the apply step: ``reload_plan.build_plan`` reads and validates
every source first; an error there (one line naming the file and field) rejects the reload and
nothing running changes. Only a valid plan is applied (``reload_apply``). A second trigger while
a reload runs waits for it and then does its own complete reload (reading the files again), so
an edit saved during a reload is never lost. See docs/reload.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from algotrade.core.errors import ConfigError
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import Topic
from algotrade.daemon.reload_apply import ApplyTarget, apply_plan
from algotrade.daemon.reload_audit import Outcome, ReloadHistory, ReloadRecord, Trigger
from algotrade.daemon.reload_plan import KeyLoader, Keys, ReloadPlan, Running, build_plan
from algotrade.daemon.reload_settings import settings_data, with_live_changes
from algotrade.daemon.secret_env import with_secret_files
from algotrade.daemon.settings import SettingsOrigin
from algotrade.daemon.status import BotStatus
from algotrade.daemon.systemd_notify import SystemdNotifier, bot_count_status
from algotrade.store.store import Store

_log = logging.getLogger("algotrade.daemon.reload")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class Reloader:
    def __init__(
        self,
        *,
        origin: SettingsOrigin,
        running: Running,
        target: ApplyTarget,
        store: Store,
        notifier: SystemdNotifier,
        load_keys: KeyLoader,
        check_keys: Callable[[Keys], None],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.origin = origin
        self.history = ReloadHistory()
        self._running = running
        self._target = target
        self._store = store
        self._notifier = notifier
        self._load_keys = load_keys
        self._check_keys = check_keys
        self._environ = environ
        self._lock = asyncio.Lock()

    @property
    def running(self) -> Running:
        """The settings, keys and risk config in force."""
        return self._running

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def reload(self, trigger: Trigger) -> ReloadRecord:
        """Reload now (after a reload already running); the audit record."""
        async with self._lock:
            record = ReloadRecord(trigger)
            # A reload while starting (before READY=1) is not framed: its READY=1 would tell
            # systemd the daemon is up before the API listens.
            framed = self._notifier.readied
            if framed:
                self._notifier.reloading(f"reloading ({trigger.source}: {trigger.actor})")
            plan: ReloadPlan | None = None
            try:
                plan = await self._plan(record)
                if plan is not None:
                    await apply_plan(plan, self._target, record)
                    self._running = self._after(plan)
            except asyncio.CancelledError:
                # The daemon is stopping (STOPPING=1 is out): no READY=1 after it.
                record.error = "cancelled: the daemon is stopping"
                record.outcome = Outcome.REJECTED if plan is None else Outcome.PARTIAL
                record.finish()
                self.history.add(record)
                _log.warning("%s", record.summary())
                raise
            record.finish()
            await self._audit(record)
            if framed:
                self._notifier.ready(bot_count_status(self._target.service.health()))
            return record

    async def _plan(self, record: ReloadRecord) -> ReloadPlan | None:
        service = self._target.service

        async def read_bots() -> dict[str, tuple[BotConfig, BotStatus]]:
            statuses = await service.list_bots()
            return {status.bot_id: await service.get_bot(status.bot_id) for status in statuses}

        try:
            env = await asyncio.to_thread(with_secret_files, self._environ)
            return await build_plan(
                self.origin,
                env,
                self._running,
                read_bots,
                service.validate_config,
                self._load_keys,
                self._check_keys,
            )
        except ConfigError as exc:
            record.error = str(exc)
        except Exception as exc:  # a bug must not leave the daemon half-reloaded or unframed
            _log.exception("reload: unexpected error while reading the sources")
            record.error = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())}"
        record.outcome = Outcome.REJECTED
        return None

    def _after(self, plan: ReloadPlan) -> Running:
        risk = self._target.service.risk
        return Running(
            settings=with_live_changes(self._running.settings, settings_data(plan.settings)),
            keys=plan.keys if plan.keys is not None else self._running.keys,
            risk=risk.config if risk is not None else None,
        )

    async def _audit(self, record: ReloadRecord) -> None:
        self.history.add(record)
        _log.log(_LEVELS[record.level], "%s", record.summary())
        event = record.event()
        try:
            await asyncio.to_thread(self._store.add_events, [event])
        except Exception as exc:  # the audit line is in daemon.log either way
            _log.error("reload #%d: not written to the event log: %s", record.id, exc)
        self._target.service.bus.publish(Topic.LOGS, None, event.to_api())


class ApiReload:
    """The reloader as ``POST/GET /api/reload`` drive it (``api.deps.ReloadControl``)."""

    def __init__(self, reloader: Reloader) -> None:
        self._reloader = reloader

    async def reload(self, caller: str) -> dict[str, Any]:
        record = await self._reloader.reload(Trigger.api(caller))
        return record.to_dict()

    def history(self) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self._reloader.history.records()]

    def busy(self) -> bool:
        return self._reloader.busy
