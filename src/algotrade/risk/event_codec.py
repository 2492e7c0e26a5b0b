"""Account events as JSON Lines (``algotrade risk replay --events FILE.jsonl``).

One JSON object a line, ``{"type": "fill", "ts": "2024-06-04T13:35:00Z", "account": "acct-1",
...}``; ``ts`` is ISO-8601 with ``Z``/offset or integer epoch ns; money is read exactly as
Decimal; an order's type is the key ``order_type``. ``docs/risk-events.md`` is the schema.
Problems are one-line DataErrors (InputError): ``day.jsonl line 7: field 'qty': ...``.

Every value is bounded before it reaches arithmetic or a database: times lie in
``[MIN_EVENT_NS, MAX_EVENT_NS]`` (int64 nanoseconds with room left for lockouts that end
later), numbers are finite, below 1e15 in magnitude with at most 12 decimal places
(``algotrade.core.money.bounded_decimal``). Each event remembers its ``source`` (file and
line) so the replay can name it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from algotrade.core.errors import DataError
from algotrade.core.money import bounded_decimal
from algotrade.core.timeutil import datetime_to_ns, ns_to_iso_exact
from algotrade.risk.events import (
    AccountEvent,
    AccountFill,
    AccountStatus,
    ClockTick,
    MarkUpdate,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
)

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_NS",
    "MIN_EVENT_NS",
    "ReplayEvent",
    "decode_event",
    "encode_event",
    "event_to_json",
    "format_ts",
    "parse_ts",
    "read_events",
    "write_events",
]

ReplayEvent = AccountEvent | OrderIntent

EVENT_TYPES: dict[str, type[ReplayEvent]] = {
    "fill": AccountFill,
    "position": PositionUpdate,
    "order": OrderUpdate,
    "mark": MarkUpdate,
    "account_status": AccountStatus,
    "tick": ClockTick,
    "order_intent": OrderIntent,
}
_TYPE_NAMES = {cls: name for name, cls in EVENT_TYPES.items()}
_ALL_ACCOUNTS = "*"
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?:(Z)|([+-])(\d{2}):?(\d{2}))",
    re.IGNORECASE,
)
#: Earliest event time: 1973-03-03T09:46:40Z. Smaller integers are seconds, ms or µs by
#: mistake.
MIN_EVENT_NS = 10**17
#: Latest event time: 2260-12-31T23:59:59.999999999Z. Times are stored as int64 ns (up to
#: 2262-04-11); the 466 days left over hold the lockouts, cooldowns and resets an event can
#: start (durations in risk.yaml are at most 366 days).
MAX_EVENT_NS = datetime_to_ns(datetime(2261, 1, 1, tzinfo=UTC)) - 1
_MAX_INT_DIGITS = 40  # longer JSON integers are read as Decimal (then refused by the bounds)
_SIDES = ("buy", "sell")
_ORDER_TYPES = ("market", "limit", "stop")
_STATUSES = ("open", "filled", "cancelled", "rejected")


class _Problem(ValueError):
    """What is wrong with one line; ``field`` is its JSON key when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def describe(self) -> str:
        return f"field {self.field!r}: {self.message}" if self.field else self.message


# value parsers: return the value or raise _Problem (the field name is added by the caller)


def _got(value: object) -> str:
    text = str(value) if isinstance(value, Decimal) else json.dumps(value, default=str)
    return f" (got {text if len(text) <= 60 else text[:57] + '...'})"


def _decimal(value: object, expected: str = "a number") -> Decimal:
    result: Decimal | None = None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):  # from a plain json.loads: its shortest text is exact
        result = Decimal(repr(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        try:
            result = Decimal(value)
        except InvalidOperation:
            result = None
    if result is None or not result.is_finite():
        raise _Problem(f"expected {expected}{_got(value)}")
    try:
        return bounded_decimal(result, "number")
    except ValueError as exc:  # "number: expected a magnitude below 1e15, got 1E+999999"
        raise _Problem(str(exc).removeprefix("number: ")) from None


def _positive(value: object) -> Decimal:
    result = _decimal(value, "a positive number")
    if result <= 0:
        raise _Problem(f"expected a positive number{_got(value)}")
    return result


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"expected non-empty text{_got(value)}")
    return value


def _label(value: object) -> str:
    if not isinstance(value, str):
        raise _Problem(f"expected text{_got(value)}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Problem(f"expected true or false{_got(value)}")
    return value


def _choice(*options: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if value not in options:
            listed = ", ".join(f"'{option}'" for option in options)
            raise _Problem(f"expected one of {listed}{_got(value)}")
        assert isinstance(value, str)
        return value

    return parse


def parse_ts(value: object) -> int:
    """ISO-8601 text with ``Z`` or an offset, or integer epoch nanoseconds → int ns UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < MIN_EVENT_NS:
            raise _Problem(
                "expected integer epoch nanoseconds (after 1973-03-03; "
                f"seconds or milliseconds must be multiplied){_got(value)}"
            )
        return _in_range(value, value)
    match = _ISO.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _Problem(
            "expected an ISO-8601 time with Z or an offset (2024-06-04T13:30:00Z) "
            f"or integer epoch nanoseconds{_got(value)}"
        )
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    offset = timedelta(0)
    if not zulu:
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    y, mo, d, h, mi, s = (int(part) for part in (year, month, day, hour, minute, second or "0"))
    try:
        moment = datetime(y, mo, d, h, mi, s, tzinfo=timezone(offset))
    except ValueError as exc:
        raise _Problem(f"not a valid time: {exc}{_got(value)}") from None
    return _in_range(datetime_to_ns(moment) + int((fraction or "").ljust(9, "0")), value)


def _in_range(ns: int, value: object) -> int:
    if not MIN_EVENT_NS <= ns <= MAX_EVENT_NS:
        raise _Problem(
            f"expected a time from {format_ts(MIN_EVENT_NS)} to {format_ts(MAX_EVENT_NS)}"
            f"{_got(value)}"
        )
    return ns


format_ts = ns_to_iso_exact  # ``ns`` as ISO-8601 UTC with ``Z``, up to 9 sub-second digits


@dataclass(frozen=True, slots=True)
class _Field:
    """One JSON key of an event type (besides the common ``type``, ``ts`` and ``account``)."""

    key: str
    attr: str
    parse: Callable[[object], Any]
    required: bool = False


# Per event type, its JSON keys besides type/ts/account, in order; "!" marks a required key.
_KEYS = {
    "fill": "symbol! side! qty! price! fee realized_pnl order_id bot_id",
    "position": "symbol! qty! avg_price",  # avg_price required unless qty is 0
    "order": "order_id! symbol! side! order_type! qty! status! price stop_price reduce_only bot_id",
    "mark": "symbol! price!",
    "account_status": "can_trade connected reason",
    "tick": "",
    "order_intent": "symbol! side! qty! order_type price reduce_only bot_id",
}
_PARSERS: dict[str, Callable[[object], Any]] = {
    "symbol": _text,
    "side": _choice(*_SIDES),
    "qty": _positive,
    "order_type": _choice(*_ORDER_TYPES),
    "status": _choice(*_STATUSES),
    **dict.fromkeys(("price", "avg_price", "stop_price", "fee", "realized_pnl"), _decimal),
    **dict.fromkeys(("order_id", "bot_id", "reason"), _label),
    **dict.fromkeys(("reduce_only", "can_trade", "connected"), _flag),
}
_SIGNED = {("position", "qty")}  # a position's qty is signed; 0 is flat


def _schema(kind: str) -> tuple[_Field, ...]:
    out = []
    for word in _KEYS[kind].split():
        key, required = word.rstrip("!"), word.endswith("!")
        parse = _decimal if (kind, key) in _SIGNED else _PARSERS[key]
        if required and parse is _label:
            parse = _text  # a required id must not be empty
        out.append(_Field(key, "type" if key == "order_type" else key, parse, required))
    return tuple(out)


_SCHEMA = {kind: _schema(kind) for kind in _KEYS}
_ATTR_TO_KEY = {f.attr: f.key for schema in _SCHEMA.values() for f in schema}


def _decode(data: Mapping[str, object], source: str) -> ReplayEvent:
    if "type" not in data:
        raise _Problem(f"required; one of {', '.join(EVENT_TYPES)}", "type")
    kind = data["type"]
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise _Problem(
            f"unknown event type; use one of {', '.join(EVENT_TYPES)}{_got(kind)}", "type"
        )
    schema = _SCHEMA[kind]
    valid = ("type", "ts", "account", *(f.key for f in schema))
    for key in data:
        if key not in valid:
            raise _Problem(
                f"unknown field for type {kind!r}; valid fields: {', '.join(valid)}", key
            )
    if "ts" not in data:
        raise _Problem(f"required for type {kind!r}", "ts")
    values: dict[str, Any] = {"ts": _field(parse_ts, data["ts"], "ts")}
    values["account_id"] = _account(data, kind)
    for spec in schema:
        raw = data.get(spec.key)
        if raw is None:
            if spec.required:
                raise _Problem(f"required for type {kind!r}", spec.key)
            continue
        values[spec.attr] = _field(spec.parse, raw, spec.key)
    _check_combination(kind, values)
    return EVENT_TYPES[kind](**values, source=source)


def _field(parse: Callable[[object], Any], raw: object, key: str) -> Any:
    try:
        return parse(raw)
    except _Problem as problem:
        raise _Problem(problem.message, key) from None


def _account(data: Mapping[str, object], kind: str) -> str:
    value = data.get("account")
    if value is None:
        if kind == "tick":
            return _ALL_ACCOUNTS
        raise _Problem(f"required for type {kind!r}", "account")
    if kind == "tick" and value == _ALL_ACCOUNTS:
        return _ALL_ACCOUNTS
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        allowed = ' (or "*" for every account)' if kind == "tick" else ""
        raise _Problem(f"expected an account id{allowed}{_got(value)}", "account")
    return value


def _check_combination(kind: str, values: dict[str, Any]) -> None:
    if kind == "position" and "avg_price" not in values:
        if values["qty"] != 0:
            raise _Problem("required for type 'position' unless qty is 0", "avg_price")
        values["avg_price"] = Decimal(0)
    order_type = values.get("type", "market")
    if kind == "order" and order_type == "stop" and "stop_price" not in values:
        raise _Problem("required for a stop order", "stop_price")
    needs_price = ("limit",) if kind == "order" else ("limit", "stop")
    if kind in ("order", "order_intent") and order_type in needs_price and "price" not in values:
        raise _Problem(f"required for a {order_type} {kind.replace('_', ' ')}", "price")


# public API


def decode_event(data: Mapping[str, object], source: str = "event") -> ReplayEvent:
    """One decoded JSON object → its event; DataError ``"{source}: field 'x': ..."``."""
    try:
        return _decode(data, source)
    except _Problem as problem:
        raise DataError(f"{source}: {problem.describe()}") from None


def encode_event(event: ReplayEvent) -> dict[str, Any]:
    """The JSON-ready object for ``event`` (inverse of :func:`decode_event`).

    ``ts`` is ISO-8601 UTC text (nanosecond digits kept), money is exact text, ``None``
    fields are left out.
    """
    kind = _TYPE_NAMES[type(event)]
    out: dict[str, Any] = {"type": kind, "ts": format_ts(event.ts), "account": event.account_id}
    for item in fields(event):
        if item.name in ("account_id", "ts", "source"):
            continue
        value = getattr(event, item.name)
        if value is None:
            continue
        out[_ATTR_TO_KEY[item.name]] = str(value) if isinstance(value, Decimal) else value
    return out


def event_to_json(event: ReplayEvent) -> str:
    """One JSONL line (without the newline)."""
    return json.dumps(encode_event(event), separators=(", ", ": "))


def write_events(path: Path, events: Iterable[ReplayEvent]) -> int:
    """Write ``events`` as JSONL; returns how many."""
    lines = [event_to_json(event) + "\n" for event in events]
    path.write_text("".join(lines), encoding="utf-8")
    return len(lines)


def read_events(path: Path) -> Iterator[ReplayEvent]:
    """Events of a JSONL file, lazily; DataError (file, line, field) when a bad line is read,
    at once when the file is missing."""
    if not path.exists():
        raise DataError(f"event file not found: {path}")
    if path.is_dir():
        raise DataError(f"event file {path} is a directory")
    return _iter_events(path)


def _iter_events(path: Path) -> Iterator[ReplayEvent]:
    previous: tuple[int, int] | None = None  # (ts, line number)
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            where = f"{path.name} line {number}"
            try:
                text = raw.decode("utf-8").removeprefix("\ufeff").strip()
            except UnicodeDecodeError as exc:
                raise DataError(f"{where}: not UTF-8 text (byte {exc.start})") from None
            if not text or text.startswith("#"):
                continue
            try:
                event = _decode(_parse_json(text), where)
            except _Problem as problem:
                raise DataError(f"{where}: {problem.describe()}") from None
            if previous is not None and event.ts < previous[0]:
                raise DataError(
                    f"{where}: field 'ts': {format_ts(event.ts)} is earlier than line "
                    f"{previous[1]} ({format_ts(previous[0])}); events must be in time order"
                )
            previous = (event.ts, number)
            yield event


def _parse_json(text: str) -> dict[str, object]:
    try:
        data = _JSON.decode(text)
    except json.JSONDecodeError as exc:
        raise _Problem(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise _Problem(f"expected a JSON object{_got(data)}")
    return data


def _reject_constant(name: str) -> object:
    raise _Problem(f"not valid JSON: {name} is not a number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _Problem("appears twice", key)
        out[key] = value
    return out


def _parse_int(text: str) -> int | Decimal:
    # Python refuses to convert integers of more than 4300 digits (a ValueError, not a JSON
    # error): read long ones as Decimal, which the bounds then refuse with the field's name.
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


_JSON = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=_parse_int,
    parse_constant=_reject_constant,
    object_pairs_hook=_unique_keys,
)
