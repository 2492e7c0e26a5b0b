"""Builders for risk engine tests: one account, chosen rules, Chicago session times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from algotrade.core.timeutil import datetime_to_ns
from algotrade.risk.engine import RiskEngine
from algotrade.risk.events import AccountFill, MarkUpdate, OrderIntent, OrderUpdate
from algotrade.risk.rules_config import AccountConfig, DailyReset, RiskRules

CHI = ZoneInfo("America/Chicago")
ACCOUNT = "acct"
D = Decimal


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """A Chicago wall time in November 2026 as ns (Nov 16 2026 is a Monday)."""
    return datetime_to_ns(datetime(2026, 11, day, hour, minute, second, tzinfo=CHI))


def engine(balance: str = "50000", **rules: dict[str, Any]) -> RiskEngine:
    enabled = {name: {"enabled": True, **params} for name, params in rules.items()}
    enabled.setdefault("account_status_guard", {"enabled": False})
    return RiskEngine(
        {ACCOUNT: AccountConfig(id=ACCOUNT, starting_balance=D(balance))},
        {ACCOUNT: RiskRules.model_validate(enabled)},
        {ACCOUNT: DailyReset(time="17:00", timezone="America/Chicago")},
    )


def fill(ts: int, side: str, qty: str, price: str, symbol: str = "ES", **kw: Any) -> AccountFill:
    money = {
        k: D(v) if k in ("fee", "realized_pnl") and isinstance(v, str) else v for k, v in kw.items()
    }
    return AccountFill(ACCOUNT, ts, symbol, side, D(qty), D(price), **money)


def mark(ts: int, price: str, symbol: str = "ES") -> MarkUpdate:
    return MarkUpdate(ACCOUNT, ts, symbol, D(price))


def stop_order(
    ts: int, order_id: str, side: str, qty: str, stop: str, status: str = "open"
) -> OrderUpdate:
    return OrderUpdate(
        ACCOUNT, ts, order_id, "ES", side, "stop", D(qty), status, stop_price=D(stop)
    )


def intent(
    ts: int, side: str = "buy", qty: str = "1", symbol: str = "ES", **kw: Any
) -> OrderIntent:
    return OrderIntent(ACCOUNT, ts, symbol, side, D(qty), **kw)


def allowed(e: RiskEngine, ts: int, **kw: Any) -> bool:
    verdict, _ = e.check_order(intent(ts, **kw))
    return verdict.allowed


def breaches(e: RiskEngine, event: Any) -> list[Any]:
    return [b for d in e.on_event(event) for b in d.breaches]
