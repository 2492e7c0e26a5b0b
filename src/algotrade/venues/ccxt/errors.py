"""Errors of the ccxt venue, rooted in the project's tree and grouped by what to do.

- ``VenueRefused``: the venue (or a local instrument rule) refused the request; it was not
  executed. ``code`` is the venue's (Bybit ``retCode``), ``rule`` the local rule's name.
- ``OrderUnknown`` (Bybit 110001) / ``OrderFinished`` (110008): the order named is not open;
  look it up to learn what became of it.
- ``DuplicateClientId`` (Bybit 110072): an order with this client id exists already: the
  earlier attempt reached the venue; look it up, never send again.
- ``RateLimited``: throttled (HTTP 429/403, Bybit 10006); not executed; retry after
  ``retry_at_ms``.
- ``OutcomeUnknown``: the request may or may not have been executed (timeout, 5xx, broken
  connection, unreadable reply); resolve by client order id before anything else.
- ``AuthFailed``: the credentials were refused; nothing will work until they are fixed.
- ``AccessRestricted``: the venue refuses this IP address or region (not the credentials);
  retrying does not help, the operator has to settle it with the venue.
- ``PayloadError``: a reply or push of an unexpected shape.
"""

from __future__ import annotations

from algotrade.core.errors import AlgoTradeError, OrderRejectedError, RetryableError

__all__ = [
    "VENUE_ERRORS",
    "AccessRestricted",
    "AuthFailed",
    "CcxtVenueError",
    "DuplicateClientId",
    "OrderFinished",
    "OrderUnknown",
    "OutcomeUnknown",
    "PayloadError",
    "RateLimited",
    "VenueRefused",
]


class CcxtVenueError(AlgoTradeError):
    """Root of the ccxt venue's errors that are neither a refusal nor retryable."""


class PayloadError(CcxtVenueError):
    """A reply or push of an unexpected shape."""


class AuthFailed(CcxtVenueError):
    """The venue refused our credentials (or the IP is not whitelisted for the key)."""


class AccessRestricted(CcxtVenueError):
    """The venue refuses access from this IP address or region; the key is not the problem."""


class VenueRefused(OrderRejectedError):
    """The venue (``code``) or a local instrument rule (``rule``) refused the request."""

    def __init__(self, message: str, *, code: int = 0, rule: str = "venue") -> None:
        super().__init__(message)
        self.code = code
        self.rule = rule


class OrderUnknown(VenueRefused):
    """The order named does not exist (or no longer is open) at the venue."""


class OrderFinished(VenueRefused):
    """The order named is filled or cancelled already."""


class DuplicateClientId(CcxtVenueError):
    """An order with this client order id was placed before."""


class RateLimited(RetryableError):
    """Throttled; the request was not executed. Retry after ``retry_at_ms`` (epoch ms)."""

    def __init__(self, message: str, *, retry_at_ms: int) -> None:
        super().__init__(message)
        self.retry_at_ms = retry_at_ms


class OutcomeUnknown(RetryableError):
    """No usable answer: the request may have been executed."""


#: What a request may raise on purpose, for callers that treat them alike.
VENUE_ERRORS: tuple[type[Exception], ...] = (
    CcxtVenueError,
    VenueRefused,
    RateLimited,
    OutcomeUnknown,
)
