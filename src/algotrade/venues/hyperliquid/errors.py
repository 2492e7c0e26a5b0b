"""Errors raised by the Hyperliquid adapter, rooted in the project's exception tree.

- ``HyperliquidError``: root for adapter failures that fit no caller action below.
- ``HlPayloadError``: a malformed or unknown payload (meta, order response, websocket message).
- ``HlOrderRejected``: a local rule or the venue refused an order; report it, do not retry.
- ``HlRateLimited``: the venue throttled us; back off and retry.
- ``HlRequestFailed``: a transport failure or 5xx; the same request may succeed later.
"""

from __future__ import annotations

from algotrade.core.errors import AlgoTradeError, OrderRejectedError, RetryableError

__all__ = [
    "HlOrderRejected",
    "HlPayloadError",
    "HlRateLimited",
    "HlRequestFailed",
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
