"""Text in and out of ``algotrade bots``: JSON as the API sent it, rich tables, one-line live
events; and the other way, bot configs from files and ``key=value`` options.

Values from the daemon are wrapped in ``Text`` (never parsed as rich markup: a bot's last error
may well contain ``[...]``).

Display precision: money amounts (equity, cash, PnL, fees, balances) are shown to
``MONEY_PLACES`` decimals, rounded half up (``money``); prices and quantities as the API sends
them (already on the instrument's tick and lot). ``--json`` prints the API's exact values.
"""

from __future__ import annotations

import json
import math
import sys
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from algotrade.cli.errors import parse_params
from algotrade.cli.records_table import DASH, Column, Getter, cell_text, records_table
from algotrade.core.errors import InputError

MONEY_PLACES = 2
_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_MONEY_MAX_DIGITS = 18  # integer digits shown in full
# Money fields of a bot status (and of an equity snapshot) that are rounded for display.
MONEY_FIELDS = frozenset(
    {
        "equity",
        "cash",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "pnl",
        "pnl_today",
        "initial_capital",
    }
)
SIM_NOTE = "SIM = simulated prices or fills (sim feed / paper venue): no real money, no exchange"
_STATE_STYLES = {"running": "green", "paused": "yellow", "stopped": "dim", "error": "bold red"}
_LAST_ERROR_WIDTH = 40
_CONFIG_SUFFIXES = (".json", ".toml", ".yaml", ".yml")


def write_line(line: str) -> None:
    """One line on stdout, flushed at once (``watch`` output is read while it runs)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def print_json(data: Any) -> None:
    write_line(json.dumps(data, indent=2, ensure_ascii=False))


def _console() -> Console:
    return Console(highlight=False)


_text = cell_text


def _state(state: object) -> Text:
    return _text(state, _STATE_STYLES.get(str(state), ""))


def money(value: object) -> str:
    """A money amount for display: ``MONEY_PLACES`` decimals, rounded half up (``"12.35"``;
    ``"0.00"`` for what rounds to zero, never ``"-0.00"``). Text that is not a finite number
    is shown as it came, an absurd magnitude in E-notation; nothing is shown for None."""
    if value is None or value == "":
        return DASH
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    if amount and amount.adjusted() >= _MONEY_MAX_DIGITS:
        return f"{amount:.3e}"  # fixed-point would print every digit of 1e999999999
    with localcontext() as context:
        context.prec = _MONEY_MAX_DIGITS + MONEY_PLACES + 2
        context.rounding = ROUND_HALF_UP
        rounded = amount.quantize(_MONEY_QUANTUM)
    return f"{abs(rounded) if rounded.is_zero() else rounded:f}"


def _signed(value: Decimal) -> Text:
    """A money change: ``+12.35`` green, ``-3.46`` red, ``0.00`` when it rounds to nothing."""
    if not value.is_finite():
        return Text(str(value))
    shown = money(value)
    if Decimal(shown) == 0:
        return Text(money(0))
    if value > 0:
        return Text(f"+{shown}", style="green")
    return Text(shown, style="red")


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def pnl(status: Mapping[str, Any]) -> Decimal:
    """Realized plus unrealized PnL less fees: the bot's equity change since it started, as
    the dashboard's and the summary's "PnL total" (gross PnL read differently from them)."""
    gross = _decimal(status.get("realized_pnl", 0)) + _decimal(status.get("unrealized_pnl", 0))
    return gross - _decimal(status.get("fees", 0))


def _positions(position: object) -> str:
    if not isinstance(position, Mapping) or not position:
        return "flat"
    return ", ".join(f"{symbol} {qty}" for symbol, qty in position.items())


def _parse_time(iso: object) -> datetime | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def age(iso: object, now: datetime | None = None) -> str:
    """``"3s ago"``, ``"5m ago"``, ``"2h ago"``, ``"4d ago"``; ``"–"`` when unknown."""
    moment = _parse_time(iso)
    if moment is None:
        return DASH
    seconds = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _time(iso: object) -> str:
    """ISO-8601 UTC shortened to milliseconds: ``2024-05-01 12:00:00.123``."""
    if not isinstance(iso, str) or not iso:
        return DASH
    return iso.replace("T", " ").removesuffix("Z")[:23]


def _clock(iso: object) -> str:
    moment = _parse_time(iso) or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:12]


# -- tables --------------------------------------------------------------------------------


def _get(key: str) -> Getter:
    return lambda record: record.get(key)


_BOT_COLUMNS: list[Column] = [
    ("ID", _get("bot_id"), False),
    ("STATE", lambda b: _state(b.get("state")), False),
    ("SIM", lambda b: Text("SIM", style="bold yellow") if b.get("simulated") else Text(""), False),
    ("POSITION", lambda b: _positions(b.get("position")), False),
    ("EQUITY", lambda b: money(b.get("equity")), True),
    ("PNL", lambda b: _signed(pnl(b)), True),
    ("ORDERS", _get("order_count"), True),
    ("FILLS", _get("fill_count"), True),
    ("HEARTBEAT", lambda b: age(b.get("heartbeat")), False),
    ("LAST ERROR", lambda b: _error(b.get("last_error")), False),
]
# Left out, in this order, when a table does not fit the terminal (after empty columns).
_BOT_DROPPABLE = ("HEARTBEAT", "ORDERS", "FILLS", "LAST ERROR")
_ORDER_DROPPABLE = ("FEES", "AVG PRICE", "TYPE", "CREATED (UTC)")
_FILL_DROPPABLE = ("LIQUIDITY", "TRADE", "FEE")
_ORDER_COLUMNS: list[Column] = [
    ("CREATED (UTC)", lambda o: _time(o.get("created_at")), False),
    ("ORDER", _get("client_order_id"), False),
    ("SIDE", _get("side"), False),
    ("TYPE", _get("type"), False),
    ("SYMBOL", _get("symbol"), False),
    ("QTY", _get("qty"), True),
    ("PRICE", lambda o: o.get("limit_price") or o.get("stop_price") or o.get("type"), True),
    ("STATUS", lambda o: ": ".join(str(o[k]) for k in ("status", "reason") if o.get(k)), False),
    ("FILLED", _get("filled_qty"), True),
    ("AVG PRICE", _get("avg_fill_price"), True),
    ("FEES", _get("fees"), True),
]
_FILL_COLUMNS: list[Column] = [
    ("TIME (UTC)", lambda f: _time(f.get("timestamp")), False),
    ("TRADE", _get("trade_id"), False),
    ("ORDER", _get("client_order_id"), False),
    ("SIDE", _get("side"), False),
    ("SYMBOL", _get("symbol"), False),
    ("QTY", _get("qty"), True),
    ("PRICE", _get("price"), True),
    ("FEE", _get("fee"), True),
    ("LIQUIDITY", _get("liquidity"), False),
]
_POSITION_COLUMNS: list[Column] = [
    ("SYMBOL", _get("symbol"), False),
    ("QTY", _get("qty"), True),
    ("AVG PRICE", _get("avg_price"), True),
    ("REALIZED PNL", lambda p: _signed(_decimal(p.get("realized_pnl", 0))), True),
    ("FEES", lambda p: money(p.get("fees")), True),
]
_EQUITY_COLUMNS: list[Column] = [
    ("TIME (UTC)", lambda e: _time(e.get("timestamp")), False),
    ("EQUITY", lambda e: money(e.get("equity")), True),
    ("CASH", lambda e: money(e.get("cash")), True),
    ("REALIZED PNL", lambda e: _signed(_decimal(e.get("realized_pnl", 0))), True),
    ("UNREALIZED PNL", lambda e: _signed(_decimal(e.get("unrealized_pnl", 0))), True),
    ("FEES", lambda e: money(e.get("fees")), True),
]


def _error(message: object) -> Text:
    if not message:
        return _text(None)
    text = str(message)
    short = text if len(text) <= _LAST_ERROR_WIDTH else text[: _LAST_ERROR_WIDTH - 1] + "…"
    return Text(short, style="red")


def bots_table(bots: list[dict[str, Any]]) -> None:
    if not bots:
        _console().print("no bots; create one with: algotrade bots create --help")
        return
    caption = SIM_NOTE if any(bot.get("simulated") for bot in bots) else None
    console = _console()
    console.print(records_table(console, _BOT_COLUMNS, bots, caption, droppable=_BOT_DROPPABLE))


def orders_table(page: Mapping[str, Any]) -> None:
    items = page.get("items") or []
    caption = _page_caption(page, "orders")
    console = _console()
    console.print(
        records_table(console, _ORDER_COLUMNS, items, caption, droppable=_ORDER_DROPPABLE)
    )


def fills_table(page: Mapping[str, Any]) -> None:
    items = page.get("items") or []
    caption = _page_caption(page, "fills")
    console = _console()
    console.print(records_table(console, _FILL_COLUMNS, items, caption, droppable=_FILL_DROPPABLE))


def equity_table(page: Mapping[str, Any]) -> None:
    items = page.get("items") or []
    caption = _page_caption(page, "equity snapshots")
    console = _console()
    console.print(records_table(console, _EQUITY_COLUMNS, items, caption, droppable=("FEES",)))


def positions_table(positions: list[dict[str, Any]]) -> None:
    if not positions:
        _console().print("no positions")
        return
    console = _console()
    console.print(records_table(console, _POSITION_COLUMNS, positions))


def _page_caption(page: Mapping[str, Any], what: str) -> str:
    total, offset = int(page.get("total", 0)), int(page.get("offset", 0))
    shown = len(page.get("items") or [])
    newest_first = page.get("order") == "desc"
    if not shown:
        return f"no {what} at offset {offset} (total {total})"
    order = "newest first" if newest_first else "oldest first"
    caption = f"{what} {offset + 1}–{offset + shown} of {total}, {order}"
    if offset + shown < total:
        caption += f"; next page: --offset {offset + shown}"
    return caption


def _key_values(title: str, data: Mapping[str, Any], money_fields: frozenset[str]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", title_style="bold")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        if key in money_fields:
            shown: object = money(value)
        elif isinstance(value, dict | list):
            shown = json.dumps(value)
        else:
            shown = value
        table.add_row(key, _text(shown))
    return table


def config_detail(config: Mapping[str, Any]) -> None:
    """``config``: the bot's stored config, exact (a config is input, not a money display)."""
    _console().print(_key_values("config", config, frozenset()))


def bot_detail(detail: Mapping[str, Any]) -> None:
    """``show``: the status (with PnL and heartbeat age added) and the config."""
    status = dict(detail.get("status") or {})
    config = detail.get("config") or {}
    console = _console()
    bot_id = status.get("bot_id", config.get("bot_id", "?"))
    if status.get("simulated"):
        console.print(Text(f"bot {bot_id} — SIMULATED ({SIM_NOTE})", style="bold yellow"))
    status["pnl"] = str(pnl(status))
    status["heartbeat"] = f"{status.get('heartbeat') or DASH} ({age(status.get('heartbeat'))})"
    console.print(_key_values("status", status, MONEY_FIELDS))
    console.print(_key_values("config", config, frozenset()))


def status_line(status: Mapping[str, Any], verb: str = "") -> str:
    """``bot 'b1' running (SIM)``: the answer of a control command."""
    sim = " (SIM)" if status.get("simulated") else ""
    state = status.get("state", "?")
    error = f" — last error: {status['last_error']}" if status.get("last_error") else ""
    return f"{verb}bot '{status.get('bot_id', '?')}' {state}{sim}{error}"


# -- live events ---------------------------------------------------------------------------


def message_lines(message: Mapping[str, Any]) -> list[str]:
    """Human lines for one server message of ``/ws`` (none for bookkeeping messages)."""
    kind = message.get("type")
    topic = str(message.get("topic", ""))
    if kind == "event":
        data = message.get("data")
        return [event_line(topic, data if isinstance(data, Mapping) else {})]
    if kind == "snapshot":
        items = message.get("data") or []
        return [event_line(topic, item) for item in items if isinstance(item, Mapping)]
    return []


def event_line(topic: str, data: Mapping[str, Any]) -> str:
    """``12:00:01.250 fill   b1 buy 1 SIM-BTC @ 60000.5 fee 0.03 (b1-7)`` and the like."""
    bot = data.get("bot_id", "-")
    if topic == "status":
        when = _clock(data.get("heartbeat"))
        if data.get("deleted"):
            return f"{when} status {bot} deleted"
        sim = " SIM" if data.get("simulated") else ""
        error = f" error: {data['last_error']}" if data.get("last_error") else ""
        return (
            f"{when} status {bot} {data.get('state', '?')}{sim} "
            f"pos {_positions(data.get('position'))} equity {money(data.get('equity'))} "
            f"pnl {money(pnl(data))} orders {data.get('order_count', 0)} "
            f"fills {data.get('fill_count', 0)}{error}"
        )
    if topic == "fills":
        return (
            f"{_clock(data.get('timestamp'))} fill   {bot} {data.get('side')} {data.get('qty')} "
            f"{data.get('symbol')} @ {data.get('price')} fee {data.get('fee')} "
            f"({data.get('client_order_id')})"
        )
    if topic == "orders":
        price = data.get("limit_price") or data.get("stop_price") or ""
        reason = f": {data['reason']}" if data.get("reason") else ""
        return (
            f"{_clock(data.get('updated_at'))} order  {bot} {data.get('client_order_id')} "
            f"{data.get('side')} {data.get('type')} {data.get('qty')} {data.get('symbol')}"
            f"{' @ ' + str(price) if price else ''} {data.get('status')} "
            f"{data.get('filled_qty')}/{data.get('qty')}{reason}"
        )
    if topic == "logs":
        return (
            f"{_clock(data.get('timestamp'))} log    {bot} {data.get('level')} "
            f"{data.get('kind')}: {data.get('message')}"
        )
    if topic == "risk" and "kind" in data:  # rejected, breach, expired, alert, ...
        rule = f" {data['rule']}" if data.get("rule") else ""
        detail = data.get("reason") or data.get("message") or ""
        who = data.get("account_id") or bot
        return f"{_clock(None)} risk   {who} {data['kind']}{rule}{': ' if detail else ''}{detail}"
    compact = json.dumps(dict(data), separators=(",", ":"), default=str)
    return f"{_clock(None)} {topic:<6} {bot} {compact}"


# -- input ---------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """``--param``/``--feed-option`` value: a JSON number or bool when it plainly is one,
    otherwise the text. A number a float cannot hold exactly (``0.1234567890123456789``)
    stays text, which the daemon reads as an exact decimal."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value) and Decimal(repr(value)) == Decimal(text):
        return value
    return text


def parse_pairs(option: str, pairs: list[str]) -> dict[str, Any]:
    """``parse_params`` with each value read as JSON where it is JSON (see ``parse_value``)."""
    return {key: parse_value(text) for key, text in parse_params(pairs, option).items()}


def read_config_file(path: Path) -> dict[str, Any]:
    """A bot config from a JSON, TOML or YAML file; ``InputError`` names the file and line."""
    suffix = path.suffix.lower()
    if suffix not in _CONFIG_SUFFIXES:
        raise InputError(f"{path}: unknown config format; use {', '.join(_CONFIG_SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = _parse_config_text(suffix, text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: {exc}") from None
    except ValueError as exc:  # yaml.YAMLError is not a ValueError; see _parse_config_text
        raise InputError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of bot config fields at the top level")
    return data


def _parse_config_text(suffix: str, text: str) -> Any:
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return tomllib.loads(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ValueError(f"{where}{problem}") from None
