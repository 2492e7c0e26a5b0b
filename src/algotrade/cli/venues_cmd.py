"""``algotrade venues``: a running daemon's live venue connections, and reconciling one now.

Clients of the daemon's ``/api/venues`` API, with the client options before or after the
subcommand name (``cli.daemon_client``); errors are one line on stderr (exit 2 for bad input
such as a venue that is not connected, exit 1 otherwise), like ``algotrade risk``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from algotrade.cli.bots_render import print_json
from algotrade.cli.daemon_client import (
    ApiKey,
    ClientOptions,
    DaemonUrl,
    Json,
    add_client_options,
    call,
    client_options,
)
from algotrade.cli.risk_cmd import print_line, print_table
from algotrade.core.errors import InputError

venues_app = typer.Typer(
    name="venues",
    help="Live venues of a running daemon: connection, reconciliation, blocks, alerts.",
    no_args_is_help=True,
)
add_client_options(venues_app)


VenueOption = Annotated[
    str | None, typer.Option("--venue", help="only this venue (a registered name)")
]


@venues_app.command()
def status(
    ctx: typer.Context,
    venue: VenueOption = None,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Connection, last reconciliation, blocked symbols and recent alerts of each venue."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    states = call(options, lambda client: client.venues())
    if venue is not None:
        states = [s for s in states if s.get("venue") == venue]
    if options.json:
        print_json(states)
        return
    if not states:
        if venue is not None:
            print_line(f"venue '{venue}' is not connected (no bot uses it yet)")
        else:
            print_line("no live venue is connected (no bot uses one yet)")
    for state in states:
        print_state(state)


@venues_app.command()
def reconcile(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="VENUE", help="the venue, e.g. hyperliquid (or --venue)"),
    ] = None,
    venue: VenueOption = None,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Reconcile positions, open orders and fills now (admin key); prints the result."""
    if name is not None and venue is not None and name != venue:
        raise InputError(f"--venue: {venue!r} differs from the argument {name!r}; give one")
    chosen = name or venue
    if chosen is None:
        raise InputError("Missing argument 'venue' (give VENUE or --venue NAME)")
    options = client_options(ctx, daemon_url, api_key, json_flag)
    state = _reconcile(options, chosen)
    if options.json:
        print_json(state)
    else:
        print_state(state)


def _reconcile(options: ClientOptions, venue: str) -> dict[str, Any]:
    return call(options, lambda client: client.reconcile_venue(venue))


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
