"""What a bot's status may tell of its books: the state as of its last committed activity.

A fill is acknowledged (status, WebSocket, API) only once it is stored, so a status must not
show a position, cash or fill count that a crash could still take back. The actor takes a
``BooksView`` when it hands activity to the writer and shows it once that activity commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from algotrade.core.money import EXACT, decimal_text
from algotrade.core.portfolio import Portfolio, Position
from algotrade.core.timeutil import ns_to_iso

if TYPE_CHECKING:
    from algotrade.daemon.actor import BotActor


@dataclass(frozen=True, slots=True)
class BooksView:
    fill_count: int
    cash: Decimal
    realized_pnl: Decimal
    fees: Decimal
    positions: dict[str, Position]  # copies: the live ones keep changing
    last_fill_ts: int | None = None

    @classmethod
    def of(cls, portfolio: Portfolio, fill_count: int, last_fill_ts: int | None) -> BooksView:
        return cls(
            fill_count,
            portfolio.cash,
            portfolio.realized_pnl,
            portfolio.fees_paid,
            {s: p.copy() for s, p in portfolio.positions.items() if p.qty},
            last_fill_ts,
        )

    def valued(self, marks: Portfolio) -> tuple[Decimal, dict[str, Any]]:
        """The equity and the money fields of a ``BotStatus``, valued at the portfolio's
        current marks."""
        with localcontext(EXACT):
            values = {s: p.market_value(marks.mark(s)) for s, p in self.positions.items()}
            equity = self.cash + sum(values.values(), Decimal(0))
            unrealized = sum((values[s] - p.cost for s, p in self.positions.items()), Decimal(0))
        return equity, {
            "position": {s: decimal_text(p.qty) for s, p in self.positions.items()},
            "equity": decimal_text(equity),
            "realized_pnl": decimal_text(self.realized_pnl),
            "unrealized_pnl": decimal_text(unrealized),
            "fees": decimal_text(self.fees),
            "fill_count": self.fill_count,
            "last_fill_at": None if self.last_fill_ts is None else ns_to_iso(self.last_fill_ts),
        }


def movable_books(actor: BotActor) -> dict[str, Any]:
    """What a stopped bot is built again from in another process (``daemon.bot_workers``):
    the keyword arguments of ``BotActor`` and ``BotShadow``. Its open orders and order numbers
    are read from the store by its next engine, as after a restart."""
    engine = actor.engine
    return {
        "runtime": dict(actor.runtime),
        "portfolio": actor.portfolio,
        "order_count": max(actor.order_count, engine.order_sequence if engine else 0),
        "fill_count": actor.fill_count,
        "last_fill_ts": actor.last_fill_ts,
        "day_open_equity": actor.day_open.opening,
    }
