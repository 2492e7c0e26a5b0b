"""Reconciliation of the bots' books with the ProjectX account, fail-closed per contract.

One run (``Reconciler.run``) fetches the account's open positions (``Position/searchOpen``),
open orders (``Order/searchOpen``) and the trades since the newest one seen (``Trade/search``;
the first run after a restart from further back, ``OrderRouter``); routes the missed trades to
their bots (gap fill); aligns orders (ours listed → adopted/acknowledged, ours missing → looked
up one by one, others → reported once they stay unclaimed); asks again about placements whose
outcome is unknown; and compares positions per contract name. A disagreeing contract is read
once more after a short pause (a fill landing between the two reads is not a mismatch); one
that still disagrees raises an alert and blocks every bot trading it until a later run finds
agreement.

Positions are compared as the venue's signed size minus the trades no bot has claimed yet
(within ``pending_claim_s``) against the sum of the bots' positions; contracts with requests
in flight are skipped (their outcome is not known yet). The pure comparison is
``compare_positions``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from algotrade.core.money import ZERO, decimal_text
from algotrade.core.timeutil import ns_to_iso
from algotrade.venues.live.positions import position_differences
from algotrade.venues.projectx.errors import VENUE_ERRORS
from algotrade.venues.projectx.schemas import Order, OrderSide, Position

if TYPE_CHECKING:
    from algotrade.venues.projectx.connection import ProjectXConnection

__all__ = [
    "PositionMismatch",
    "ReconcileReport",
    "Reconciler",
    "compare_positions",
]

_log = logging.getLogger("algotrade.venues.projectx")
CONFIRM_DELAY_S = 0.5


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    contract: str
    local: Decimal
    venue: Decimal

    @property
    def message(self) -> str:
        return (
            f"position mismatch on {self.contract}: the bots hold {decimal_text(self.local)}, "
            f"ProjectX reports {decimal_text(self.venue)}"
        )


def compare_positions(
    local: Mapping[str, Decimal], venue: Mapping[str, Decimal], *, skip: Collection[str] = ()
) -> list[PositionMismatch]:
    """Contracts (by name) whose summed local position differs from the venue's."""
    return [
        PositionMismatch(contract, mine, theirs)
        for contract, mine, theirs in position_differences(local, venue, skip=skip)
    ]


@dataclass(slots=True)
class ReconcileReport:
    reason: str
    at_ns: int
    trades_routed: int = 0
    orders_adopted: int = 0
    orders_rechecked: int = 0
    foreign_orders: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "at": ns_to_iso(self.at_ns),
            "fills_routed": self.trades_routed,
            "orders_adopted": self.orders_adopted,
            "orders_rechecked": self.orders_rechecked,
            "foreign_orders": list(self.foreign_orders),
            "mismatches": list(self.mismatches),
        }


class Reconciler:
    def __init__(self, connection: ProjectXConnection) -> None:
        self._c = connection
        self._lock = asyncio.Lock()
        self._unclaimed_orders: dict[int, float] = {}  # order id → first seen unclaimed
        self.last_report: ReconcileReport | None = None
        self.runs = 0
        self.failures = 0

    async def run(self, reason: str) -> ReconcileReport:
        c = self._c
        assert c.account is not None
        async with self._lock:
            report = ReconcileReport(reason, time.time_ns())
            try:
                positions = await c.http.search_open_positions(account_id=c.account.id)
                read_at = time.monotonic()
                open_orders = await c.http.search_open_orders(account_id=c.account.id)
                trades = await c.fetch_trades(c.router.search_from_ns())
            except VENUE_ERRORS as exc:
                self.failures += 1
                _log.warning(
                    "projectx reconciliation (%s) could not read the account: %s", reason, exc
                )
                raise
            report.trades_routed = c.router.route_trades(trades)
            c.router.resumed()
            c.blocks.report_unreadable(open_orders.unreadable, c.contracts.name_of)
            self._align_orders(open_orders, read_at, report)
            for venue, coid in c.router.unresolved_placements():
                venue.resolve_again(coid)
            mismatches = self._compare(positions)
            if mismatches:
                # Read again: a fill between the position read and the books is no mismatch.
                await asyncio.sleep(CONFIRM_DELAY_S)
                try:
                    positions = await c.http.search_open_positions(account_id=c.account.id)
                    report.trades_routed += c.router.route_trades(
                        await c.fetch_trades(c.router.search_from_ns())
                    )
                except VENUE_ERRORS as exc:
                    self.failures += 1
                    _log.warning(
                        "projectx reconciliation (%s): second read failed: %s", reason, exc
                    )
                    raise
                again = {m.contract: m for m in self._compare(positions)}
                mismatches = [again[m.contract] for m in mismatches if m.contract in again]
            self._apply(mismatches, report)
            self.runs += 1
            self.last_report = report
            return report

    # ------------------------------------------------------------------ orders
    def _align_orders(
        self, open_orders: list[Order], read_at: float, report: ReconcileReport
    ) -> None:
        c = self._c
        listed = {o.custom_tag: o for o in open_orders if o.custom_tag}
        c.router.open_at_venue = dict(listed)
        in_flight = c.in_flight()
        for tag, (venue, coid) in c.router.routes().items():
            order = listed.get(tag)
            if order is not None:
                c.router.note_order_id(order.id, tag)
                venue.on_venue_order(coid, order, as_of=read_at)
                report.orders_adopted += 1
            elif venue.recheck(coid, skip=in_flight):
                report.orders_rechecked += 1
        routed = c.router.routes()
        now = time.monotonic()
        foreign = [o for o in open_orders if not o.custom_tag or o.custom_tag not in routed]
        seen_ids = {o.id for o in foreign}
        for order_id in [i for i in self._unclaimed_orders if i not in seen_ids]:
            del self._unclaimed_orders[order_id]
        for order in foreign:
            # A restarting bot adopts its orders a moment after the first reconciliation: an
            # order is foreign only once it has stayed unclaimed for a while.
            first_seen = self._unclaimed_orders.setdefault(order.id, now)
            if now - first_seen < c.config.pending_claim_s:
                continue
            name = c.contracts.name_of(order.contract_id)
            report.foreign_orders.append(f"{name} order {order.id}")
            if c.blocks.reported_once(f"order:{order.id}"):
                price = order.limit_price or order.stop_price
                c.blocks.report(
                    f"open order {order.id} on {name} ({order.side.name.lower()} {order.size}"
                    f"{' @ ' + decimal_text(price) if price is not None else ''}, customTag "
                    f"{order.custom_tag or 'none'}) is not known to any bot; left untouched"
                )

    # ------------------------------------------------------------------ positions
    def _compare(self, positions: Iterable[Position]) -> list[PositionMismatch]:
        c = self._c
        if c.owner is None:
            return []
        venue: dict[str, Decimal] = {}
        for position in positions:
            name = c.contracts.name_of(position.contract_id)
            venue[name] = venue.get(name, ZERO) + Decimal(position.signed_size)
        now = time.monotonic()
        for trade, seen_at in c.router.pending_trades():
            name = c.contracts.name_of(trade.contract_id)
            if now - seen_at < c.config.pending_claim_s:
                # Not claimed yet (a bot may still adopt its order): not in the books either.
                sign = 1 if trade.side is OrderSide.BID else -1
                venue[name] = venue.get(name, ZERO) - Decimal(trade.size) * sign
            elif c.blocks.reported_once(f"trade:{trade.id}"):
                c.blocks.report(
                    f"trade {trade.id} on {name} (order {trade.order_id}) belongs to no bot on "
                    "this daemon"
                )
        local: dict[str, Decimal] = {}
        for symbol, qty in c.owner.local_positions().items():
            name = c.contracts.name_of(symbol)
            local[name] = local.get(name, ZERO) + qty
        return compare_positions(local, venue, skip=c.in_flight())

    def _apply(self, mismatches: list[PositionMismatch], report: ReconcileReport) -> None:
        c = self._c
        current = c.blocks.mismatches()
        found = {m.contract: m.message for m in mismatches}
        for mismatch in mismatches:
            report.mismatches.append(mismatch.message)
            if current.get(mismatch.contract) != mismatch.message:
                c.blocks.report(mismatch.message + "; its bots are blocked")
            c.blocks.set_mismatch(mismatch.contract, mismatch.message)
        in_flight = c.in_flight()
        for contract in current:
            if contract not in found and contract not in in_flight:
                c.blocks.set_mismatch(contract, None)
        c.blocks.apply()
