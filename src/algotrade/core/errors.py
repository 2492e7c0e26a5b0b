"""One rooted exception tree, grouped by what the caller should do about it.

- ``InputError``: the user gave something wrong; say what and where, do not retry.
- ``OrderRejectedError``: a pre-trade check or a venue refused an order; report it.
- ``RetryableError``: a transient failure (network, rate limit); try again later.
- ``HaltError``: state is inconsistent; stop trading until a human looks.
"""

from __future__ import annotations


class AlgoTradeError(Exception):
    """Root of every error this project raises on purpose."""


class InputError(AlgoTradeError):
    """Bad input from a user: a file, a parameter, a config value."""


class DataError(InputError):
    """Market data that cannot be used: missing column, malformed value, unsorted rows."""


class ConfigError(InputError):
    """A configuration or parameter value that does not validate."""


class OrderRejectedError(AlgoTradeError):
    """An order that a pre-trade check or a venue refused."""


class InvalidOrderTransitionError(AlgoTradeError):
    """An order event that is not allowed in the order's current state (a bug or a venue bug)."""


class RetryableError(AlgoTradeError):
    """A transient failure; the same call may succeed later."""


class HaltError(AlgoTradeError):
    """Local and venue state disagree; trading must stop until resolved."""
