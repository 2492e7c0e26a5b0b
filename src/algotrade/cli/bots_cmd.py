"""``algotrade bots``: manage the bots of a running daemon through its REST and WebSocket API.

Every error is one line on stderr: exit 2 when the request itself was wrong (unknown bot, bad
config, a command the bot's state does not allow: HTTP 400/404/409/422), exit 1 otherwise
(daemon unreachable, missing or read-only API key, daemon-side failure).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import typer

from algotrade.cli import bots_render as render
from algotrade.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, fail, parse_decimal
from algotrade.client import (
    AlgoTradeClient,
    ApiError,
    AsyncAlgoTradeClient,
    ClientError,
    DaemonUnreachable,
    StreamClosedError,
)
from algotrade.core.errors import AlgoTradeError, InputError
from algotrade.daemon.bot_config import BOT_ID_PATTERN, ExecutionMode, FeedKind, VenueKind
from algotrade.daemon.bus import ALL_BOTS, Topic

DEFAULT_DAEMON_URL = "http://127.0.0.1:8080"
DEFAULT_TOPICS = (Topic.STATUS, Topic.ORDERS, Topic.FILLS)
# 4xx answers that are not about the request's content: retry with a key, or later.
_NOT_INPUT_STATUSES = frozenset({401, 403, 408, 429})
_CLOSE_MEANINGS = {
    1012: "the daemon is shutting down or restarting",
    1013: "this client read too slowly and fell behind the event stream",
}
T = TypeVar("T")

bots_app = typer.Typer(
    name="bots",
    help="Manage the bots of a running daemon over its API: list, create, start, watch, ...",
    no_args_is_help=True,
)


@dataclass(frozen=True, slots=True)
class _Options:
    daemon_url: str
    api_key: str | None
    json: bool


def _check_bot_id(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(BOT_ID_PATTERN, value):
        raise typer.BadParameter(
            f"{value!r} is not a bot id (letters, digits, _ . -; at most 64 characters)"
        )
    return value


BotId = Annotated[str, typer.Argument(metavar="BOT_ID", callback=_check_bot_id)]
JsonFlag = Annotated[bool, typer.Option("--json", help="print the API's JSON answer")]
Offset = Annotated[int, typer.Option(min=0, help="records to skip (oldest first)")]
Limit = Annotated[int, typer.Option(min=1, max=1000, help="page size (at most 1000)")]


@bots_app.callback()
def bots_options(
    ctx: typer.Context,
    daemon_url: Annotated[
        str, typer.Option(envvar="ALGOTRADE_DAEMON_URL", help="the daemon's API base URL")
    ] = DEFAULT_DAEMON_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="ALGOTRADE_API_KEY",
            show_default=False,
            help="API key (prefer the env var: arguments are visible to other local users)",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="machine-readable output: the API's JSON as is")
    ] = False,
) -> None:
    """Manage the bots of a running daemon over its REST and WebSocket API."""
    parts = urlsplit(daemon_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"--daemon-url: expected http://HOST:PORT or https://..., got {daemon_url!r}")
    ctx.obj = _Options(daemon_url.strip(), api_key or None, json_output)


def _options(ctx: typer.Context) -> _Options:
    obj = ctx.find_object(_Options)
    return obj if obj is not None else _Options(DEFAULT_DAEMON_URL, None, False)


def _wants_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or _options(ctx).json


def exit_code_for(status: int) -> int:
    """2 when the request's content was wrong (fix the input), 1 for everything else."""
    bad_input = 400 <= status < 500 and status not in _NOT_INPUT_STATUSES
    return EXIT_BAD_INPUT if bad_input else EXIT_FAILURE


_STATUS_HINTS = {401: " (pass --api-key or set ALGOTRADE_API_KEY)", 403: " (needs an admin key)"}


@contextmanager
def client_errors() -> Iterator[None]:
    """Errors of a daemon client command (``bots``, ``risk``, ``venues``) → one line on stderr
    and the exit code; never a traceback."""
    try:
        yield
    except ApiError as exc:
        hint = _STATUS_HINTS.get(exc.status, "")
        # A refused WebSocket's reason already starts with the code ("unauthorized: ...").
        message = exc.message.removeprefix(f"{exc.code}: ")
        fail(f"{exc.status} {exc.code}: {message}{hint}", exit_code_for(exc.status))
    except DaemonUnreachable as exc:
        fail(
            f"{exc}; is the daemon running? (start it with 'algotrade daemon', or point "
            "--daemon-url / ALGOTRADE_DAEMON_URL at it)",
            EXIT_FAILURE,
        )
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except StreamClosedError as exc:
        fail(f"{exc} ({_CLOSE_MEANINGS.get(exc.code, 'connection ended')})", EXIT_FAILURE)
    except AlgoTradeError as exc:  # ClientError and the rest of the tree
        fail(str(exc), EXIT_FAILURE)
    except BrokenPipeError:
        _quiet_broken_pipe()


def _quiet_broken_pipe() -> NoReturn:
    # The reader (``| head``) left: stop quietly, and keep Python's final flush from failing.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)


def _call(ctx: typer.Context, request: Callable[[AlgoTradeClient], T]) -> T:
    options = _options(ctx)
    with client_errors(), AlgoTradeClient(options.daemon_url, options.api_key) as client:
        return request(client)


def _show(ctx: typer.Context, json_flag: bool, data: Any, human: Callable[[Any], None]) -> None:
    with client_errors():
        if _wants_json(ctx, json_flag):
            render.print_json(data)
        else:
            human(data)


# -- reading and listing -------------------------------------------------------------------


@bots_app.command("list")
def list_bots(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Every bot: state, SIM marker, position, equity, PnL, orders, fills, heartbeat, error."""
    _show(ctx, json_flag, _call(ctx, lambda c: c.list_bots()), render.bots_table)


@bots_app.command()
def show(ctx: typer.Context, bot_id: BotId, json_flag: JsonFlag = False) -> None:
    """One bot's status and config."""
    _show(ctx, json_flag, _call(ctx, lambda c: c.get_bot(bot_id)), render.bot_detail)


@bots_app.command()
def orders(
    ctx: typer.Context,
    bot_id: BotId,
    limit: Limit = 100,
    offset: Offset = 0,
    json_flag: JsonFlag = False,
) -> None:
    """A page of the bot's orders, oldest first."""
    page = _call(ctx, lambda c: c.orders(bot_id, offset=offset, limit=limit))
    _show(ctx, json_flag, page, render.orders_table)


@bots_app.command()
def fills(
    ctx: typer.Context,
    bot_id: BotId,
    limit: Limit = 100,
    offset: Offset = 0,
    json_flag: JsonFlag = False,
) -> None:
    """A page of the bot's fills, oldest first."""
    page = _call(ctx, lambda c: c.fills(bot_id, offset=offset, limit=limit))
    _show(ctx, json_flag, page, render.fills_table)


@bots_app.command()
def positions(ctx: typer.Context, bot_id: BotId, json_flag: JsonFlag = False) -> None:
    """The bot's positions (committed state)."""
    _show(ctx, json_flag, _call(ctx, lambda c: c.positions(bot_id)), render.positions_table)


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
        FeedKind | None,
        typer.Option(help="sim: SIMULATED prices; replay: a data file; hyperliquid: live candles"),
    ] = None,
    venue: Annotated[
        VenueKind | None,
        typer.Option(help="paper: simulated fills; hyperliquid: real orders (needs --mode live)"),
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
    json_flag: JsonFlag = False,
) -> None:
    """Create a bot (stopped) from a config file or flags."""
    with client_errors():
        flags: dict[str, Any] = {
            "bot_id": bot_id,
            "symbol": symbol,
            "strategy": strategy,
            "feed": feed.value if feed is not None else None,
            "venue": venue.value if venue is not None else None,
            "mode": mode.value if mode is not None else None,
            "interval": interval,
            "initial_capital": capital and str(parse_decimal("--capital", capital)),
            "commission": commission and str(parse_decimal("--commission", commission)),
            "auto_resume": True if auto_resume else None,
        }
        config = build_config(file, flags, param or [], feed_option or [])
    status = _call(ctx, lambda c: c.create_bot(config))
    _show(ctx, json_flag, status, _print_created)


def _print_created(status: dict[str, Any]) -> None:
    render.write_line(render.status_line(status, "created "))
    render.write_line(f"start it with: algotrade bots start {status.get('bot_id')}")


# -- control -------------------------------------------------------------------------------


def _control_command(name: str, method: Callable[[AlgoTradeClient, str], Any], doc: str) -> None:
    def command(ctx: typer.Context, bot_id: BotId, json_flag: JsonFlag = False) -> None:
        status = _call(ctx, lambda client: method(client, bot_id))
        _show(ctx, json_flag, status, lambda s: render.write_line(render.status_line(s)))

    command.__doc__ = doc
    bots_app.command(name)(command)


_control_command("start", AlgoTradeClient.start_bot, "Start a stopped (or failed) bot.")
_control_command(
    "stop", AlgoTradeClient.stop_bot, "Stop a running or paused bot (positions stay open)."
)
_control_command(
    "pause",
    AlgoTradeClient.pause_bot,
    "Pause a running bot: it keeps receiving prices but sends no new orders.",
)
_control_command("resume", AlgoTradeClient.resume_bot, "Resume a paused bot.")


@bots_app.command()
def delete(
    ctx: typer.Context,
    bot_id: BotId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Delete a bot with its orders, fills, positions and equity history."""
    if not yes:
        if not sys.stdin.isatty():
            fail(f"bots delete: not deleting bot '{bot_id}' without confirmation; pass --yes")
        question = f"Delete bot '{bot_id}' with its orders, fills, positions and equity history?"
        if not typer.confirm(question, default=False):
            fail(f"aborted: bot '{bot_id}' not deleted", EXIT_FAILURE)
    _call(ctx, lambda c: c.delete_bot(bot_id))
    # The API answers 204 without a body; --json gets what the event stream says instead.
    _show(
        ctx,
        json_flag,
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
    json_flag: Annotated[
        bool, typer.Option("--json", help="every server message as one raw JSON line")
    ] = False,
) -> None:
    """Stream live events as lines until Ctrl-C."""
    topics = list(dict.fromkeys(topic or DEFAULT_TOPICS))
    as_json = _wants_json(ctx, json_flag)
    try:
        with client_errors():
            asyncio.run(_watch(_options(ctx), topics, bot_id or ALL_BOTS, as_json))
    except KeyboardInterrupt:
        return  # Ctrl-C is how a watch ends: exit 0, no message


async def _watch(options: _Options, topics: list[Topic], bot_id: str, as_json: bool) -> None:
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
