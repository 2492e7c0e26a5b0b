"""How a risk decision is written down: store records for lockouts, state and log lines.

Shared by the daemon (``RiskService``, which batches decisions per account) and by
``algotrade risk replay`` (one decision per transaction), so both write exactly the same
records. The risk engine stays free of I/O; this module only builds records and, in
``commit_decision``, hands them to a ``RiskStore``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from algotrade.core.money import decimal_text
from algotrade.risk.decisions import ActionKind, Decision, Lockout, LockUntil
from algotrade.risk.state import AccountRisk
from algotrade.store.records_risk import LockoutRecord, RiskLogRecord, RiskStateRecord
from algotrade.store.risk_store import Clear, RiskStore

__all__ = [
    "EXPIRED",
    "commit_decision",
    "decision_log",
    "expired_clears",
    "jsonable",
    "lockout_from_record",
    "lockout_record",
    "state_record",
]

EXPIRED = "expired"
"""``cleared_by`` and ``clear_reason`` of a lockout that expired (time passed, daily reset)."""


def lockout_record(lockout: Lockout) -> LockoutRecord:
    return LockoutRecord(
        account_id=lockout.account_id,
        rule=lockout.rule,
        reason=lockout.reason,
        start_ts=lockout.start_ts,
        until_kind=lockout.until.value,
        until_ts=lockout.until_ts,
    )


def lockout_from_record(record: LockoutRecord) -> Lockout:
    return Lockout(
        record.account_id,
        record.rule,
        record.reason,
        record.start_ts,
        LockUntil(record.until_kind),
        record.until_ts,
    )


def state_record(state: AccountRisk) -> RiskStateRecord:
    """The account's state row as it is after the decisions being committed."""
    return RiskStateRecord(
        state.account_id, state.trading_day, state.last_reset_ts, state.to_dict(), state.last_ts
    )


def expired_clears(decision: Decision) -> list[Clear]:
    """The lockouts a decision saw expire, as ``RiskStore.commit_decision`` clears."""
    return [
        ((lock.account_id, lock.rule, lock.start_ts), decision.ts, EXPIRED, EXPIRED)
        for lock in decision.expired
    ]


def decision_log(decision: Decision) -> list[RiskLogRecord]:
    """The log lines a decision adds: breaches, their actions, lockouts, expiries, resets."""
    lines: list[RiskLogRecord] = []
    account = decision.account_id
    if decision.reset:
        lines.append(RiskLogRecord(account, decision.ts, "reset", message="daily reset"))
    for lockout in decision.expired:
        lines.append(
            RiskLogRecord(account, decision.ts, "expiry", rule=lockout.rule, message=lockout.reason)
        )
    for breach in decision.breaches:
        lines.append(
            RiskLogRecord(account, breach.ts, "breach", rule=breach.rule, message=breach.message)
        )
        if breach.lockout is not None:
            lines.append(
                RiskLogRecord(
                    account,
                    breach.ts,
                    "lockout",
                    rule=breach.rule,
                    message=breach.lockout.reason,
                    data={"until": breach.lockout.until.value, "until_ts": breach.lockout.until_ts},
                )
            )
        for action in breach.actions:
            kind = "alert" if action.kind is ActionKind.ALERT else "enforcement"
            lines.append(
                RiskLogRecord(
                    account,
                    breach.ts,
                    kind,
                    rule=breach.rule,
                    action=action.kind.value,
                    symbol=action.symbol,
                    qty=action.qty if action.qty else None,
                    status="requested" if kind == "enforcement" else "",
                    message=action.message,
                )
            )
    return lines


def commit_decision(store: RiskStore, state: AccountRisk, decision: Decision) -> list[int]:
    """Write one decision in one transaction, as the daemon's commit loop does for a batch:
    the account's state row, the new lockouts, the expired ones cleared at the decision's
    time, and the log lines. Returns the new log lines' ids (in ``decision_log`` order)."""
    if decision.account_id != state.account_id:
        raise ValueError(
            f"decision of {decision.account_id!r} committed with the state of {state.account_id!r}"
        )
    return store.commit_decision(
        state.account_id,
        state=state_record(state),
        new_lockouts=[
            lockout_record(breach.lockout)
            for breach in decision.breaches
            if breach.lockout is not None
        ],
        cleared=expired_clears(decision),
        log=decision_log(decision),
    )


def jsonable(value: Any) -> Any:
    """An engine view (``RiskEngine.snapshot``) as JSON-ready data: Decimals as exact text,
    lockouts as dicts; other values as they are."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, Lockout):
        return {
            "rule": value.rule,
            "reason": value.reason,
            "start_ts": value.start_ts,
            "until": value.until.value,
            "until_ts": value.until_ts,
        }
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
