"""The status view of a Hyperliquid account (``HyperliquidAccount.snapshot``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from algotrade.venues.hyperliquid.account import HyperliquidAccount


def account_status(account: HyperliquidAccount) -> dict[str, Any]:
    """What ``GET /api/venues`` shows of the account: connection, reconciliations, blocked
    coins, alerts and the transport's counters."""
    report = account.last_report
    return {
        "venue": "hyperliquid",
        "network": account.config.network.value,
        "account": account.credentials.account_address if account.credentials else None,
        "connected": account.ws.connected,
        "assets": len(account.assets),
        "reconciles": account.reconciles,
        "reconcile_failures": account.reconcile_failures,
        "last_reconcile": None if report is None else report.as_dict(),
        "blocked": dict(account.blocked),
        "pending_fills": account.pending_fill_count,
        "alerts": list(account.alerts),
        "counters": {
            "http_requests": account.http.stats.requests,
            "http_weight": account.http.stats.weight,
            "http_rate_limited": account.http.stats.rate_limited,
            "http_failures": account.http.stats.failures,
            "ws_messages": account.ws.stats.messages,
            "ws_reconnects": account.ws.stats.reconnects,
            "ws_malformed": account.ws.stats.malformed + account.ws.stats.unknown_channel,
            "ws_handler_errors": account.ws.stats.handler_errors,
        },
    }
