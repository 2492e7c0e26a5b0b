"""Who carries out a risk enforcement: the bots trading an account, or the watched account
itself at its venue.

- **Bots** (``BotTargets``): cancels go to every bot of the account (their open orders, one
  order, or those of a symbol); a close is shared among the bots holding the symbol, never
  more than still needed.
- **A watched account** (``WatchedTarget``, accounts.yaml ``watch``): the venue is asked
  directly, whoever placed the orders (a person in the broker's platform included): cancel
  the orders, close the position through the venue's API. A close never goes past flat (the
  venue adapter also never sends more than is held).

``RiskService`` runs the retries, the checks and the failure handling the same way for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from algotrade.risk.decisions import Action
from algotrade.venues.registry import WatchedAccount

__all__ = [
    "BotTargets",
    "EnforcementBot",
    "EnforcementTarget",
    "NotConnected",
    "WatchView",
    "WatchedTarget",
]

ZERO = Decimal(0)


class WatchView(Protocol):
    """A watched account's connection to its venue (``daemon.account_watch``)."""

    @property
    def account(self) -> WatchedAccount | None:
        """The live watch, or None while it is not connected."""

    def status(self) -> dict[str, Any]:
        """Connection state for the API: venue, venue account, connected, last event, …"""


class NotConnected(Exception):
    """Enforcement at a watched account whose venue watch is down (retried, then failed)."""


class EnforcementTarget(Protocol):
    async def cancel(self, action: Action) -> None:
        """Cancel the orders ``action`` names (one, a symbol's, or all)."""

    async def close(self, symbol: str, qty: Decimal) -> Decimal:
        """Trade ``qty`` (signed) of ``symbol`` to reduce the position; the qty sent."""


class EnforcementBot(Protocol):
    """The part of a bot actor enforcement uses (``daemon.actor.BotActor.enforce``)."""

    def enforce(
        self,
        kind: str,
        symbol: str,
        qty: Decimal,
        *,
        order_id: str = "",
        keep_protective: bool = True,
    ) -> Decimal: ...


class BotTargets:
    def __init__(self, bots: Sequence[EnforcementBot]) -> None:
        self.bots = list(bots)

    async def cancel(self, action: Action) -> None:
        for bot in self.bots:
            bot.enforce(
                action.kind.value,
                action.symbol,
                action.qty,
                order_id=action.order_id,
                keep_protective=action.keep_protective,
            )

    async def close(self, symbol: str, qty: Decimal) -> Decimal:
        remaining, sent = qty, ZERO
        for bot in self.bots:  # share the close out; never close more than still needed
            if remaining == 0:
                break
            done = abs(bot.enforce("close_position", symbol, remaining))
            sent += done
            remaining = remaining - done if remaining > 0 else remaining + done
        return sent


class WatchedTarget:
    def __init__(self, account: WatchedAccount) -> None:
        self.account = account

    async def cancel(self, action: Action) -> None:
        await self.account.cancel_orders(
            action.symbol or None,
            action.order_id or None,
            keep_protective=action.keep_protective,
        )

    async def close(self, symbol: str, qty: Decimal) -> Decimal:
        return await self.account.close_position(symbol, abs(qty))
