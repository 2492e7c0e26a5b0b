"""Errors raised by the Hyperliquid adapter, rooted in the project's exception tree.

- ``HyperliquidError``: root for adapter failures that fit no caller action below.
- ``HlPayloadError``: a malformed or unknown payload (meta, order response, websocket message).
- ``HlOrderRejected``: a local rule or the venue refused an order; report it, do not retry.
- ``HlRateLimited``: the venue throttled us; back off and retry.
- ``HlRequestFailed``: a transport failure or 5xx; the same request may succeed later.
- ``HlRequestTimeout``: an exchange action was (maybe) sent but no answer came back: it may or
  may not have been applied. Resolve by client order id before doing anything else.
- ``HlBadRequest``: the venue answered 4xx (other than 429); the request itself is wrong.
"""

from __future__ import annotations

from algotrade.core.errors import AlgoTradeError, OrderRejectedError, RetryableError

__all__ = [
    "VENUE_ERRORS",
    "HlBadRequest",
    "HlOrderRejected",
    "HlPayloadError",
    "HlRateLimited",
    "HlRequestFailed",
    "HlRequestTimeout",
    "HyperliquidError",
]


class HyperliquidError(AlgoTradeError):
    """Root of Hyperliquid adapter errors that are not a rejection or a retryable failure."""


class HlPayloadError(HyperliquidError):
    """A payload from Hyperliquid that is malformed or of an unknown shape."""


class HlOrderRejected(OrderRejectedError):
    """An order refused by a local Hyperliquid rule or by the venue.

    ``rule`` names the rule that failed (``"price_sig_figs"``, ``"price_decimals"``,
    ``"size_decimals"``, ``"min_value"``, ``"non_positive"``, ``"venue"``...), so callers and
    tests can branch on it without parsing the message.
    """

    def __init__(self, message: str, *, rule: str = "") -> None:
        super().__init__(message)
        self.rule = rule


class HlRateLimited(RetryableError):
    """Hyperliquid throttled the request (HTTP 429 or a rate-limit response)."""


class HlRequestFailed(RetryableError):
    """A request to Hyperliquid failed in transit or with a server error."""


class HlRequestTimeout(HlRequestFailed):
    """An exchange request whose outcome is unknown: it was sent (or partly sent) and the
    connection timed out or broke before the reply. The action may have been applied, so it is
    never retried blindly: look the orders up by cloid (``orderStatus``/``openOrders``) first."""


class HlBadRequest(HyperliquidError):
    """The venue answered with a 4xx status other than 429: the request is malformed or not
    allowed, and sending it again will not help. ``status`` is the HTTP status code."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


#: Everything a request to Hyperliquid may raise on purpose (rejections, throttling,
#: transport failures, malformed replies), for callers that handle them alike.
VENUE_ERRORS: tuple[type[Exception], ...] = (HyperliquidError, HlRateLimited, HlRequestFailed)
