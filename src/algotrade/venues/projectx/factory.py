"""ProjectX's entry in the venue registry (``venues/registry.py``): futures through a ProjectX
Gateway (TopstepX and the other firms running on it).

Imported when a bot, a settings section or a command first names "projectx": it loads only
the config and the interval rules; the REST client, the SignalR hubs (pysignalr) and the
per-bot execution code load when the daemon connects or ``fetch-data`` downloads.

The ``[venues.projectx]`` section is ``ProjectXVenueConfig``: the gateway settings of
``ProjectXConfig`` plus the account the bots trade (``account``: its id or its name) and the
feed/reconciliation timings. Credentials never go there (``ALGOTRADE_PROJECTX_USERNAME`` /
``ALGOTRADE_PROJECTX_API_KEY`` or their ``*_FILE`` twins). A bot's ``account_id`` is the
daemon's risk-engine account, not the gateway's: one connection trades one gateway account
(register the factory again under another name for a second one, see docs/projectx.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algotrade.core.strategy import describe_validation_error
from algotrade.venues.live.connection import start_or_stop
from algotrade.venues.projectx.config import ProjectXConfig
from algotrade.venues.registry import (
    BotFeedHandle,
    BotSpec,
    HistoryOptions,
    VenueConnection,
    VenueFactory,
    VenueOwner,
    WatchedAccount,
    WatchedAccountSink,
)

if TYPE_CHECKING:
    from algotrade.core.events import Bar
    from algotrade.core.instruments import Instrument
    from algotrade.core.ports import ExecutionVenue
    from algotrade.venues.projectx.connection import ProjectXConnection

__all__ = [
    "HISTORY_INTERVALS",
    "ProjectXFactory",
    "ProjectXFeedOptions",
    "ProjectXVenueConfig",
    "bar_unit_of",
    "factory",
]

_log = logging.getLogger("algotrade.daemon.venues")

# A bot interval: a number and a unit the gateway aggregates bars in (second .. day).
_INTERVAL = re.compile(r"^([1-9]\d{0,5})(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
#: ``BarUnit`` values of ``History/retrieveBars`` (schemas.BarUnit) by interval unit.
_BAR_UNIT = {"s": 1, "m": 2, "h": 3, "d": 4}
#: What ``fetch-data --venue projectx --interval`` accepts: interval → length in ms.
HISTORY_INTERVALS: dict[str, int] = {
    name: int(name[:-1]) * _UNIT_S[name[-1]] * 1000
    for name in (
        "1s", "5s", "10s", "15s", "30s", "1m", "2m", "3m", "5m", "10m", "15m", "30m",
        "1h", "2h", "4h", "1d",
    )
}  # fmt: skip
#: Longest bot interval the feed serves (a week of seconds keeps one request per bar sane).
MAX_INTERVAL_S = 7 * 86_400


def bar_unit_of(interval: str) -> tuple[int, int, int]:
    """``(unit, unitNumber, seconds)`` of a bot interval such as ``5m``; ``ValueError``
    naming the field when the gateway cannot aggregate bars that way."""
    match = _INTERVAL.match(interval)
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)] if match else 0
    if match is None or seconds > MAX_INTERVAL_S:
        raise ValueError(
            "interval: ProjectX bars are a whole number of seconds, minutes, hours or days "
            f"(e.g. 30s, 1m, 5m, 1h, 1d; at most 7d); got '{interval}'"
        )
    return _BAR_UNIT[match.group(2)], int(match.group(1)), seconds


class ProjectXVenueConfig(ProjectXConfig):
    """``[venues.projectx]``: the gateway (URLs, limits, hubs) and what the bots trade."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str | None = Field(
        default=None,
        description="the gateway account the bots trade: its id or its name (default: the "
        "user's only active account)",
    )
    live: bool = Field(
        default=False, description="ask for live (not simulated) contracts and bar data"
    )
    reconcile_interval_s: float = Field(
        default=30.0, ge=0, description="periodic reconciliation (0: on start/reconnect only)"
    )
    bar_delay_s: float = Field(
        default=1.0, ge=0, le=60, description="ask for a closed bar this long after it closes"
    )
    bar_retries: int = Field(
        default=3, ge=0, le=20, description="asks again when a closed bar is late"
    )
    fill_wait_s: float = Field(
        default=3.0, gt=0, le=60, description="wait for trade events before searching trades"
    )
    pending_claim_s: float = Field(
        default=15.0, gt=0, description="how long a trade of no known order waits for its bot"
    )
    lookup_attempts: int = Field(
        default=5, ge=1, le=20, description="Order/search lookups of an order of unknown outcome"
    )
    recovery_lookback_s: float = Field(
        default=86_400.0, gt=0, description="how far back a restart looks for unrecorded orders"
    )


class ProjectXFeedOptions(BaseModel):
    """``feed_options`` of a ProjectX-fed bot: none yet; anything given is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectXFactory(VenueFactory):
    history_intervals = HISTORY_INTERVALS
    runtime_modules = (
        "algotrade.venues.projectx.connection",
        "algotrade.venues.projectx.feed",
        "algotrade.venues.projectx.guard",
    )

    def config_model(self) -> type[BaseModel]:
        return ProjectXVenueConfig

    def validate_feed(self, bot: BotSpec) -> None:
        try:
            ProjectXFeedOptions.model_validate(bot.feed_options)
        except ValidationError as exc:
            raise ValueError(describe_validation_error("feed_options", exc)) from None
        bar_unit_of(bot.interval)

    # validate_execution: anything goes. ``leverage`` is the bot's own exposure cap (equity ×
    # leverage against qty × price × multiplier): one ES contract is ~300k of notional.

    async def connect(self, config: BaseModel, owner: VenueOwner) -> VenueConnection:
        from algotrade.venues.projectx.config import load_credentials  # noqa: PLC0415
        from algotrade.venues.projectx.connection import ProjectXConnection  # noqa: PLC0415

        assert isinstance(config, ProjectXVenueConfig)
        credentials = load_credentials()
        if credentials is None:
            from algotrade.core.errors import ConfigError  # noqa: PLC0415

            raise ConfigError(
                "venue 'projectx' needs credentials (it has no public data): set "
                "ALGOTRADE_PROJECTX_USERNAME and ALGOTRADE_PROJECTX_API_KEY (or their _FILE "
                "variants)"
            )
        newest_ns, trade_ids = await owner.latest_fills()
        connection = ProjectXConnection(
            config,
            credentials,
            owner,
            since_ns=newest_ns or None,
            seen_trade_ids=trade_ids,
            open_orders=await owner.stored_open_orders(),
            name=self.name or "projectx",
        )
        await start_or_stop(connection)
        return ProjectXVenueConnection(connection)

    async def watch_account(
        self, config: BaseModel, account: str, sink: WatchedAccountSink
    ) -> WatchedAccount:
        from algotrade.venues.projectx.guard import watch_account  # noqa: PLC0415

        assert isinstance(config, ProjectXConfig)
        return await watch_account(config, account, sink)

    def history(self, options: HistoryOptions) -> Any:
        from algotrade.venues.projectx.history import history  # noqa: PLC0415

        return history(options)


class ProjectXVenueConnection:
    """The registry's view of the daemon's one ProjectX connection."""

    def __init__(self, connection: ProjectXConnection) -> None:
        self.connection = connection

    async def stop(self, timeout: float = 5.0) -> None:
        await self.connection.stop(timeout)

    def snapshot(self) -> dict[str, Any]:
        return self.connection.snapshot()

    async def reconcile(self) -> dict[str, Any]:
        if self.connection.account is None:
            raise LookupError(
                "venue 'projectx' has no account to reconcile: set venues.projectx.account"
            )
        await self.connection.reconcile("requested")
        return self.connection.snapshot()

    async def look_up(self, symbol: str) -> None:
        await self.connection.look_up_contract(symbol)

    def instruments(self, symbol: str) -> list[Instrument]:
        return [self.connection.instrument(symbol)]

    async def execution_venue(
        self, bot: BotSpec, on_error: Callable[[BaseException], None]
    ) -> ExecutionVenue:
        return await self.connection.venue(bot.bot_id, bot.symbol, on_error)

    def blocked_reason(self, bot: BotSpec) -> str | None:
        return self.connection.blocked_reason(bot.symbol)

    def bot_feed(self, bot: BotSpec, handler: Callable[[Bar], None]) -> BotFeedHandle:
        from algotrade.venues.projectx.feed import ProjectXBotFeed  # noqa: PLC0415

        return ProjectXBotFeed(self.connection, bot.bot_id, bot.symbol, bot.interval, handler)


factory = ProjectXFactory()
