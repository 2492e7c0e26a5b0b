"""What the risk service commits for one account in one transaction, and what it publishes.

The commit loop (``RiskService``) batches decisions per account: the account's state row as it
is now, the lockouts the batch started, the ones it cleared (expired, or unlocked by an admin
with who and why), the log lines and the audit entries. Built here from the pending items so
the loop itself stays about ordering, retries and enforcement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from algotrade.risk.decisions import Breach, Decision, Lockout
from algotrade.risk.journal import decision_log, expired_clears, lockout_record
from algotrade.store.records_risk import AuditRecord, LockoutRecord, RiskLogRecord, RiskStateRecord
from algotrade.store.risk_store import Clear

__all__ = ["Batch", "Pending", "breach_event", "deep_merge"]


@dataclass(slots=True)
class Pending:
    """One decision waiting for its commit, with what an admin action adds to it."""

    decision: Decision
    audit: list[AuditRecord] = field(default_factory=list)
    cleared: list[tuple[Lockout, str, str]] = field(default_factory=list)  # lockout, by, why


@dataclass(frozen=True, slots=True)
class Batch:
    """The records of one account's pending decisions, for ``RiskStore.commit_decision``."""

    state: RiskStateRecord
    new_lockouts: list[LockoutRecord]
    cleared: list[Clear]
    log: list[RiskLogRecord]
    audit: list[AuditRecord]

    @classmethod
    def of(cls, state: RiskStateRecord, items: list[Pending]) -> Batch:
        """``state``: the account's state row as it is after ``items`` (``state_record``)."""
        account_id = state.account_id
        new_lockouts = [
            lockout_record(b.lockout)
            for item in items
            for b in item.decision.breaches
            if b.lockout is not None
        ]
        cleared = [c for item in items for c in expired_clears(item.decision)] + [
            ((lock.account_id, lock.rule, lock.start_ts), item.decision.ts, by, why)
            for item in items
            for lock, by, why in item.cleared
        ]
        log = [line for item in items for line in decision_log(item.decision)]
        log += [
            RiskLogRecord(
                account_id,
                item.decision.ts,
                "unlock",
                rule=lock.rule,
                message=f"unlocked by {by}: {why}",
            )
            for item in items
            for lock, by, why in item.cleared
        ]
        audit = [a for item in items for a in item.audit]
        return cls(state, new_lockouts, cleared, log, audit)


def breach_event(breach: Breach) -> dict[str, Any]:
    """A breach as published on the ``risk`` topic."""
    return {
        "kind": "breach",
        "account_id": breach.account_id,
        "rule": breach.rule,
        "message": breach.message,
        "actions": [action.summary() for action in breach.actions],
        "lockout": None
        if breach.lockout is None
        else {"until": breach.lockout.until.value, "until_ts": breach.lockout.until_ts},
    }


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        out[key] = (
            deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out
