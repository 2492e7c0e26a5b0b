"""What the daemon's connection to a live venue account does the same on every venue:
start the account (stopped again if starting fails), stop it, show it, reconcile it on
request and say why a bot is blocked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from algotrade.venues.registry import BotSpec

__all__ = ["AccountConnection", "LiveAccount", "Startable", "start_or_stop"]


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self, timeout: float = 5.0) -> None: ...


class LiveAccount(Startable, Protocol):
    @property
    def credentials(self) -> object | None: ...

    @property
    def blocked(self) -> Mapping[str, str]: ...

    def snapshot(self) -> dict[str, Any]: ...

    async def reconcile(self, reason: str) -> object: ...


A = TypeVar("A", bound=LiveAccount)


async def start_or_stop(account: Startable) -> None:
    """Start ``account``; if that fails (or is cancelled), stop what it started and re-raise."""
    try:
        await account.start()
    except BaseException:
        await account.stop()
        raise


class AccountConnection(Generic[A]):
    """A ``registry.VenueConnection`` over one shared account; subclasses add instruments,
    execution venues and bar feeds."""

    def __init__(self, account: A) -> None:
        self.account = account

    @property
    def venue_name(self) -> str:
        raise NotImplementedError

    async def stop(self, timeout: float = 5.0) -> None:
        await self.account.stop(timeout)

    def snapshot(self) -> dict[str, Any]:
        return self.account.snapshot()

    async def reconcile(self) -> dict[str, Any]:
        if self.account.credentials is None:
            raise LookupError(f"venue '{self.venue_name}' has no credentials: nothing to reconcile")
        await self.account.reconcile("requested")
        return self.account.snapshot()

    def blocked_reason(self, bot: BotSpec) -> str | None:
        return self.account.blocked.get(bot.symbol)
