"""``algotrade venues``: a running daemon's live venue connections, and reconciling one now.

Clients of the daemon's ``/api/venues`` API; errors are one line on stderr (exit 2 for bad
input such as a venue that is not connected, exit 1 otherwise), like ``algotrade risk``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from algotrade.cli.bots_cmd import DEFAULT_DAEMON_URL
from algotrade.cli.bots_render import print_json
from algotrade.cli.risk_cmd import ApiKey, DaemonUrl, JsonFlag, call_daemon, print_line, print_table

venues_app = typer.Typer(
    name="venues",
    help="Live venues of a running daemon: connection, reconciliation, blocks, alerts.",
    no_args_is_help=True,
)


@venues_app.command()
def status(
    daemon_url: DaemonUrl = DEFAULT_DAEMON_URL,
    api_key: ApiKey = None,
    json_flag: JsonFlag = False,
) -> None:
    """Connection, last reconciliation, blocked symbols and recent alerts of each venue."""
    states = call_daemon(daemon_url, api_key, lambda client: client.venues())
    if json_flag:
        print_json(states)
        return
    if not states:
        print_line("no live venue is connected (no bot uses one yet)")
    for state in states:
        print_state(state)


@venues_app.command()
def reconcile(
    venue: Annotated[str, typer.Argument(help="the venue, e.g. hyperliquid")],
    daemon_url: DaemonUrl = DEFAULT_DAEMON_URL,
    api_key: ApiKey = None,
    json_flag: JsonFlag = False,
) -> None:
    """Reconcile positions, open orders and fills now (admin key); prints the result."""
    state = call_daemon(daemon_url, api_key, lambda client: client.reconcile_venue(venue))
    if json_flag:
        print_json(state)
    else:
        print_state(state)


def print_state(state: dict[str, Any]) -> None:
    connected = "connected" if state.get("connected") else "DISCONNECTED"
    print_line(
        f"{state.get('venue')} ({state.get('network')}), account {state.get('account') or '–'}: "
        f"{connected}; {state.get('reconciles', 0)} reconciliations "
        f"({state.get('reconcile_failures', 0)} failed), "
        f"{state.get('pending_fills', 0)} unclaimed fills"
    )
    last = state.get("last_reconcile")
    if last:
        print_line(
            f"last reconciliation ({last['reason']}) at {last['at']}: "
            f"{last['fills_routed']} fills routed, {last['orders_adopted']} orders adopted, "
            f"{len(last['foreign_orders'])} unknown orders, {len(last['mismatches'])} mismatches"
        )
    blocked = [{"symbol": s, "reason": r} for s, r in (state.get("blocked") or {}).items()]
    print_table("Blocked symbols", [("symbol", "symbol"), ("reason", "reason")], blocked)
    alerts = list(state.get("alerts") or [])
    print_table("Alerts", [("time", "at"), ("message", "message")], alerts)
