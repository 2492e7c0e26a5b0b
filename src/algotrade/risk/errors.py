"""Errors of the account risk engine, rooted in the project's tree (``core.errors``)."""

from __future__ import annotations

from algotrade.core.errors import InputError

__all__ = ["UnknownAccount"]


class UnknownAccount(InputError):
    """An account id that is not in the risk configuration (``accounts.yaml``): the caller
    named it, so it is bad input (the CLI prints one line and exits 2)."""
