"""The checks of a live crash soak (``testkit.live_soak``): the daemon's store against the fake
venue's own record, which is the truth.

- every fill the venue made on the account is stored exactly once, by the bot whose order it
  was (by the venue's client order id: Hyperliquid's cloid, Bybit's orderLinkId), with the
  venue's price, size, fee, side and order id; nothing else is stored;
- no client id reached the venue twice (an order is never sent again after a timeout or
  restart);
- per coin, the venue's position is the sum of the bots' stored positions, and of the
  positions their statuses show;
- the orders stored open are the ones open at the venue (by client id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal

from algotrade.core.money import ZERO
from algotrade.store.records import FillRecord
from testkit.live_soak_venue import VenueFill, VenueRecord
from testkit.soak_books import StoredBooks
from testkit.soak_told import Violation

__all__ = ["check_against_venue"]

_OPEN = ("accepted", "partially_filled")


ClientId = Callable[[str], str]  # our client order id → the venue's (cloid, orderLinkId)


def check_against_venue(
    books: StoredBooks,
    venue: VenueRecord,
    client_id: ClientId,
    shown_positions: Mapping[str, Mapping[str, Decimal]],
    life: int,
) -> list[Violation]:
    """Everything in the module doc; ``shown_positions``: bot → symbol → position as its
    status shows it (empty to skip that comparison)."""
    out = _check_fills(books, venue.fills, client_id, life)
    out += [
        Violation(
            "each order sent once",
            life,
            "-",
            f"client id {sent} reached the venue {n} times",
            f"client-id:{sent}",
        )
        for sent, n in sorted(venue.sends.items())
        if n > 1
    ]
    out += _check_positions(books, venue.positions, shown_positions, life)
    out += _check_open_orders(books, venue.open_client_ids, client_id, life)
    return out


def _check_fills(
    books: StoredBooks, venue_fills: list[VenueFill], client_id: ClientId, life: int
) -> list[Violation]:
    out: list[Violation] = []
    stored: dict[str, list[FillRecord]] = defaultdict(list)
    for fills in books.fills.values():
        for fill in fills:
            stored[fill.trade_id].append(fill)
    owners = {client_id(coid): bot_id for bot_id, orders in books.orders.items() for coid in orders}
    at_venue = set()
    for fill in venue_fills:
        tid = fill.trade_id
        at_venue.add(tid)
        records = stored.get(tid, [])
        shown = fill.describe()
        if len(records) != 1:
            what = "lost" if not records else f"stored {len(records)} times"
            out.append(
                Violation(
                    "venue fills stored once",
                    life,
                    "-",
                    f"fill {tid} {shown}: {what}",
                    f"fill:{tid}:{len(records)}",
                )
            )
            continue
        record = records[0]
        want = (
            fill.side,
            fill.price,
            fill.qty,
            fill.fee,
            fill.symbol,
            fill.venue_order_id,
        )
        got = (
            record.side,
            record.price,
            record.qty,
            record.fee,
            record.symbol,
            record.venue_order_id,
        )
        if got != want:
            out.append(
                Violation(
                    "venue fills stored once",
                    life,
                    record.bot_id,
                    f"fill {tid}: stored (side, price, qty, fee, symbol, order id) {got}, "
                    f"venue {want}",
                    f"fill-fields:{tid}",
                )
            )
        owner = owners.get(fill.client_id or "")
        if fill.client_id and owner != record.bot_id:
            out.append(
                Violation(
                    "venue fills stored once",
                    life,
                    record.bot_id,
                    f"fill {tid} of client id {fill.client_id} booked by {record.bot_id}, the "
                    f"order is {owner or 'stored by no bot'}'s",
                    f"fill-owner:{tid}",
                )
            )
    for tid, records in stored.items():
        if tid not in at_venue:
            out.append(
                Violation(
                    "venue fills stored once",
                    life,
                    records[0].bot_id,
                    f"trade id {tid} is stored but the venue never made it",
                    f"phantom:{tid}",
                )
            )
    return out


def _check_positions(
    books: StoredBooks,
    venue: Mapping[str, Decimal],
    shown: Mapping[str, Mapping[str, Decimal]],
    life: int,
) -> list[Violation]:
    out: list[Violation] = []
    stored: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for positions in books.positions.values():
        for symbol, record in positions.items():
            stored[symbol] += record.qty
    status: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for positions in shown.values():
        for symbol, qty in positions.items():
            status[symbol] += qty
    for coin in sorted(set(venue) | set(stored) | set(status)):
        want = venue.get(coin, ZERO)
        if stored[coin] != want:
            out.append(
                Violation(
                    "positions agree with the venue",
                    life,
                    "-",
                    f"{coin}: venue {want}, Σ stored positions {stored[coin]}",
                    f"position:{coin}:{stored[coin]}:{want}",
                )
            )
        if shown and status[coin] != want:
            out.append(
                Violation(
                    "positions agree with the venue",
                    life,
                    "-",
                    f"{coin}: venue {want}, Σ bot statuses {status[coin]}",
                    f"status-position:{coin}:{status[coin]}:{want}",
                )
            )
    return out


def _check_open_orders(
    books: StoredBooks, venue_open: set[str], client_id: ClientId, life: int
) -> list[Violation]:
    out: list[Violation] = []
    stored_open = {
        client_id(coid): (bot_id, coid)
        for bot_id, orders in books.orders.items()
        for coid, order in orders.items()
        if order.status in _OPEN
    }
    for sent in sorted(set(stored_open) - venue_open):
        bot_id, coid = stored_open[sent]
        out.append(
            Violation(
                "open orders agree with the venue",
                life,
                bot_id,
                f"{coid} is stored open but is not open at the venue",
                f"stale-open:{coid}",
            )
        )
    for sent in sorted(venue_open - set(stored_open)):
        out.append(
            Violation(
                "open orders agree with the venue",
                life,
                "-",
                f"client id {sent} is open at the venue but no bot has it open",
                f"unknown-open:{sent}",
            )
        )
    return out
