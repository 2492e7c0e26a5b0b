"""Delivering one order event of a live venue to the engine it is bound to."""

from __future__ import annotations

import logging
from collections.abc import Callable

from algotrade.core.events import OrderEvent
from algotrade.core.ports import VenueEventSink

__all__ = ["deliver"]


def deliver(
    sink: VenueEventSink | None,
    event: OrderEvent,
    venue: str,
    bot_id: str,
    on_error: Callable[[BaseException], None] | None,
    log: logging.Logger,
) -> None:
    """Hand ``event`` to the engine. A strategy callback that fails is logged and reported to
    ``on_error`` (the bot goes to error); it never escapes into the venue's own handling.
    ``RuntimeError`` naming ``venue`` when no engine is bound."""
    if sink is None:
        raise RuntimeError(f"{venue} venue is not bound to an engine")
    try:
        sink.on_order_event(event)
    except Exception as exc:  # a strategy callback failed: the bot goes to error
        log.exception("bot %s failed handling %s", bot_id, type(event).__name__)
        if on_error is not None:
            on_error(exc)
