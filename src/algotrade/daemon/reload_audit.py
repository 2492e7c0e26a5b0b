"""The audit record of one reload: who or what triggered it, what changed, what needs a restart,
what failed.

Every reload leaves one: a line in daemon.log, a row in the store's event log (``kind``
"reload", no bot id, so it outlives the process), an event on the bus (WebSocket ``logs`` topic,
``kind`` "reload") and an entry in the in-memory history ``GET /api/reload`` answers. A record
never holds a secret: API keys appear as counts, the caller as role and key fingerprint id,
database URLs with the password masked.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from algotrade.store.records import EventRecord

HISTORY_SIZE = 50
EVENT_KIND = "reload"


class Outcome(StrEnum):
    APPLIED = "applied"  # everything in the plan was applied (maybe nothing changed)
    PARTIAL = "partial"  # validated and applied, but some bots refused their step
    REJECTED = "rejected"  # a source was invalid: nothing changed


@dataclass(frozen=True, slots=True)
class Trigger:
    """What asked for the reload: ``source`` is signal, api or file; ``actor`` says who/which
    (``SIGHUP``; ``admin key 3f9c…``; the file that changed)."""

    source: str
    actor: str

    @classmethod
    def signal(cls, name: str = "SIGHUP") -> Trigger:
        return cls("signal", name)

    @classmethod
    def api(cls, caller: str) -> Trigger:
        return cls("api", caller)

    @classmethod
    def file(cls, path: str) -> Trigger:
        return cls("file", f"changed: {path}")


_ids = itertools.count(1)


@dataclass
class ReloadRecord:
    trigger: Trigger
    id: int = field(default_factory=lambda: next(_ids))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    outcome: Outcome = Outcome.APPLIED
    error: str | None = None  # why it was rejected (one line)
    changed: list[str] = field(default_factory=list)  # "logging.level (INFO → DEBUG)"
    needs_restart: list[str] = field(default_factory=list)  # "api.port (8080 → 8081)"
    keys: str | None = None  # "API keys: 1 added, 1 removed, …" (counts only)
    bots_created: list[str] = field(default_factory=list)
    bots_updated: dict[str, list[str]] = field(default_factory=dict)  # bot id → fields
    bots_deleted: list[str] = field(default_factory=list)
    bots_kept: dict[str, str] = field(default_factory=dict)  # not pruned → why
    bots_failed: dict[str, str] = field(default_factory=dict)  # bot id → error

    def finish(self) -> None:
        self.finished_at = datetime.now(UTC)
        if self.bots_failed and self.outcome is Outcome.APPLIED:
            self.outcome = Outcome.PARTIAL

    @property
    def level(self) -> str:
        return {Outcome.APPLIED: "info", Outcome.PARTIAL: "warning"}.get(self.outcome, "error")

    def summary(self) -> str:
        """One line for daemon.log and the event log."""
        head = f"reload #{self.id} ({self.trigger.source}: {self.trigger.actor}) {self.outcome}"
        if self.error is not None:
            return f"{head}: {self.error}; the running config stays"
        parts = [f"changed: {', '.join(self.changed)}" if self.changed else "no setting changed"]
        if self.keys:
            parts.append(self.keys)
        for label, items in (
            ("bots created", self.bots_created),
            ("bots updated", list(self.bots_updated)),
            ("bots deleted", self.bots_deleted),
            ("bots not pruned", list(self.bots_kept)),
        ):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        if self.bots_failed:
            failed = "; ".join(f"{bot}: {why}" for bot, why in self.bots_failed.items())
            parts.append(f"bots failed: {failed}")
        if self.needs_restart:
            parts.append(f"needs restart: {', '.join(self.needs_restart)}")
        return f"{head}: {'; '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.trigger.source,
            "actor": self.trigger.actor,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at) if self.finished_at else None,
            "outcome": self.outcome.value,
            "error": self.error,
            "changed": list(self.changed),
            "needs_restart": list(self.needs_restart),
            "keys": self.keys,
            "bots": {
                "created": list(self.bots_created),
                "updated": {bot: list(fields) for bot, fields in self.bots_updated.items()},
                "deleted": list(self.bots_deleted),
                "kept": dict(self.bots_kept),
                "failed": dict(self.bots_failed),
            },
        }

    def event(self) -> EventRecord:
        """The event-log row (``bot_id`` None: a daemon-wide line)."""
        return EventRecord(
            None,
            self.finished_at or self.started_at,
            self.level,
            EVENT_KIND,
            self.summary(),
            self.to_dict(),
        )


class ReloadHistory:
    """The last ``HISTORY_SIZE`` reloads of this process, newest last."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self._records: deque[ReloadRecord] = deque(maxlen=size)

    def add(self, record: ReloadRecord) -> None:
        self._records.append(record)

    def records(self) -> list[ReloadRecord]:
        return list(self._records)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
