"""``algotrade risk``: replay risk rules offline, and read or unlock a running daemon's accounts.

``replay`` needs no daemon: it runs a JSONL event file through the risk engine (event time is
the clock) and prints breaches, lockouts and rejected orders. ``status``, ``lockouts``, ``log``
and ``unlock`` are clients of the daemon's ``/api/risk`` API, with the client options before or
after the subcommand name (``cli.daemon_client``). Every error is one line on stderr: exit 2
for bad input (a bad file, an unknown account: HTTP 400/404/409/422), exit 1 otherwise (daemon
unreachable, missing key, a trader key where an admin key is needed). Money is shown to the
cent (``bots_render.money``); ``--json`` is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from algotrade.atomic_file import write_atomic
from algotrade.cli.bots_render import money, print_json
from algotrade.cli.console import out_console
from algotrade.cli.daemon_client import (
    ApiKey,
    ClientOptions,
    DaemonUrl,
    Json,
    add_client_options,
    call,
    client_errors,
    client_options,
)
from algotrade.cli.errors import fail
from algotrade.core.errors import InputError

if TYPE_CHECKING:
    from algotrade.client import AlgoTradeClient

# store.records_risk.LOG_KINDS (a test keeps them equal): the store package loads SQLAlchemy,
# and the option's help needs only the names. The client, the replay and the store are
# imported when a command runs.
LOG_KINDS: tuple[str, ...] = (
    "breach",
    "lockout",
    "unlock",
    "expiry",
    "reset",
    "enforcement",
    "alert",
    "rules_change",
)

DASH = "–"
PAGE = 1000  # the API's largest page

risk_app = typer.Typer(
    name="risk",
    help="Account risk: replay rules over an event file; status, lockouts, log, unlock.",
    no_args_is_help=True,
)
add_client_options(risk_app)

AccountOption = Annotated[str | None, typer.Option("--account", help="only this account")]


# -- errors and output ---------------------------------------------------------------------


def _text(value: object) -> Text:
    """A cell: never parsed as rich markup (messages may contain ``[...]``)."""
    return Text(DASH if value is None or value == "" else str(value))


Row = dict[str, Any]
_MIN_WIDTH = {"time": 20}  # a whole ISO time; the rest may fold
Column = tuple[str, str | Callable[[Row], object]]  # header, key or getter


def print_table(title: str, columns: Sequence[Column], items: Sequence[Row]) -> None:
    if not items:
        out_console(highlight=False).print(Text(f"{title}: none"))
        return
    table = Table(title=Text(f"{title} ({len(items)})"), title_justify="left")
    for header, _ in columns:
        table.add_column(header, overflow="fold", min_width=_MIN_WIDTH.get(header))
    for item in items:
        table.add_row(
            *(_text(item[get] if isinstance(get, str) else get(item)) for _, get in columns)
        )
    out_console(highlight=False).print(table)


def print_line(text: str) -> None:
    out_console(highlight=False).print(Text(text))


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as JSON (sorted keys, indent 1), written whole or not at all."""
    text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as backtest's outputs do
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"--json: cannot write {path}: {exc.strerror or exc}") from None


# -- replay --------------------------------------------------------------------------------


@risk_app.command()
def replay(
    ctx: typer.Context,
    events: Annotated[Path, typer.Option("--events", help="account events, JSONL")],
    accounts: Annotated[Path, typer.Option("--accounts", help="accounts.yaml")],
    rules: Annotated[Path, typer.Option("--rules", help="risk.yaml")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the whole result as JSON here")
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            show_default=False,
            help="persist into this empty database (SQLite or PostgreSQL URL); "
            "default: a temporary SQLite file",
        ),
    ] = None,
) -> None:
    """Run an event file through the risk rules (event time is the clock) and report."""
    group = ctx.find_object(ClientOptions)
    if group is not None and group.json:
        fail("risk replay: --json takes a file to write the result to: risk replay ... --json OUT")
    from algotrade.risk.config_loader import load_risk_config  # noqa: PLC0415
    from algotrade.risk.event_codec import read_events  # noqa: PLC0415
    from algotrade.risk.replay import replay as run_replay  # noqa: PLC0415

    with client_errors():
        config = load_risk_config(accounts, rules)
        loaded = list(read_events(events))  # the whole file is checked before anything runs
        result = run_replay(loaded, config, db_url=db_url)
        if json_out is not None:
            write_json_atomic(json_out, result)
    print_replay(result)
    if json_out is not None:
        print_line(f"wrote {json_out}")


def print_replay(result: dict[str, Any]) -> None:
    counts = result["counts"]
    print_line(
        f"replayed {counts['events']} events ({counts['order_intents']} order intents): "
        f"{counts['breaches']} breaches, {counts['lockouts']} lockouts "
        f"({counts['active_lockouts']} still active), {counts['rejections']} rejected orders, "
        f"{counts['resets']} daily resets"
    )
    print_table("Breaches", BREACH_COLUMNS, result["breaches"])
    print_table("Lockouts", LOCKOUT_COLUMNS, result["lockouts"])
    print_table("Rejected orders", REJECTION_COLUMNS, result["rejections"])
    brief = [c for c in ACCOUNT_COLUMNS if c[0] not in ("fees", "open risk", "venue", "watch")]
    print_table("Accounts", brief, list(result["accounts"].values()))


def _happened(breach: Row) -> str:
    """The message, then what it asked for: actions and the lockout."""
    parts = []
    for action in breach["actions"]:
        what = " ".join(p for p in (action["kind"], action["symbol"]) if p)
        parts.append(what + (f" {action['qty']}" if action["qty"] not in ("0", None) else ""))
    lock = breach["lockout"]
    if lock is not None:
        parts.append(f"locked until {_until(lock['until'], lock['until_at'])}")
    return str(breach["message"]) + ("\n→ " + "; ".join(parts) if parts else "")


def _until(kind: str, at: str | None) -> str:
    if kind == "manual":
        return "manual unlock"
    return f"{at or '?'}" + (" (daily reset)" if kind == "reset" else "")


def _period(since: str | None, kind: str, until: str | None) -> str:
    return f"{since}\n{_until(kind, until)}"


def _state(lock: Row) -> str:
    if lock["active"]:
        return "active"
    why = lock["clear_reason"]
    return f"cleared {lock['cleared_at']} by {lock['cleared_by']}" + (
        f": {why}" if why and why != lock["cleared_by"] else ""
    )


def _order(intent: Row) -> str:
    bot = f" ({intent['bot_id']})" if intent["bot_id"] else ""
    return f"{intent['side']} {intent['qty']} {intent['symbol']}{bot}"


def _watch(watch: Row | None) -> str | None:
    """A watched account's connection to its venue (accounts.yaml ``watch``); None for the
    accounts bots trade."""
    if watch is None:
        return None
    where = f"{watch['venue']} {watch['venue_account']}: {watch['state']}"
    if watch.get("error"):
        where += f" ({watch['error']})"
    if watch.get("last_event_at"):
        where += f"\nlast {watch['last_event']} {watch['last_event_at']}"
    return where


def _positions(snapshot: Row) -> str:
    held = snapshot["positions"].items()
    return ", ".join(f"{symbol} {p['qty']} @ {p['avg_price']}" for symbol, p in held) or "flat"


BREACH_COLUMNS: tuple[Column, ...] = (
    ("time", "ts"),
    ("account", "account_id"),
    ("rule", "rule"),
    ("what happened", _happened),
)
LOCKOUT_COLUMNS: tuple[Column, ...] = (
    ("account", "account_id"),
    ("rule", "rule"),
    ("since / until", lambda lock: _period(lock["start_at"], lock["until_kind"], lock["until_at"])),
    ("reason", lambda lock: f"{lock['reason']}\n→ {_state(lock)}"),
)
REJECTION_COLUMNS: tuple[Column, ...] = (
    ("time", "ts"),
    ("account", "account_id"),
    ("order", _order),
    ("reason", "reason"),
)
ACCOUNT_COLUMNS: tuple[Column, ...] = (
    ("account", "account_id"),
    ("day", "trading_day"),
    ("balance", lambda s: money(s["balance"])),
    ("equity", lambda s: money(s["equity"])),
    ("daily PnL", lambda s: money(s["daily_realized_pnl"])),
    ("fees", lambda s: money(s["daily_fees"])),
    ("trades", "trades_today"),
    ("open risk", lambda s: money(s["open_risk"])),
    ("positions", _positions),
    ("venue", lambda s: "ok" if s["can_trade"] and s["connected"] else "restricted"),
    ("locked by", lambda s: ", ".join(lock["rule"] for lock in s["lockouts"])),
    ("watch", lambda s: _watch(s.get("watch"))),
)
ACTIVE_COLUMNS: tuple[Column, ...] = (
    ("rule", "rule"),
    (
        "since / until",
        lambda lock: _period(_ns(lock["start_ts"]), lock["until"], _ns(lock["until_ts"])),
    ),
    ("reason", "reason"),
)
LOG_COLUMNS: tuple[Column, ...] = (
    ("time", "timestamp"),
    ("account", "account_id"),
    ("kind", "kind"),
    ("rule", "rule"),
    ("action", lambda line: " ".join(p for p in (line["action"], line["symbol"]) if p)),
    ("qty", "qty"),
    ("status", "status"),
    ("message", "message"),
)


def _ns(ns: int | None) -> str | None:
    from algotrade.risk.event_codec import format_ts  # noqa: PLC0415

    return None if ns is None else format_ts(ns)


# -- daemon clients ------------------------------------------------------------------------


@risk_app.command()
def status(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Argument(metavar="[ACCOUNT]", help="one account (default all)")
    ] = None,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Accounts' risk state: balance, daily PnL, positions, lockouts."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    if account is None:
        snapshots = call(options, lambda c: c.risk_accounts())
        if options.json:
            print_json(snapshots)
        else:
            print_table("Accounts", ACCOUNT_COLUMNS, snapshots)
        return
    snapshot = call(options, lambda c: c.risk_account(account))
    if options.json:
        print_json(snapshot)
        return
    print_table("Account", ACCOUNT_COLUMNS, [snapshot])
    print_table(f"Active lockouts of {account}", ACTIVE_COLUMNS, snapshot["lockouts"])


@risk_app.command()
def lockouts(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="cleared lockouts too")] = False,
    account: AccountOption = None,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Lockouts, oldest first: active ones (or, with --all, every one)."""
    options = client_options(ctx, daemon_url, api_key, json_flag)

    def fetch(client: AlgoTradeClient) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = client.risk_lockouts(
                account, active_only=not all_, offset=len(items), limit=PAGE
            )
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                return items

    items = call(options, fetch)
    if options.json:
        print_json(items)
    else:
        print_table("Lockouts", LOCKOUT_COLUMNS, items)


@risk_app.command()
def log(
    ctx: typer.Context,
    account: AccountOption = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help=f"only these kinds; repeat ({', '.join(LOG_KINDS)})"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=PAGE, help="the newest N lines")] = 50,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """The newest lines of the risk log (breaches, lockouts, enforcements, ...), oldest first."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    unknown = [k for k in kind or [] if k not in LOG_KINDS]
    if unknown:
        fail(f"--kind: unknown kind {unknown[0]!r}; use one of {', '.join(LOG_KINDS)}")
    kinds = list(dict.fromkeys(kind)) if kind else None

    def fetch(client: AlgoTradeClient) -> dict[str, Any]:
        page = client.risk_enforcements(account, kinds=kinds, limit=limit)
        if page["total"] > limit:  # the newest ``limit`` lines
            page = client.risk_enforcements(
                account, kinds=kinds, offset=page["total"] - limit, limit=limit
            )
        return page

    page = call(options, fetch)
    if options.json:
        print_json(page)
        return
    print_table("Risk log", LOG_COLUMNS, page["items"])
    if page["total"] > len(page["items"]):
        print_line(f"the newest {len(page['items'])} of {page['total']} lines; see --limit")


@risk_app.command()
def unlock(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="the account to unlock")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    rule: Annotated[str | None, typer.Option("--rule", help="only this rule's lockouts")] = None,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Clear an account's lockouts (admin key only; audited). A lockout until the daily reset
    stays lifted until that reset even if its limit is still exceeded."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    if not reason.strip():
        fail("--reason: give a reason (it goes into the audit log)")
    answer = call(options, lambda c: c.risk_unlock(account, reason.strip(), rule))
    if options.json:
        print_json(answer)
    elif answer["cleared"]:
        print_line(f"unlocked {account}: cleared {', '.join(answer['cleared'])}")
    else:
        print_line(f"{account}: no active lockout" + (f" of {rule}" if rule else "") + " to clear")
