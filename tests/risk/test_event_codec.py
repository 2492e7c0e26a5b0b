"""JSONL account events: every type decodes, round-trips, and every problem names its line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from algotrade.core.errors import DataError, InputError
from algotrade.core.timeutil import datetime_to_ns
from algotrade.risk.config_loader import load_risk_config
from algotrade.risk.event_codec import (
    EVENT_TYPES,
    ReplayEvent,
    decode_event,
    encode_event,
    event_to_json,
    format_ts,
    parse_ts,
    read_events,
    write_events,
)
from algotrade.risk.events import (
    AccountFill,
    AccountStatus,
    ClockTick,
    MarkUpdate,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "risk"
T0 = "2024-06-04T13:35:00Z"
NS0 = datetime_to_ns(datetime(2024, 6, 4, 13, 35, tzinfo=UTC))
D = Decimal


def ev(kind: str, **fields: Any) -> str:
    """A JSONL line of type ``kind`` at T0 for acct-1; ``field=...`` leaves a field out."""
    data: dict[str, Any] = {"type": kind, "ts": T0, "account": "acct-1", **fields}
    return json.dumps({k: v for k, v in data.items() if v is not ...})


# (JSONL line, the event it decodes to): every type, required fields only and all fields.
ES_SELL = {"symbol": "ES", "side": "sell"}
FULL_FILL = {"fee": 2.25, "realized_pnl": "-225.00", "order_id": "o-1", "bot_id": "b-1"}
STOP = {"order_id": "o-3", **ES_SELL, "order_type": "stop", "qty": 1, "status": "cancelled"}
STOP_EXTRA = {"stop_price": "5292", "price": None, "reduce_only": True, "bot_id": "b-1"}
INTENT = {"order_type": "limit", "price": "5310.75", "reduce_only": True, "bot_id": "b-2"}
CASES: list[tuple[str, ReplayEvent]] = [
    (
        ev("fill", symbol="ES", side="buy", qty=2, price=5300.25),
        AccountFill("acct-1", NS0, "ES", "buy", D(2), D("5300.25")),
    ),
    (
        ev("fill", **ES_SELL, qty="1", price="5304.50", **FULL_FILL),
        AccountFill(
            "acct-1", NS0, "ES", "sell", D(1), D("5304.50"), D("2.25"), D(-225), "o-1", "b-1"
        ),
    ),
    (
        ev("position", symbol="ES", qty=-2, avg_price="5306.25"),
        PositionUpdate("acct-1", NS0, "ES", D(-2), D("5306.25")),
    ),
    (ev("position", symbol="ES", qty=0), PositionUpdate("acct-1", NS0, "ES", D(0), D(0))),
    (
        ev(
            "order",
            order_id="o-2",
            symbol="ES",
            side="buy",
            order_type="market",
            qty=1,
            status="open",
        ),
        OrderUpdate("acct-1", NS0, "o-2", "ES", "buy", "market", D(1), "open"),
    ),
    (
        ev("order", **STOP, **STOP_EXTRA),
        OrderUpdate(
            "acct-1",
            NS0,
            "o-3",
            "ES",
            "sell",
            "stop",
            D(1),
            "cancelled",
            None,
            D(5292),
            True,
            "b-1",
        ),
    ),
    (  # prices may be negative (crude oil, April 2020)
        ev("mark", symbol="CL", price=-37.63),
        MarkUpdate("acct-1", NS0, "CL", D("-37.63")),
    ),
    (ev("account_status"), AccountStatus("acct-1", NS0)),
    (
        ev("account_status", can_trade=False, connected=False, reason="margin call"),
        AccountStatus("acct-1", NS0, can_trade=False, connected=False, reason="margin call"),
    ),
    (ev("tick"), ClockTick("acct-1", NS0)),
    (ev("tick", account="*"), ClockTick("*", NS0)),
    (ev("tick", account=...), ClockTick("*", NS0)),
    (
        ev("order_intent", symbol="ES", side="buy", qty=1),
        OrderIntent("acct-1", NS0, "ES", "buy", D(1)),
    ),
    (
        ev("order_intent", **ES_SELL, qty=3, **INTENT),
        OrderIntent("acct-1", NS0, "ES", "sell", D(3), "limit", D("5310.75"), True, "b-2"),
    ),
]


def write(tmp_path: Path, *lines: str, name: str = "day.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def line_of(**fields: Any) -> str:
    base: dict[str, Any] = {"type": "fill", "ts": T0, "account": "acct-1", "symbol": "ES"}
    base.update({"side": "buy", "qty": 1, "price": "5300"})
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def with_number(field: str, literal: str) -> str:
    """A fill line whose ``field`` is the JSON number ``literal``, written as it is."""
    return line_of(**{field: "@"}).replace('"@"', literal)


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_every_type_decodes(tmp_path: Path, line: str, expected: ReplayEvent) -> None:
    assert list(read_events(write(tmp_path, line))) == [expected]
    assert decode_event(json.loads(line)) == expected  # plain floats are read exactly too


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_encode_round_trips(line: str, expected: ReplayEvent) -> None:
    encoded = encode_event(expected)
    assert encoded["type"] in EVENT_TYPES
    assert decode_event(encoded) == expected
    assert decode_event(json.loads(event_to_json(expected))) == expected


def test_write_then_read(tmp_path: Path) -> None:
    events = [expected for _, expected in CASES]
    path = tmp_path / "out.jsonl"
    assert write_events(path, events) == len(events)
    assert list(read_events(path)) == events


def test_every_type_is_covered() -> None:
    assert {type(expected) for _, expected in CASES} == set(EVENT_TYPES.values())


def test_money_is_exact_decimal(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line_of(qty=0.1, price=5300.1, fee=1e-3),
        line_of(qty="1E+1", price="0.300000000004", fee=12),
    )
    first, second = read_events(path)
    assert isinstance(first, AccountFill)
    assert isinstance(second, AccountFill)
    assert (first.qty, first.price, first.fee) == (D("0.1"), D("5300.1"), D("0.001"))
    assert (second.qty, second.price, second.fee) == (D(10), D("0.300000000004"), D(12))
    assert encode_event(first)["price"] == "5300.1"


@pytest.mark.parametrize(
    "ts",
    [
        T0,
        "2024-06-04T13:35Z",
        "2024-06-04 13:35:00z",
        "2024-06-04T08:35:00-05:00",
        "2024-06-04T15:35:00+0200",
        "2024-06-04T13:35:00.000000000Z",
        NS0,
    ],
)
def test_ts_forms(ts: str | int) -> None:
    assert parse_ts(ts) == NS0


def test_ts_keeps_nanoseconds() -> None:
    assert parse_ts("2024-06-04T13:35:00.123456789Z") == NS0 + 123_456_789
    assert parse_ts("2024-06-04T13:35:00,5Z") == NS0 + 500_000_000
    assert format_ts(NS0 + 123_456_789) == "2024-06-04T13:35:00.123456789Z"
    assert format_ts(NS0 + 250_000_000) == "2024-06-04T13:35:00.25Z"
    assert format_ts(NS0) == T0


def test_blank_and_comment_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "# header", "", "   ", CASES[0][0], "  # note", line_of(qty=-1))
    events = read_events(path)
    assert next(events) == CASES[0][1]
    with pytest.raises(DataError, match=r"^day\.jsonl line 6: field 'qty'"):
        next(events)


def test_equal_ts_is_in_order_earlier_is_not(tmp_path: Path) -> None:
    later = line_of(ts="2024-06-04T13:36:00Z")
    assert len(list(read_events(write(tmp_path, line_of(), line_of(), later)))) == 3
    path = write(tmp_path, line_of(), later, "# x", line_of(ts=NS0 + 1))
    with pytest.raises(DataError) as info:
        list(read_events(path))
    assert str(info.value) == (
        "day.jsonl line 4: field 'ts': 2024-06-04T13:35:00.000000001Z is earlier than line 2 "
        "(2024-06-04T13:36:00Z); events must be in time order"
    )


# One bad line each, and the exact message (after "day.jsonl line 1: ").
ERRORS = [
    (line_of(qty=-1), "field 'qty': expected a positive number (got -1)"),
    (line_of(qty="-1"), "field 'qty': expected a positive number (got \"-1\")"),
    (line_of(qty=0), "field 'qty': expected a positive number (got 0)"),
    (line_of(qty=True), "field 'qty': expected a positive number (got true)"),
    (line_of(qty="1,000"), "field 'qty': expected a positive number (got \"1,000\")"),
    (line_of(price="NaN"), "field 'price': expected a number (got \"NaN\")"),
    (line_of(price="Infinity"), "field 'price': expected a number (got \"Infinity\")"),
    (line_of(price=[1]), "field 'price': expected a number (got [1])"),
    (line_of(price=...), "field 'price': required for type 'fill'"),
    (line_of(symbol=""), "field 'symbol': expected non-empty text (got \"\")"),
    (line_of(symbol=5), "field 'symbol': expected non-empty text (got 5)"),
    (line_of(side="long"), "field 'side': expected one of 'buy', 'sell' (got \"long\")"),
    (line_of(order_id=7), "field 'order_id': expected text (got 7)"),
    (
        line_of(quantity=1),
        "field 'quantity': unknown field for type 'fill'; valid fields: type, ts, account, "
        "symbol, side, qty, price, fee, realized_pnl, order_id, bot_id",
    ),
    (
        line_of(type="trade"),
        "field 'type': unknown event type; use one of fill, position, order, mark, "
        'account_status, tick, order_intent (got "trade")',
    ),
    (
        line_of(type=...),
        "field 'type': required; one of fill, position, order, mark, account_status, tick, "
        "order_intent",
    ),
    (line_of(ts=...), "field 'ts': required for type 'fill'"),
    (
        line_of(ts="2024-06-04T13:35:00"),
        "field 'ts': expected an ISO-8601 time with Z or an offset (2024-06-04T13:30:00Z) "
        'or integer epoch nanoseconds (got "2024-06-04T13:35:00")',
    ),
    (
        line_of(ts="2024-02-30T13:35:00Z"),
        "field 'ts': not a valid time: day is out of range for month "
        '(got "2024-02-30T13:35:00Z")',
    ),
    (
        line_of(ts=1717508100),
        "field 'ts': expected integer epoch nanoseconds (after 1973-03-03; seconds or "
        "milliseconds must be multiplied) (got 1717508100)",
    ),
    (
        line_of(ts=1.7175081e18),
        "field 'ts': expected an ISO-8601 time with Z or an offset (2024-06-04T13:30:00Z) "
        "or integer epoch nanoseconds (got 1.7175081E+18)",
    ),
    (
        line_of(ts="2300-06-04T13:30:00Z"),  # past int64 nanoseconds (2262-04-11)
        "field 'ts': expected a time from 1973-03-03T09:46:40Z to "
        '2260-12-31T23:59:59.999999999Z (got "2300-06-04T13:30:00Z")',
    ),
    (
        line_of(ts=2**63),
        "field 'ts': expected a time from 1973-03-03T09:46:40Z to "
        "2260-12-31T23:59:59.999999999Z (got 9223372036854775808)",
    ),
    (
        line_of(ts="9999-12-31T23:59:59-23:59"),
        "field 'ts': expected a time from 1973-03-03T09:46:40Z to "
        '2260-12-31T23:59:59.999999999Z (got "9999-12-31T23:59:59-23:59")',
    ),
    (
        with_number("price", "1e999999"),
        "field 'price': expected a magnitude below 1e15, got 1E+999999",
    ),
    (line_of(qty="1e999999"), "field 'qty': expected a magnitude below 1e15, got 1E+999999"),
    (line_of(fee=-(10**15)), "field 'fee': expected a magnitude below 1e15, got -1000000000000000"),
    (
        line_of(price="1e-999999999"),
        "field 'price': expected at most 12 decimal places, got 1E-999999999",
    ),
    (
        line_of(fee="0.0000000000001"),
        "field 'fee': expected at most 12 decimal places, got 1E-13",
    ),
    (  # longer than Python converts to int (4300 digits)
        with_number("fee", "9" * 5000),
        "field 'fee': expected a magnitude below 1e15, got a number of the order of 1e4999",
    ),
    (line_of(account=...), "field 'account': required for type 'fill'"),
    (line_of(account="*"), "field 'account': expected an account id (got \"*\")"),
    (line_of(account="a b"), "field 'account': expected an account id (got \"a b\")"),
    (
        json.dumps({"type": "tick", "ts": T0, "account": ""}),
        'field \'account\': expected an account id (or "*" for every account) (got "")',
    ),
    (
        json.dumps({"type": "position", "ts": T0, "account": "a", "symbol": "ES", "qty": 1}),
        "field 'avg_price': required for type 'position' unless qty is 0",
    ),
    (
        json.dumps(
            {"type": "order", "ts": T0, "account": "a", "order_id": "o", "symbol": "ES"}
            | {"side": "sell", "order_type": "stop", "qty": 1, "status": "open"}
        ),
        "field 'stop_price': required for a stop order",
    ),
    (
        json.dumps(
            {"type": "order", "ts": T0, "account": "a", "order_id": "o", "symbol": "ES"}
            | {"side": "sell", "order_type": "limit", "qty": 1, "status": "open"}
        ),
        "field 'price': required for a limit order",
    ),
    (
        json.dumps(
            {"type": "order", "ts": T0, "account": "a", "order_id": "", "symbol": "ES"}
            | {"side": "sell", "order_type": "market", "qty": 1, "status": "open"}
        ),
        "field 'order_id': expected non-empty text (got \"\")",
    ),
    (
        json.dumps(
            {"type": "order", "ts": T0, "account": "a", "order_id": "o", "symbol": "ES"}
            | {"side": "sell", "order_type": "market", "qty": 1, "status": "done"}
        ),
        "field 'status': expected one of 'open', 'filled', 'cancelled', 'rejected' (got \"done\")",
    ),
    (
        json.dumps(
            {"type": "order_intent", "ts": T0, "account": "a", "symbol": "ES", "side": "buy"}
            | {"qty": 1, "order_type": "stop"}
        ),
        "field 'price': required for a stop order intent",
    ),
    (
        json.dumps(
            {"type": "order_intent", "ts": T0, "account": "a", "symbol": "ES", "side": "buy"}
            | {"qty": 1, "order_type": "stop_limit"}
        ),
        "field 'order_type': expected one of 'market', 'limit', 'stop' (got \"stop_limit\")",
    ),
    (
        json.dumps({"type": "account_status", "ts": T0, "account": "a", "can_trade": "no"}),
        "field 'can_trade': expected true or false (got \"no\")",
    ),
    ('{"type": "tick", "ts": 1', "not valid JSON: Expecting ',' delimiter (column 25)"),
    ('{"type": "tick"} x', "not valid JSON: Extra data (column 18)"),
    ('{"type": "mark", "price": NaN}', "not valid JSON: NaN is not a number"),
    ("[1, 2]", "expected a JSON object (got [1, 2])"),
    ('{"type": "tick", "ts": 1, "type": "tick"}', "field 'type': appears twice"),
]


@pytest.mark.parametrize(("line", "expected"), ERRORS)
def test_errors_name_file_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    with pytest.raises(DataError) as info:
        list(read_events(write(tmp_path, line)))
    assert str(info.value) == f"day.jsonl line 1: {expected}"


def test_numbers_at_the_bounds_are_read_exactly(tmp_path: Path) -> None:
    big, fine = "999999999999999.999999999999", "0.000000000001"
    path = write(tmp_path, line_of(qty=big, price=fine, fee="1.230000000000000000000"))
    (fill,) = read_events(path)
    assert isinstance(fill, AccountFill)
    assert (fill.qty, fill.price, fill.fee) == (D(big), D(fine), D("1.23"))
    latest = "2260-12-31T23:59:59.999999999Z"
    (tick,) = read_events(write(tmp_path, ev("tick", ts=latest)))
    assert format_ts(tick.ts) == latest


def test_decode_event_uses_the_source_in_errors() -> None:
    with pytest.raises(DataError) as info:
        decode_event({"type": "mark", "ts": T0, "account": "acct-1", "symbol": "ES"}, "request")
    assert str(info.value) == "request: field 'price': required for type 'mark'"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(CASES[0][0].encode() + b"\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"^day\.jsonl line 2: not UTF-8 text \(byte 0\)$"):
        list(read_events(path))


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + CASES[0][0].encode() + b"\n")
    assert list(read_events(path)) == [CASES[0][1]]


def test_missing_file_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^event file not found: .*nope\.jsonl$"):
        read_events(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="is a directory"):
        read_events(tmp_path)
    assert issubclass(DataError, InputError)  # the CLI prints one line and exits 2


def test_the_example_day(tmp_path: Path) -> None:
    """examples/risk/day.jsonl: ~40 events of acct-1 in the Chicago session that lose more
    than acct-1's daily_realized_loss limit and include cooldown-sized losing trades."""
    events = list(read_events(EXAMPLES / "day.jsonl"))
    assert 40 <= len(events) <= 60
    assert {type(event) for event in events} == set(EVENT_TYPES.values())
    assert {event.account_id for event in events} == {"acct-1"}
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    config = load_risk_config(EXAMPLES / "accounts.yaml", EXAMPLES / "risk.yaml")
    rules = config.rules["acct-1"]
    chicago = ZoneInfo("America/Chicago")
    fills = [e for e in events if isinstance(e, AccountFill)]
    for fill in fills:  # every trade inside the 08:30-15:00 session
        local = datetime.fromtimestamp(fill.ts / 1e9, tz=UTC).astimezone(chicago)
        assert "08:30" <= local.strftime("%H:%M") < "15:00"
    realized = [f.realized_pnl for f in fills if f.realized_pnl is not None]
    net = sum(realized, D(0)) - sum((f.fee for f in fills), D(0))
    assert rules.daily_realized_loss.enabled
    assert net <= -rules.daily_realized_loss.limit
    assert rules.cooldown_after_loss.enabled
    assert any(-loss >= rules.cooldown_after_loss.loss_threshold for loss in realized)
    # and it survives a round trip unchanged
    copy = tmp_path / "copy.jsonl"
    write_events(copy, events)
    assert list(read_events(copy)) == events
