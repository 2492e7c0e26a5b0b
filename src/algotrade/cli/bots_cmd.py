"""``algotrade bots``: manage the bots of a running daemon through its REST and WebSocket API.

The client options (``--daemon-url``, ``--api-key``, ``--json``) go before or after the
subcommand name, and every error is one line on stderr: see ``cli.daemon_client``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algotrade.cli import bots_render as render
from algotrade.cli.bots_promote_cmd import create_from
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
from algotrade.cli.errors import EXIT_FAILURE, fail, parse_decimal
from algotrade.core.errors import InputError
from algotrade.daemon.bus import ALL_BOTS, Topic

if TYPE_CHECKING:
    from algotrade.client import AlgoTradeClient

# The client (httpx, websockets) is imported when a command calls the daemon; the bot config
# model (pydantic, the venue registry) not at all. Its id pattern and modes are repeated here
# (a test keeps them equal to daemon.bot_config's): ``bots --help`` needs only these.
BOT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class ExecutionMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


DEFAULT_TOPICS = (Topic.STATUS, Topic.ORDERS, Topic.FILLS)

bots_app = typer.Typer(
    name="bots",
    help="Manage the bots of a running daemon over its API: list, create, start, watch, ...",
    no_args_is_help=True,
)
add_client_options(bots_app)


def _check_bot_id(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(BOT_ID_PATTERN, value):
        raise typer.BadParameter(
            f"{value!r} is not a bot id (letters, digits, _ . -; at most 64 characters)"
        )
    return value


BotId = Annotated[str, typer.Argument(metavar="BOT_ID", callback=_check_bot_id)]
Offset = Annotated[
    int,
    typer.Option(min=0, help="records to skip, counted from the newest (or the oldest)"),
]
Limit = Annotated[int, typer.Option(min=1, max=1000, help="page size (at most 1000)")]
OldestFirst = Annotated[
    bool, typer.Option("--oldest-first", help="oldest records first (default: newest first)")
]


def _show(options: ClientOptions, data: Any, human: Callable[[Any], None]) -> None:
    with client_errors():
        if options.json:
            render.print_json(data)
        else:
            human(data)


# -- reading and listing -------------------------------------------------------------------


@bots_app.command("list")
def list_bots(
    ctx: typer.Context,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Every bot: state, SIM marker, position, equity, PnL, orders, fills, heartbeat, error."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    _show(options, call(options, lambda c: c.list_bots()), render.bots_table)


@bots_app.command()
def show(
    ctx: typer.Context,
    bot_id: BotId,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """One bot's status and config."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    _show(options, call(options, lambda c: c.get_bot(bot_id)), render.bot_detail)


@bots_app.command()
def config(
    ctx: typer.Context,
    bot_id: BotId,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """The bot's stored config (what 'bots create' was given, with defaults filled in)."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    stored = call(options, lambda c: c.get_bot(bot_id))["config"]
    _show(options, stored, render.config_detail)


def _client_method(name: str) -> Callable[..., Any]:
    """``AlgoTradeClient.<name>``, looked up on the client it is called with (the client
    module is not imported when the commands are defined)."""

    def invoke(client: AlgoTradeClient, *args: Any, **kwargs: Any) -> Any:
        return getattr(client, name)(*args, **kwargs)

    return invoke


def _history_command(
    what: str, read: Callable[..., dict[str, Any]], human: Callable[[Any], None], doc: str
) -> None:
    """``orders``, ``fills`` and ``equity``: a page of the bot's records, newest first."""

    def command(
        ctx: typer.Context,
        bot_id: BotId,
        limit: Limit = 20 if what == "equity" else 100,
        offset: Offset = 0,
        oldest_first: OldestFirst = False,
        daemon_url: DaemonUrl = None,
        api_key: ApiKey = None,
        json_flag: Json = False,
    ) -> None:
        options = client_options(ctx, daemon_url, api_key, json_flag)
        page = call(
            options,
            lambda c: read(c, bot_id, offset, limit, newest_first=not oldest_first),
        )
        _show(options, page, human)

    command.__doc__ = doc
    bots_app.command(what)(command)


_history_command(
    "orders", _client_method("orders"), render.orders_table, "A page of the bot's orders."
)
_history_command("fills", _client_method("fills"), render.fills_table, "A page of the bot's fills.")
_history_command(
    "equity",
    _client_method("equity"),
    render.equity_table,
    "The bot's recent equity snapshots: equity, cash, PnL, fees.",
)


@bots_app.command()
def positions(
    ctx: typer.Context,
    bot_id: BotId,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """The bot's positions (committed state)."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    _show(options, call(options, lambda c: c.positions(bot_id)), render.positions_table)


# -- creating ------------------------------------------------------------------------------


def _merged_mapping(config: dict[str, Any], key: str, option: str, pairs: list[str]) -> None:
    if not pairs:
        return
    base = config.get(key, {})
    if not isinstance(base, dict):
        raise InputError(f"{key}: expected a mapping in the config file, cannot add {option}")
    config[key] = {**base, **render.parse_pairs(option, pairs)}


def build_config(
    file: Path | None,
    flags: dict[str, Any],
    params: list[str],
    feed_options: list[str],
) -> dict[str, Any]:
    """The bot config to send: the file's fields, overridden by the flags given."""
    config = render.read_config_file(file) if file is not None else {}
    config.update({key: value for key, value in flags.items() if value is not None})
    _merged_mapping(config, "params", "--param", params)
    _merged_mapping(config, "feed_options", "--feed-option", feed_options)
    required = (("bot_id", "--id"), ("symbol", "--symbol"), ("strategy", "--strategy"))
    missing = [flag for key, flag in required if key not in config]
    if missing:
        raise InputError(f"bots create: missing {', '.join(missing)} (give them or --file)")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bot config: {exc}") from None
    return config


@bots_app.command()
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="bot config as .json/.toml/.yaml; flags override it"),
    ] = None,
    bot_id: Annotated[str | None, typer.Option("--id", help="unique bot id")] = None,
    symbol: Annotated[str | None, typer.Option(help="symbol to trade, e.g. SIM-BTC")] = None,
    strategy: Annotated[str | None, typer.Option(help="built-in name or a .py path")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="strategy parameter k=v; repeat")
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(
            help="sim: SIMULATED prices; replay: a data file; a live venue (e.g. hyperliquid): "
            "its live candles"
        ),
    ] = None,
    venue: Annotated[
        str | None,
        typer.Option(
            help="paper: simulated fills; a live venue (e.g. hyperliquid): real orders "
            "(needs --mode live)"
        ),
    ] = None,
    mode: Annotated[
        ExecutionMode | None, typer.Option(help="paper or live (real orders on a live venue)")
    ] = None,
    feed_option: Annotated[
        list[str] | None,
        typer.Option(help="feed option k=v; repeat (sim: seed, tick_seconds, ...)"),
    ] = None,
    interval: Annotated[str | None, typer.Option(help="bar interval: 1s, 1m, 5m, 1h, 1d")] = None,
    capital: Annotated[str | None, typer.Option(help="initial capital (paper money)")] = None,
    commission: Annotated[
        str | None, typer.Option(help="fee rate per fill, fraction of notional")
    ] = None,
    auto_resume: Annotated[
        bool, typer.Option("--auto-resume", help="run it again after a daemon restart")
    ] = False,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Create a bot (stopped) from a config file or flags."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    with client_errors():
        flags: dict[str, Any] = {
            "bot_id": bot_id,
            "symbol": symbol,
            "strategy": strategy,
            "feed": feed,
            "venue": venue,
            "mode": mode.value if mode is not None else None,
            "interval": interval,
            "initial_capital": capital and str(parse_decimal("--capital", capital)),
            "commission": commission and str(parse_decimal("--commission", commission)),
            "auto_resume": True if auto_resume else None,
        }
        config = build_config(file, flags, param or [], feed_option or [])
    status = call(options, lambda c: c.create_bot(config))
    _show(options, status, _print_created)


def _print_created(status: dict[str, Any]) -> None:
    render.write_line(render.status_line(status, "created "))
    render.write_line(f"start it with: algotrade bots start {status.get('bot_id')}")


# -- control -------------------------------------------------------------------------------


def _control_command(name: str, method: Callable[..., Any], doc: str) -> None:
    def command(
        ctx: typer.Context,
        bot_id: BotId,
        daemon_url: DaemonUrl = None,
        api_key: ApiKey = None,
        json_flag: Json = False,
    ) -> None:
        options = client_options(ctx, daemon_url, api_key, json_flag)
        status = call(options, lambda client: method(client, bot_id))
        _show(options, status, lambda s: render.write_line(render.status_line(s)))

    command.__doc__ = doc
    bots_app.command(name)(command)


_control_command("start", _client_method("start_bot"), "Start a stopped (or failed) bot.")
_control_command(
    "stop", _client_method("stop_bot"), "Stop a running or paused bot (positions stay open)."
)
_control_command(
    "pause",
    _client_method("pause_bot"),
    "Pause a running bot: it keeps receiving prices but sends no new orders.",
)
_control_command("resume", _client_method("resume_bot"), "Resume a paused bot.")


@bots_app.command()
def delete(
    ctx: typer.Context,
    bot_id: BotId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Delete a bot with its orders, fills, positions and equity history."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    if not yes:
        if not sys.stdin.isatty():
            fail(f"bots delete: not deleting bot '{bot_id}' without confirmation; pass --yes")
        question = f"Delete bot '{bot_id}' with its orders, fills, positions and equity history?"
        if not typer.confirm(question, default=False):
            fail(f"aborted: bot '{bot_id}' not deleted", EXIT_FAILURE)
    call(options, lambda c: c.delete_bot(bot_id))
    # The API answers 204 without a body; --json gets what the event stream says instead.
    _show(
        options,
        {"bot_id": bot_id, "deleted": True},
        lambda _: render.write_line(f"deleted bot '{bot_id}'"),
    )


# -- live events ---------------------------------------------------------------------------


@bots_app.command()
def watch(
    ctx: typer.Context,
    bot_id: Annotated[
        str | None,
        typer.Argument(metavar="[BOT_ID]", callback=_check_bot_id, help="one bot (default all)"),
    ] = None,
    topic: Annotated[
        list[Topic] | None,
        typer.Option("--topic", "-t", help="repeat; default: status, orders, fills"),
    ] = None,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Stream live events as lines until Ctrl-C (--json: every server message as a line)."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    topics = list(dict.fromkeys(topic or DEFAULT_TOPICS))
    try:
        with client_errors():
            asyncio.run(_watch(options, topics, bot_id or ALL_BOTS))
    except KeyboardInterrupt:
        return  # Ctrl-C is how a watch ends: exit 0, no message


async def _watch(options: ClientOptions, topics: list[Topic], bot_id: str) -> None:
    from algotrade.client import AsyncAlgoTradeClient, ClientError  # noqa: PLC0415 (lazy)

    as_json = options.json
    async with AsyncAlgoTradeClient(options.daemon_url, options.api_key) as client:
        subscribed = False
        async for message in client.watch(topics, bot_id):
            kind = message.get("type")
            if kind == "error":
                error = message.get("error") or {}
                text = f"{error.get('code', 'error')}: {error.get('message', '')}"
                if not subscribed:  # the subscription was refused: nothing will ever come
                    if error.get("code") == "not_found":
                        raise InputError(text)
                    raise ClientError(text)
                sys.stderr.write(f"warning: {text}\n")
                continue
            if kind == "subscribed" and not subscribed:
                subscribed = True
                if not as_json:
                    whose = "all bots" if bot_id == ALL_BOTS else f"bot '{bot_id}'"
                    names = ", ".join(str(t) for t in topics)
                    sys.stderr.write(f"watching {names} of {whose} (Ctrl-C to stop)\n")
                    sys.stderr.flush()
            if as_json:
                render.write_line(json.dumps(message, separators=(",", ":"), ensure_ascii=False))
            else:
                for line in render.message_lines(message):
                    render.write_line(line)


bots_app.command("create-from")(create_from)
