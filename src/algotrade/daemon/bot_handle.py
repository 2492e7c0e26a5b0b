"""How the daemon reaches a bot actor: its commands, the handle the API holds, and the
context (the daemon's services) an actor is given."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from algotrade.core.events import Bar
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bus import EventBus
from algotrade.daemon.feeds import BotFeed
from algotrade.daemon.status import BotState, BotStatus
from algotrade.daemon.status_board import StatusChanges
from algotrade.daemon.supervisor import Spawn, TaskSupervisor
from algotrade.store.records import Activity, OrderRecord

if TYPE_CHECKING:
    from algotrade.daemon.actor import BotActor
    from algotrade.daemon.risk_service import RiskService
    from algotrade.daemon.venues import VenueHub


class Command(StrEnum):
    START = "start"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
    UPDATE_CONFIG = "update_config"
    CLOSE_ALL = "close_all"
    STATUS = "status"
    SHUTDOWN = "shutdown"


@dataclass(slots=True)
class Envelope:
    command: Command
    payload: Any
    reply: asyncio.Future[Any]


class HostedBot(Protocol):
    """A bot as the service, its writer and its listings hold it: a ``BotActor`` of the
    daemon's own, or a ``workers.shadow.BotShadow`` whose actor runs in a worker process."""

    config: BotConfig
    state: BotState
    runtime: dict[str, Any]

    @property
    def heartbeat_ns(self) -> int | None: ...

    def start_task(self) -> None: ...

    async def submit(self, command: Command, payload: Any = None) -> Any: ...

    def interrupt_start(self) -> None: ...

    async def latest_bars(self, limit: int) -> list[dict[str, Any]]: ...

    def status(self) -> BotStatus: ...

    def status_json(self) -> bytes: ...

    def drain_activity(self) -> Activity: ...

    def on_committed(self, activity: Activity) -> None: ...

    def persistence_failed(self, exc: BaseException) -> None: ...


@dataclass(slots=True)
class ActorContext:
    """What an actor needs from the daemon; injected so tests can wire their own."""

    bus: EventBus
    make_feed: Callable[[BotConfig, Callable[[Bar], None]], BotFeed]
    mark_dirty: Callable[[BotActor], None]
    persist_state: Callable[[str, str, dict[str, Any]], Awaitable[None]]
    load_open_orders: Callable[[str], Awaitable[list[OrderRecord]]]
    max_order_seq: Callable[[str, str], Awaitable[int]]
    on_error: Callable[[BotActor], None]
    risk: RiskService | None = None
    venues: VenueHub | None = None
    load_open_order_trade_ids: Callable[[str], Awaitable[dict[str, list[str]]]] | None = None
    # Runs the actor's task (the daemon's TaskSupervisor.spawn: named, referenced, logged).
    spawn: Spawn = field(default_factory=lambda: TaskSupervisor().spawn)
    # Raises InvalidBotConfig for a config the daemon cannot run (strategy parameters, feed
    # options, accounts); the actor checks a changed config with it before taking it.
    check_config: Callable[[BotConfig], None] | None = None
    # Bumped by every change of a bot's status: what the service's cached listings check.
    status_changes: StatusChanges = field(default_factory=StatusChanges)


class BotHandle:
    """Cheap to copy; the only way the rest of the daemon talks to a bot."""

    __slots__ = ("_actor", "bot_id")

    def __init__(self, actor: BotActor) -> None:
        self._actor = actor
        self.bot_id = actor.config.bot_id

    async def send(self, command: Command, payload: Any = None) -> Any:
        return await self._actor.submit(command, payload)

    @property
    def config(self) -> BotConfig:
        return self._actor.config

    def status(self) -> BotStatus:
        return self._actor.status()
