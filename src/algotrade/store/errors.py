"""Errors the store raises; every one is an ``AlgoTradeError`` so callers can catch by layer."""

from __future__ import annotations

from algotrade.core.errors import AlgoTradeError, RetryableError


class StoreError(AlgoTradeError):
    """The store could not do what was asked (bad URL, failed migration, broken database)."""


class StoreUnavailableError(StoreError, RetryableError):
    """The database is unreachable or busy right now; the same call may succeed later.

    Nothing of the failed call was committed, so the caller can simply retry it."""


class DuplicateBotError(StoreError):
    """A bot with this id is already stored."""


class UnknownBotError(StoreError):
    """No bot with this id is stored."""
