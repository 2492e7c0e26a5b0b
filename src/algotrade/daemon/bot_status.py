"""Building a bot's ``BotStatus``: what the API, the WebSocket and the interfaces show."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from algotrade.core.money import decimal_text
from algotrade.core.timeutil import ns_to_iso
from algotrade.daemon.bot_config import FeedKind, VenueKind
from algotrade.daemon.status import BotStatus

if TYPE_CHECKING:
    from algotrade.daemon.actor import BotActor


def build_status(actor: BotActor) -> BotStatus:
    """The bot's status from its config, state and committed books (cached by the actor until
    something changes)."""
    config = actor.config
    equity, books = actor.committed_books.valued(actor.portfolio)
    pnl_today = actor.day_open.pnl_today(equity, time.time_ns())
    # model_construct: every field is built right here from typed values; validating
    # them again costs more than building them.
    return BotStatus.model_construct(
        bot_id=config.bot_id,
        state=actor.state,
        symbol=config.symbol,
        strategy=config.strategy,
        venue=str(config.venue),
        mode=config.mode.value,
        interval=config.interval,
        account_id=config.account_id,
        simulated=config.feed is FeedKind.SIM or config.venue is VenueKind.PAPER,
        heartbeat=ns_to_iso(actor.heartbeat_ns) if actor.heartbeat_ns else None,
        last_error=actor.last_error,
        blocked=actor.blocked or _account_lock(actor),
        # Client order ids are numbered per bot, so the sequence counts every order sent.
        order_count=max(actor.order_count, actor.engine.order_sequence if actor.engine else 0),
        **books,
        pnl_today=decimal_text(pnl_today),
        last_price=actor.last_price,
        started_at=actor.runtime.get("started_at"),
    )


def _account_lock(actor: BotActor) -> str | None:
    """Why the account risk engine refuses this bot's orders now, or None."""
    risk = actor.account_risk
    if risk is None or not risk.knows(actor.config.account_id):
        return None
    return risk.engine.lock_reason(actor.config.account_id, risk.now())
