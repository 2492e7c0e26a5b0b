"""The snapshot of a ccxt venue account shown by ``GET /api/venues``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from algotrade.core.money import decimal_text

if TYPE_CHECKING:
    from algotrade.venues.ccxt.account import CcxtAccount

__all__ = ["account_snapshot"]


def account_snapshot(account: CcxtAccount) -> dict[str, Any]:
    """Health and state of the account for ``GET /api/venues`` (the fields the dashboard,
    the TUI and ``algotrade venues status`` show, plus positions, balance and counters)."""
    report = account.last_report
    counters: dict[str, int] = dict(account.rest.counters())
    for prefix, stream in (("ws_public", account.session.public), ("ws_private", account.private)):
        if stream is None:
            continue
        for name, value in stream.stats().items():
            counters[f"{prefix}_{name}"] = value
    counters["ws_reconnects"] = counters.get("ws_private_reconnects", 0) + counters.get(
        "ws_public_reconnects", 0
    )
    balance = account.balance
    return {
        "venue": account.venue_name,
        "exchange": account.spec.exchange_id,
        **account.session.describe(),
        "account": f"API key {account.credentials.masked_key}" if account.credentials else None,
        "connected": account.connected,
        "streams": {
            "public": account.session.public.connected,
            "private": None if account.private is None else account.private.connected,
        },
        "assets": len(account.instruments_info),
        "reconciles": account.reconciles,
        "reconcile_failures": account.reconcile_failures,
        "last_reconcile": None if report is None else report.as_dict(),
        "blocked": dict(account.blocked),
        "pending_fills": account.pending_count,
        "positions": {s: decimal_text(p.size) for s, p in sorted(account.positions.items())},
        "balance": None
        if balance is None
        else {
            "coin": balance.coin,
            "wallet_balance": decimal_text(balance.wallet_balance),
            "equity": decimal_text(balance.equity),
            "account_available_usd": None
            if balance.account_available_usd is None
            else decimal_text(balance.account_available_usd),
        },
        "alerts": list(account.alerts),
        "counters": counters,
    }
