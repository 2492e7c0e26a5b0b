"""Response models of ``/api/reload`` (the audit records of ``daemon.reload_audit``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ReloadBots(BaseModel):
    created: list[str] = Field(description="bot ids created from new [[bots]] entries")
    updated: dict[str, list[str]] = Field(description="bot id → the config fields changed")
    deleted: list[str] = Field(description="bots pruned (reload.prune = true)")
    kept: dict[str, str] = Field(description="bots prune left alone → why")
    failed: dict[str, str] = Field(description="bot id → the step its state refused")


class ReloadReport(BaseModel):
    id: int = Field(description="counts reloads since the daemon started")
    source: Literal["signal", "api", "file"]
    actor: str = Field(description="SIGHUP; the caller's role and key id; the changed file")
    started_at: str
    finished_at: str | None
    outcome: Literal["applied", "partial", "rejected"]
    error: str | None = Field(description="why it was rejected: nothing changed")
    changed: list[str] = Field(description='applied, e.g. "logging.level (INFO → DEBUG)"')
    needs_restart: list[str] = Field(
        description='changed but bound at start, not applied: "api.port (8080 → 8081)"'
    )
    keys: str | None = Field(description="API key rotation (counts only)")
    bots: ReloadBots


class ReloadHistoryOut(BaseModel):
    in_progress: bool
    reloads: list[ReloadReport] = Field(description="this process's last reloads, newest first")
