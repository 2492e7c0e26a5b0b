"""An in-memory ``BotServiceApi`` for API, client and UI tests.

It follows the Protocol's rules (state transitions, errors, status on the bus after every
change) without running any engine. Test hooks: ``add_order``/``add_fill``/``add_equity``/
``set_positions`` record data and publish like the daemon does; ``fail_with`` makes the next
calls raise; ``shutting_down`` makes mutations raise ``ShuttingDown``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from algotrade.daemon.bot_config import BotConfig, FeedKind, VenueKind
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.service_api import (
    BotExists,
    BotLimitReached,
    BotNotFound,
    InvalidBotConfig,
    InvalidTransition,
    Page,
    ShuttingDown,
    VenueNotConnected,
)
from algotrade.daemon.status import BotState, BotStatus

# (from-states, to-state) of each command, as the daemon's actors implement them.
_TRANSITIONS: dict[str, tuple[frozenset[BotState], BotState]] = {
    "start": (frozenset({BotState.STOPPED, BotState.ERROR}), BotState.RUNNING),
    "stop": (frozenset({BotState.RUNNING, BotState.PAUSED}), BotState.STOPPED),
    "pause": (frozenset({BotState.RUNNING}), BotState.PAUSED),
    "resume": (frozenset({BotState.PAUSED}), BotState.RUNNING),
}


@dataclass
class _Bot:
    config: BotConfig
    status: BotStatus
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    equity: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    bars: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)


class FakeBotService:
    def __init__(self, *, max_bots: int = 100, bus_queue_size: int = 1000) -> None:
        self.bus = EventBus(queue_size=bus_queue_size)
        self.risk = None  # no account risk engine: /api/risk answers risk_disabled
        self.max_bots = max_bots
        self.shutting_down = False
        self.fail_with: Exception | None = None
        self.shutdown_requested = False
        self.closed_all: list[str | None] = []
        self.venues: list[dict[str, Any]] = []  # what GET /api/venues answers
        self._bots: dict[str, _Bot] = {}
        self._started = time.monotonic()
        self._clock = 0

    # -- test hooks ------------------------------------------------------------------------

    def add_bot(self, config: BotConfig, state: BotState = BotState.STOPPED) -> BotStatus:
        """Create a bot directly (no bus event), e.g. to set up a test."""
        status = BotStatus(bot_id=config.bot_id, state=state, simulated=_simulated(config))
        self._bots[config.bot_id] = _Bot(config, status)
        return status

    # Records are completed with every field the API documents (tests set the ones they
    # look at), so responses always match the OpenAPI models.
    def add_order(self, bot_id: str, record: dict[str, Any]) -> None:
        record = {**_ORDER, "bot_id": bot_id, **record}
        self._bot(bot_id).orders.append(record)
        self.bus.publish(Topic.ORDERS, bot_id, record)

    def add_fill(self, bot_id: str, record: dict[str, Any]) -> None:
        record = {**_FILL, "bot_id": bot_id, **record}
        self._bot(bot_id).fills.append(record)
        self.bus.publish(Topic.FILLS, bot_id, record)

    def add_equity(self, bot_id: str, point: dict[str, Any]) -> None:
        self._bot(bot_id).equity.append({**_EQUITY, "bot_id": bot_id, **point})

    def set_positions(self, bot_id: str, positions: list[dict[str, Any]]) -> None:
        self._bot(bot_id).positions = [
            {**_POSITION, "bot_id": bot_id, **position} for position in positions
        ]

    def add_bar(self, bot_id: str, bar: dict[str, Any]) -> None:
        bar = {**_BAR, **bar}
        self._bot(bot_id).bars.append(bar)
        self.bus.publish(Topic.BARS, bot_id, bar)

    def log(self, bot_id: str | None, line: str) -> None:
        record = {**_LOG, "bot_id": bot_id, "message": line}
        if bot_id is not None:
            bot = self._bot(bot_id)
            record["id"] = len(bot.logs) + 1
            bot.logs.append(record)
        self.bus.publish(Topic.LOGS, bot_id, record)

    # -- BotServiceApi ---------------------------------------------------------------------

    async def list_bots(self) -> list[BotStatus]:
        self._maybe_fail()
        return [bot.status for bot in self._bots.values()]

    async def list_bots_json(self) -> bytes:
        statuses = await self.list_bots()
        return b"[" + b",".join(s.__pydantic_serializer__.to_json(s) for s in statuses) + b"]"

    async def get_bot(self, bot_id: str) -> tuple[BotConfig, BotStatus]:
        self._maybe_fail()
        bot = self._bot(bot_id)
        return bot.config, bot.status

    async def create_bot(self, config: BotConfig) -> BotStatus:
        self._check_writable()
        if config.bot_id in self._bots:
            raise BotExists(f"bot '{config.bot_id}' exists")
        if len(self._bots) >= self.max_bots:
            raise BotLimitReached(f"this daemon runs at most {self.max_bots} bots")
        status = self.add_bot(config)
        self._publish_status(status)
        return status

    async def delete_bot(self, bot_id: str) -> None:
        self._check_writable()
        bot = self._bot(bot_id)
        if bot.status.state in (BotState.RUNNING, BotState.PAUSED):
            raise InvalidTransition(f"bot '{bot_id}' is {bot.status.state}; stop it first")
        del self._bots[bot_id]

    async def start_bot(self, bot_id: str) -> BotStatus:
        return self._transition(bot_id, "start")

    async def stop_bot(self, bot_id: str) -> BotStatus:
        return self._transition(bot_id, "stop")

    async def pause_bot(self, bot_id: str) -> BotStatus:
        return self._transition(bot_id, "pause")

    async def resume_bot(self, bot_id: str) -> BotStatus:
        return self._transition(bot_id, "resume")

    async def update_config(self, bot_id: str, changes: dict[str, Any]) -> BotConfig:
        self._check_writable()
        bot = self._bot(bot_id)
        try:
            bot.config = bot.config.with_changes(changes)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
                for error in exc.errors()
            )
            raise InvalidBotConfig(problems) from None
        except ValueError as exc:
            raise InvalidBotConfig(str(exc)) from None
        return bot.config

    async def close_all(self, bot_id: str | None = None) -> None:
        if bot_id is not None:
            self._bot(bot_id)
        self.closed_all.append(bot_id)

    async def orders(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        self._maybe_fail()
        return _page(self._bot(bot_id).orders, offset, limit, newest_first)

    async def fills(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        self._maybe_fail()
        return _page(self._bot(bot_id).fills, offset, limit, newest_first)

    async def positions(self, bot_id: str) -> list[dict[str, Any]]:
        self._maybe_fail()
        return list(self._bot(bot_id).positions)

    async def equity(
        self, bot_id: str, offset: int, limit: int, newest_first: bool = False
    ) -> Page[dict[str, Any]]:
        self._maybe_fail()
        return _page(self._bot(bot_id).equity, offset, limit, newest_first)

    async def logs(self, bot_id: str, offset: int, limit: int) -> Page[dict[str, Any]]:
        self._maybe_fail()
        return _page(self._bot(bot_id).logs, offset, limit, True)

    async def bars(self, bot_id: str, limit: int) -> list[dict[str, Any]]:
        self._maybe_fail()
        return self._bot(bot_id).bars[-limit:]

    async def summary(self) -> dict[str, Any]:
        self._maybe_fail()
        statuses = [bot.status for bot in self._bots.values()]
        states = {state.value: 0 for state in BotState}
        for status in statuses:
            states[status.state.value] += 1
        simulated = sum(status.simulated for status in statuses)
        return {
            **_SUMMARY,
            "bots": len(statuses),
            "states": states,
            "simulated": simulated,
            "live": len(statuses) - simulated,
        }

    async def venue_status(self) -> list[dict[str, Any]]:
        self._maybe_fail()
        return list(self.venues)

    async def reconcile_venue(self, venue: str) -> dict[str, Any]:
        self._maybe_fail()
        for state in self.venues:
            if state.get("venue") == venue:
                return state
        raise VenueNotConnected(f"venue '{venue}' is not connected")

    def health(self) -> dict[str, Any]:
        counts = {state.value: 0 for state in BotState}
        for bot in self._bots.values():
            counts[bot.status.state.value] += 1
        return {
            "state": "stopping" if self.shutting_down else "running",
            "uptime_s": round(time.monotonic() - self._started, 3),
            "bots": counts,
            "database": "ok",
        }

    async def request_shutdown(self) -> None:
        self.shutdown_requested = True
        self.shutting_down = True

    # -- internals -------------------------------------------------------------------------

    def _bot(self, bot_id: str) -> _Bot:
        try:
            return self._bots[bot_id]
        except KeyError:
            raise BotNotFound(f"no bot '{bot_id}'") from None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def _check_writable(self) -> None:
        self._maybe_fail()
        if self.shutting_down:
            raise ShuttingDown("the daemon is shutting down")

    def _transition(self, bot_id: str, command: str) -> BotStatus:
        self._check_writable()
        bot = self._bot(bot_id)
        sources, target = _TRANSITIONS[command]
        if bot.status.state not in sources:
            raise InvalidTransition(f"cannot {command} bot '{bot_id}': it is {bot.status.state}")
        self._clock += 1
        changes: dict[str, Any] = {"state": target, "heartbeat": _iso(self._clock)}
        if command == "start":
            changes.update(started_at=_iso(self._clock), last_error=None)
        bot.status = bot.status.model_copy(update=changes)
        self._publish_status(bot.status)
        return bot.status

    def _publish_status(self, status: BotStatus) -> None:
        self.bus.publish(Topic.STATUS, status.bot_id, status.model_dump(mode="json"))


def _page(
    records: list[dict[str, Any]], offset: int, limit: int, newest_first: bool = False
) -> Page[dict[str, Any]]:
    ordered = records[::-1] if newest_first else records
    items = ordered[offset : offset + limit]
    return Page(items=items, total=len(records), offset=offset, limit=limit)


_ORDER: dict[str, Any] = {
    "client_order_id": "o-1",
    "venue_order_id": "P-o-1",
    "symbol": "BTC-USD",
    "side": "buy",
    "type": "market",
    "qty": "1",
    "limit_price": None,
    "stop_price": None,
    "tif": "gtc",
    "reduce_only": False,
    "status": "filled",
    "filled_qty": "1",
    "avg_fill_price": "100",
    "fees": "0.1",
    "reason": "",
    "tag": "",
    "created_at": "2024-01-01T00:00:00Z",
    "updated_at": "2024-01-01T00:00:00Z",
    "created_ts": 1_704_067_200_000_000_000,
    "updated_ts": 1_704_067_200_000_000_000,
}
_FILL: dict[str, Any] = {
    "trade_id": "o-1-F1",
    "client_order_id": "o-1",
    "venue_order_id": "P-o-1",
    "symbol": "BTC-USD",
    "side": "buy",
    "qty": "1",
    "price": "100",
    "fee": "0.1",
    "liquidity": "taker",
    "timestamp": "2024-01-01T00:00:00Z",
    "ts": 1_704_067_200_000_000_000,
}
_EQUITY: dict[str, Any] = {
    "timestamp": "2024-01-01T00:00:00Z",
    "ts": 1_704_067_200_000_000_000,
    "equity": "10000",
    "cash": "10000",
    "realized_pnl": "0",
    "unrealized_pnl": "0",
    "fees": "0",
}
_POSITION: dict[str, Any] = {
    "symbol": "BTC-USD",
    "qty": "0",
    "avg_price": "0",
    "realized_pnl": "0",
    "fees": "0",
}
_BAR: dict[str, Any] = {
    "symbol": "BTC-USD",
    "ts": 1_704_067_200_000_000_000,
    "time": "2024-01-01T00:00:00Z",
    "open": 100.0,
    "high": 101.0,
    "low": 99.0,
    "close": 100.5,
    "volume": 10.0,
}
_LOG: dict[str, Any] = {
    "id": None,
    "timestamp": "2024-01-01T00:00:00Z",
    "level": "info",
    "kind": "strategy",
    "data": {},
}
_SUMMARY: dict[str, Any] = {
    "blocked": 0,
    "equity": "0",
    "initial_capital": "0",
    "pnl_total": "0",
    "pnl_today": "0",
    "realized_pnl": "0",
    "unrealized_pnl": "0",
    "fees": "0",
    "open_positions": 0,
    "errors": 0,
    "warnings": 0,
    "alerts": [],
    "lockouts": [],
    "updated_at": "2024-01-01T00:00:00Z",
}


def _simulated(config: BotConfig) -> bool:
    return config.feed is FeedKind.SIM or config.venue is VenueKind.PAPER


def _iso(tick: int) -> str:
    # A deterministic clock: tests compare statuses, and wall time would make them flaky.
    return f"2024-01-01T00:00:{tick % 60:02d}Z"


def make_config(bot_id: str = "bot1", **overrides: Any) -> BotConfig:
    values: dict[str, Any] = {"bot_id": bot_id, "symbol": "BTC-USD", "strategy": "ma_crossover"}
    return BotConfig.model_validate({**values, **overrides})
