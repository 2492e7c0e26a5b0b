"""The bulk write path (``store.bulk_rows``): the same text as ``DecimalText``, the same
upserts, re-reports and conflicts as before, on SQLite (executemany) and PostgreSQL (COPY)."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest
from store_factories import T0, account, bot_config, equity, fill, order, position

from algotrade.store import Activity, Store
from algotrade.store.bulk_rows import money_text
from algotrade.store.models import DecimalText


def _reference(value: object) -> str:
    try:
        return repr(DecimalText().process_bind_param(value, None))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _fast(value: object) -> str:
    try:
        return repr(money_text(value))
    except (TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


EDGES = [
    Decimal("-0"),
    Decimal("0E-70"),
    Decimal("0E+5"),
    Decimal("1E+2"),
    Decimal("1E-7"),
    Decimal("2.50"),
    Decimal("-123.4500"),
    Decimal("1E+41"),
    Decimal("1E-61"),
    Decimal("9" * 41),
    Decimal("0." + "0" * 59 + "1"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    Decimal("sNaN"),
    0.1,
    True,
    7,
    None,
    "1.5",
]


@pytest.mark.parametrize("value", EDGES, ids=[repr(v) for v in EDGES])
def test_money_text_is_decimal_texts_text_or_error(value: object) -> None:
    assert _fast(value) == _reference(value)


def test_money_text_agrees_on_random_decimals() -> None:
    rng = random.Random(14)
    for _ in range(20_000):
        digits = rng.randint(0, 10 ** rng.randint(0, 45))
        value = Decimal(digits * rng.choice((1, -1))).scaleb(rng.randint(-70, 70))
        assert _fast(value) == _reference(value), value


def test_a_large_mixed_batch_upserts_skips_and_conflicts_like_before(store: Store) -> None:
    bots = [f"bot{i}" for i in range(3)]
    store.insert_bots([bot_config(b) for b in bots])
    first = [
        (
            b,
            Activity(
                orders=[order(b, f"{b}-{k}", created_ts=T0 + k) for k in range(300)],
                fills=[fill(b, f"{b}-{k}-F1", client_order_id=f"{b}-{k}") for k in range(300)],
                positions=[position(b)],
                account=account(b),
                equity=[equity(b, ts=T0 + k) for k in range(300)],
            ),
        )
        for b in bots
    ]
    assert store.record_activity_batch(first) == []
    # Again: orders change (created_ts must stay), old fills re-reported (one of them with
    # another price: a conflict), new fills, new positions and accounts.
    changed_price = Decimal("101")
    second = []
    for b in bots:
        again = [fill(b, f"{b}-{k}-F1", client_order_id=f"{b}-{k}") for k in range(0, 300, 7)]
        again[0] = replace(again[0], price=changed_price)
        new = [fill(b, f"{b}-{k}-F2", client_order_id=f"{b}-{k}") for k in range(300)]
        second.append(
            (
                b,
                Activity(
                    orders=[
                        order(b, f"{b}-{k}", status="filled", created_ts=1, updated_ts=T0 + 9)
                        for k in range(300)
                    ],
                    fills=again + new,
                    positions=[position(b, qty=Decimal("-3.25"))],
                    account=account(b, cash=Decimal("1.5")),
                    equity=[equity(b, ts=T0 + 1000)],
                ),
            )
        )
    conflicts = store.record_activity_batch(second)
    assert sorted((c.bot_id, c.trade_id) for c in conflicts) == [(b, f"{b}-0-F1") for b in bots]
    assert all(set(c.differences) == {"price"} for c in conflicts)
    for b in bots:
        orders = store.orders(b, limit=1000)
        assert orders.total == 300
        assert {o.status for o in orders.items} == {"filled"}
        assert sorted(o.created_ts for o in orders.items) == [T0 + k for k in range(300)]
        fills = store.fills(b, limit=1000)
        assert fills.total == 600  # no re-report stored twice, the conflict not written
        (stored_first,) = [f for f in fills.items if f.trade_id == f"{b}-0-F1"]
        assert stored_first.price != changed_price  # the stored fact stands
        assert [p.qty for p in store.positions(b)] == [Decimal("-3.25")]
        stored_account = store.account(b)
        assert stored_account is not None
        assert stored_account.cash == Decimal("1.5")
        assert store.equity(b, limit=1000).total == 301  # staging emptied between commits
