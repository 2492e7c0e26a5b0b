"""The application-service interface that the API, the file channel and the CLI use.

``BotService`` (daemon/service.py) implements it; the API layer depends only on this
Protocol, so its tests can use a fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from algotrade.core.errors import AlgoTradeError, InputError, RetryableError
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import EventBus
from algotrade.daemon.status import BotStatus
from algotrade.store.records import Page

if TYPE_CHECKING:
    from algotrade.daemon.risk_service import RiskService

__all__ = ["BotServiceApi", "Page", "ServiceError"]


class ServiceError(AlgoTradeError):
    """A request the service refused; ``code`` maps to an HTTP status in the API.

    Grouped like the rest of the tree by what the caller should do: most are the client's
    input (``InputError``: fix the request), two are about now (``RetryableError``: the venue
    is not connected yet, the daemon is restarting)."""

    code = "error"
    http_status = 400


class BotNotFound(ServiceError, InputError):
    code = "not_found"
    http_status = 404


class BotExists(ServiceError, InputError):
    code = "conflict"
    http_status = 409


class BotLimitReached(ServiceError, InputError):
    code = "bot_limit"
    http_status = 409


class InvalidBotConfig(ServiceError, InputError):
    code = "invalid_config"
    http_status = 422


class InvalidTransition(ServiceError, InputError):
    """E.g. pausing a stopped bot."""

    code = "invalid_state"
    http_status = 409


class VenueNotFound(ServiceError, InputError):
    """No venue of that name is registered."""

    code = "not_found"
    http_status = 404


class VenueNotConnected(ServiceError, RetryableError):
    code = "venue_not_connected"
    http_status = 409


class ShuttingDown(ServiceError, RetryableError):
    code = "shutting_down"
    http_status = 503


class BotServiceApi(Protocol):
    bus: EventBus
    risk: RiskService | None  # the account risk engine, when accounts are configured

    async def list_bots(self) -> list[BotStatus]: ...

    async def list_bots_json(self) -> bytes:
        """``list_bots`` as a JSON array (the API's hot read; services may cache per bot)."""

    async def get_bot(self, bot_id: str) -> tuple[BotConfig, BotStatus]: ...

    async def create_bot(self, config: BotConfig) -> BotStatus: ...

    async def delete_bot(self, bot_id: str) -> None: ...

    async def start_bot(self, bot_id: str) -> BotStatus: ...

    async def stop_bot(self, bot_id: str) -> BotStatus: ...

    async def pause_bot(self, bot_id: str) -> BotStatus: ...

    async def resume_bot(self, bot_id: str) -> BotStatus: ...

    async def update_config(self, bot_id: str, changes: dict[str, Any]) -> BotConfig: ...

    async def close_all(self, bot_id: str | None = None) -> None:
        """Cancel open orders and flatten positions of one bot (or all)."""

    async def orders(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        """A page of the bot's orders in creation order (``newest_first``: reversed)."""

    async def fills(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]: ...

    async def positions(self, bot_id: str) -> list[dict[str, Any]]: ...

    async def equity(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]: ...

    async def logs(self, bot_id: str, offset: int, limit: int) -> Page[dict[str, Any]]:
        """The bot's event log lines, newest first."""

    async def bars(self, bot_id: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` bars the bot's strategy saw, oldest first (kept in memory)."""

    async def summary(self) -> dict[str, Any]:
        """Totals across bots, alerts and lockouts (``daemon.summary.build_summary``)."""

    async def venue_status(self) -> list[dict[str, Any]]:
        """Each connected live venue: connection, last reconciliation, blocks, alerts."""

    async def reconcile_venue(self, venue: str) -> dict[str, Any]:
        """Reconcile a live venue now; raises ``VenueNotConnected``."""

    def health(self) -> dict[str, Any]:
        """Cheap liveness facts: state, uptime, bot counts by state, database ok."""

    async def request_shutdown(self) -> None:
        """Ask the daemon to stop gracefully (file channel SHUTDOWN)."""
