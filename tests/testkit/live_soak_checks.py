"""The checks of a live crash soak (``testkit.live_soak``): the daemon's store against the fake
venue's own record, which is the truth.

- every fill the venue made on the account is stored exactly once, by the bot whose order it
  was (by cloid), with the venue's price, size, fee and side; nothing else is stored;
- no cloid reached the venue twice (an order is never sent again after a timeout or restart);
- per coin, the venue's position is the sum of the bots' stored positions, and of the
  positions their statuses show;
- the orders stored open are the ones open at the venue (by cloid).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from algotrade.core.money import ZERO
from algotrade.store.records import FillRecord
from algotrade.venues.hyperliquid.exchange import cloid_for
from testkit.soak_books import StoredBooks
from testkit.soak_told import Violation

__all__ = ["check_against_venue"]

_OPEN = ("accepted", "partially_filled")


def check_against_venue(
    books: StoredBooks,
    venue_fills: list[dict[str, Any]],
    cloid_requests: Mapping[str, int],
    venue_positions: Mapping[str, Decimal],
    venue_open_cloids: Iterable[str],
    shown_positions: Mapping[str, Mapping[str, Decimal]],
    life: int,
) -> list[Violation]:
    """Everything in the module doc; ``shown_positions``: bot → symbol → position as its
    status shows it (empty to skip that comparison)."""
    out = _check_fills(books, venue_fills, life)
    out += [
        Violation(
            "each order sent once",
            life,
            "-",
            f"cloid {cloid} reached the venue {n} times",
            f"cloid:{cloid}",
        )
        for cloid, n in sorted(cloid_requests.items())
        if n > 1
    ]
    out += _check_positions(books, venue_positions, shown_positions, life)
    out += _check_open_orders(books, set(venue_open_cloids), life)
    return out


def _check_fills(
    books: StoredBooks, venue_fills: list[dict[str, Any]], life: int
) -> list[Violation]:
    out: list[Violation] = []
    stored: dict[str, list[FillRecord]] = defaultdict(list)
    for fills in books.fills.values():
        for fill in fills:
            stored[fill.trade_id].append(fill)
    owners = {cloid_for(coid): bot_id for bot_id, orders in books.orders.items() for coid in orders}
    at_venue = set()
    for fill in venue_fills:
        tid = str(fill["tid"])
        at_venue.add(tid)
        records = stored.get(tid, [])
        shown = f"{fill['side']} {fill['sz']} {fill['coin']} @ {fill['px']} (oid {fill['oid']})"
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
            "buy" if fill["side"] == "B" else "sell",
            Decimal(fill["px"]),
            Decimal(fill["sz"]),
            Decimal(fill["fee"]),
            fill["coin"],
            str(fill["oid"]),
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
                    f"fill {tid}: stored (side, px, sz, fee, coin, oid) {got}, venue {want}",
                    f"fill-fields:{tid}",
                )
            )
        owner = owners.get(str(fill.get("cloid") or "").lower())
        if fill.get("cloid") and owner != record.bot_id:
            out.append(
                Violation(
                    "venue fills stored once",
                    life,
                    record.bot_id,
                    f"fill {tid} of cloid {fill['cloid']} booked by {record.bot_id}, the order "
                    f"is {owner or 'stored by no bot'}'s",
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


def _check_open_orders(books: StoredBooks, venue_open: set[str], life: int) -> list[Violation]:
    out: list[Violation] = []
    stored_open = {
        cloid_for(coid): (bot_id, coid)
        for bot_id, orders in books.orders.items()
        for coid, order in orders.items()
        if order.status in _OPEN
    }
    for cloid in sorted(set(stored_open) - venue_open):
        bot_id, coid = stored_open[cloid]
        out.append(
            Violation(
                "open orders agree with the venue",
                life,
                bot_id,
                f"{coid} is stored open but is not open at the venue",
                f"stale-open:{coid}",
            )
        )
    for cloid in sorted(venue_open - set(stored_open)):
        out.append(
            Violation(
                "open orders agree with the venue",
                life,
                "-",
                f"cloid {cloid} is open at the venue but no bot has it open",
                f"unknown-open:{cloid}",
            )
        )
    return out
