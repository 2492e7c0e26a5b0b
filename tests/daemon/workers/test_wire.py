"""The daemon ↔ worker connection: order, requests, errors, a closed end, records that
travel as themselves."""

from __future__ import annotations

import asyncio
import pickle
import socket
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from algotrade.core.portfolio import Position
from algotrade.daemon.bot_books import BooksView
from algotrade.daemon.service_api import InvalidTransition
from algotrade.daemon.workers.wire import Peer, PeerClosed, RemoteError, dumps
from algotrade.store.records import (
    AccountRecord,
    Activity,
    EquityRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
)


class Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle this")


async def pair(
    on_ask: Any = None,
) -> tuple[Peer, Peer, list[tuple[str, tuple[Any, ...]]], list[asyncio.Task[None]]]:
    ours, theirs = socket.socketpair()
    told: list[tuple[str, tuple[Any, ...]]] = []

    async def no_asks(kind: str, args: tuple[Any, ...]) -> Any:
        raise AssertionError("not asked")

    a = await Peer.over(ours, lambda k, a: told.append((k, a)), no_asks, "a")
    b = await Peer.over(theirs, lambda k, a: told.append((k, a)), on_ask or no_asks, "b")
    tasks = [asyncio.ensure_future(a.run()), asyncio.ensure_future(b.run())]
    return a, b, told, tasks


async def test_tells_arrive_in_order_and_asks_get_replies_and_errors() -> None:
    async def on_ask(kind: str, args: tuple[Any, ...]) -> Any:
        if kind == "double":
            return args[0] * 2
        if kind == "refuse":
            raise InvalidTransition("cannot pause bot 'x': it is stopped")
        raise Unpicklable("nope")

    a, _, told, tasks = await pair(on_ask)
    for i in range(100):
        a.tell("n", i)
    assert await a.ask("double", 21) == 42
    assert [args[0] for kind, args in told if kind == "n"] == list(range(100))
    with pytest.raises(InvalidTransition, match="cannot pause bot 'x'"):
        await a.ask("refuse")
    # An exception that cannot be pickled still ends the request, with its text.
    with pytest.raises(RemoteError, match="Unpicklable: nope"):
        await a.ask("other")
    a.close()
    await asyncio.gather(*tasks)


async def test_a_closed_end_fails_waiting_requests_and_new_sends() -> None:
    hold = asyncio.Event()

    async def on_ask(kind: str, args: tuple[Any, ...]) -> Any:
        await hold.wait()

    a, b, _, tasks = await pair(on_ask)
    waiting = asyncio.ensure_future(a.ask("wait"))
    await asyncio.sleep(0.05)
    b.close()
    with pytest.raises(PeerClosed):
        await waiting
    await asyncio.gather(*tasks)
    with pytest.raises(PeerClosed):
        a.tell("late")


def test_records_travel_as_themselves() -> None:
    order = OrderRecord(
        "b",
        "b-1",
        "P-b-1",
        "X",
        "buy",
        "limit",
        Decimal("2.50"),
        Decimal("99.1"),
        None,
        "gtc",
        False,
        "filled",
        Decimal("2.50"),
        Decimal("99.05"),
        Decimal("0.01"),
        "",
        "t",
        1,
        2,
    )
    fill = FillRecord(
        "b",
        "T-1",
        "b-1",
        "X",
        "buy",
        Decimal("2.5"),
        Decimal("99.05"),
        Decimal("0.01"),
        "USD",
        3,
        True,
    )
    position = Position(
        "X", Decimal(1), Decimal("2.5"), Decimal("99.05"), Decimal(0), Decimal(".01")
    )
    activity = Activity(
        [order],
        [fill],
        [PositionRecord("b", "X", Decimal("2.5"), Decimal("99.05"), Decimal(0), Decimal(".01"))],
        AccountRecord("b", Decimal(1000), Decimal("752.37"), Decimal(0), Decimal(".01"), 4),
        [
            EquityRecord(
                "b", 4, Decimal("999.99"), Decimal("752.37"), Decimal(0), Decimal(0), Decimal(0)
            )
        ],
        [EventRecord("b", datetime(2026, 12, 7, tzinfo=UTC), "info", "state", "running", {"k": 1})],
    )
    books = BooksView(1, Decimal("752.37"), Decimal(0), Decimal(".01"), {"X": position}, 3)
    back_activity, back_books = pickle.loads(dumps((activity, books)))
    assert back_activity == activity
    assert back_books.positions["X"] == position
    assert back_books.positions["X"].cost == position.cost  # kept, not derived again
    assert back_books == books
