"""Errors raised by the ProjectX adapter, rooted in the project's exception tree.

- ``ProjectXError``: root for adapter failures that fit no caller action below.
- ``ProjectXPayloadError``: a reply or hub message of an unknown or malformed shape;
  ``UnknownOrderStatus``: one order of a list has a status value the gateway does not document
  (only that order is left out).
- ``ProjectXAuthError``: the credentials were refused (``loginKey`` failed); do not retry
  blindly, a human must fix the username or API key.
- ``ProjectXApiError``: the gateway answered ``success: false`` with an ``errorCode``.
- ``ProjectXOrderRejected``: the gateway refused an order action (place, modify, cancel, close).
- ``ProjectXRateLimited``: HTTP 429 after every retry; back off and try later.
- ``ProjectXRequestFailed``: a transport failure or 5xx; the same request may succeed later.
- ``ProjectXRequestTimeout``: an order action was (maybe) sent and no answer came back: resolve it
  by the order's ``customTag`` (our client order id) before doing anything else.
- ``ProjectXBadRequest``: an HTTP 4xx other than 401/429: the request itself is wrong.
"""

from __future__ import annotations

from algotrade.core.errors import AlgoTradeError, OrderRejectedError, RetryableError

__all__ = [
    "VENUE_ERRORS",
    "ProjectXApiError",
    "ProjectXAuthError",
    "ProjectXBadRequest",
    "ProjectXError",
    "ProjectXOrderRejected",
    "ProjectXPayloadError",
    "ProjectXRateLimited",
    "ProjectXRequestFailed",
    "ProjectXRequestTimeout",
    "UnknownOrderStatus",
]


class ProjectXError(AlgoTradeError):
    """Root of ProjectX adapter errors that are not a rejection or a retryable failure."""


class ProjectXPayloadError(ProjectXError):
    """A payload from the gateway that is malformed or of an unknown shape."""


class UnknownOrderStatus(ProjectXPayloadError):
    """An order whose ``status`` is a value the gateway does not document (``value``); the
    rest of the order is not read. ``contract_id`` when the order names one."""

    def __init__(self, message: str, *, order_id: int, contract_id: str | None, value: int) -> None:
        super().__init__(message)
        self.order_id = order_id
        self.contract_id = contract_id
        self.value = value


class ProjectXAuthError(ProjectXError):
    """The gateway refused our credentials or our session token could not be renewed."""


class ProjectXApiError(ProjectXError):
    """A reply with ``success: false``. ``endpoint`` is the path, ``error_code`` the gateway's
    ``errorCode`` (0 would mean success, so it is never 0 here)."""

    def __init__(self, message: str, *, endpoint: str, error_code: int) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.error_code = error_code


class ProjectXOrderRejected(OrderRejectedError):
    """An order action (place, modify, cancel, close position) the gateway refused.
    ``order_id``: the order the refusal names, when it names one (a placement the gateway
    reports as pending or failed may still have created an order)."""

    def __init__(
        self, message: str, *, endpoint: str, error_code: int, order_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.error_code = error_code
        self.order_id = order_id


class ProjectXRateLimited(RetryableError):
    """The gateway throttled us (HTTP 429) and every retry was throttled too."""


class ProjectXRequestFailed(RetryableError):
    """A request failed in transit or with a server error."""


class ProjectXRequestTimeout(ProjectXRequestFailed):
    """An order action whose outcome is unknown: it may have been applied. Look the order up by
    its ``customTag`` (``Order/search``/``searchOpen``) before sending it again."""


class ProjectXBadRequest(ProjectXError):
    """HTTP 4xx other than 401 and 429: sending the same request again will not help."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


#: Everything a request to the gateway may raise on purpose, for callers that handle them alike.
VENUE_ERRORS: tuple[type[Exception], ...] = (
    ProjectXError,
    ProjectXOrderRejected,
    ProjectXRateLimited,
    ProjectXRequestFailed,
)
