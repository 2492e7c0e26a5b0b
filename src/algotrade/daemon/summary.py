"""Totals across every bot for the overview of the TUI and the dashboard (``/api/summary``).

Built from what the daemon already holds: each bot's cached status (its committed books), the
risk engine's account snapshots (lockouts), the live venues' alerts, and a count of the
warnings and errors logged since the daemon started.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from algotrade.core.money import EXACT, decimal_text
from algotrade.core.timeutil import ns_to_iso
from algotrade.daemon.status import BotState, BotStatus

if TYPE_CHECKING:
    from algotrade.daemon.risk_service import RiskService

# Alerts listed in a summary, newest first: an overview, not a log.
MAX_ALERTS = 50


class LogCounter(logging.Handler):
    """Counts warning and error records of the daemon's loggers since it started."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings = 0
        self.errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors += 1
        else:
            self.warnings += 1


def build_summary(
    statuses: Iterable[BotStatus],
    *,
    initial_capital: Decimal,
    risk: RiskService | None,
    venues: list[dict[str, Any]],
    log_counts: LogCounter,
) -> dict[str, Any]:
    states: Counter[str] = Counter({state.value: 0 for state in BotState})
    alerts: list[dict[str, Any]] = []
    bots = simulated = blocked = open_positions = 0
    equity = realized = unrealized = fees = pnl_today = Decimal(0)
    with localcontext(EXACT):
        for status in statuses:
            bots += 1
            states[status.state.value] += 1
            simulated += status.simulated
            open_positions += sum(1 for qty in status.position.values() if Decimal(qty))
            equity += Decimal(status.equity)
            realized += Decimal(status.realized_pnl)
            unrealized += Decimal(status.unrealized_pnl)
            fees += Decimal(status.fees)
            pnl_today += Decimal(status.pnl_today)
            if status.blocked is not None:
                blocked += 1
                alerts.append(_alert("bot", status.bot_id, "error", status.blocked, None))
            elif status.state is BotState.ERROR:
                message = status.last_error or "bot in error"
                alerts.append(_alert("bot", status.bot_id, "error", message, None))
        pnl_total = equity - initial_capital
    lockouts = _lockouts(risk)
    alerts.extend(
        _alert("risk", lock["account_id"], "warning", f"{lock['rule']}: {lock['reason']}", None)
        for lock in lockouts
    )
    for venue in venues:
        for alert in venue.get("alerts", []):
            alerts.append(
                _alert("venue", venue.get("venue", "?"), "warning", alert["message"], alert["at"])
            )
    alerts.sort(key=lambda alert: alert["timestamp"] or "", reverse=True)
    return {
        "bots": bots,
        "states": dict(states),
        "simulated": simulated,
        "live": bots - simulated,
        "blocked": blocked,
        "equity": decimal_text(equity),
        "initial_capital": decimal_text(initial_capital),
        "pnl_total": decimal_text(pnl_total),
        "pnl_today": decimal_text(pnl_today),
        "realized_pnl": decimal_text(realized),
        "unrealized_pnl": decimal_text(unrealized),
        "fees": decimal_text(fees),
        "open_positions": open_positions,
        "errors": log_counts.errors,
        "warnings": log_counts.warnings,
        "alerts": alerts[:MAX_ALERTS],
        "lockouts": lockouts,
        "updated_at": ns_to_iso(time.time_ns()),
    }


def _alert(
    source: str, subject: str, level: str, message: str, timestamp: str | None
) -> dict[str, Any]:
    return {
        "source": source,
        "subject": subject,
        "level": level,
        "message": message,
        "timestamp": timestamp,
    }


def _lockouts(risk: RiskService | None) -> list[dict[str, Any]]:
    if risk is None:
        return []
    found = []
    for account in risk.accounts():
        for lock in account.get("lockouts", []):
            until = lock.get("until_ts")
            found.append(
                {
                    "account_id": account["account_id"],
                    "rule": lock.get("rule", ""),
                    "reason": lock.get("reason", ""),
                    "until_kind": lock.get("until", ""),
                    "until": None if until is None else ns_to_iso(int(until)),
                }
            )
    return found
