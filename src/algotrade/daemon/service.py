"""``BotService``: the application-service layer over the bot registry.

The API, the file channel and the CLI (through the API) all go through this one object. It
owns the registry of bot actors, the shared sim feed hub and the activity writer. Every change
a client asks for is committed to the store before the call returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, localcontext
from typing import Any, TypeVar

from pydantic import ValidationError

from algotrade.core.errors import AlgoTradeError
from algotrade.core.money import EXACT
from algotrade.core.portfolio import Portfolio
from algotrade.core.validation import format_validation_errors
from algotrade.daemon.account_watch import AccountWatches
from algotrade.daemon.actor import BotActor
from algotrade.daemon.bot_books import movable_books
from algotrade.daemon.bot_checks import check_bot_config
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bot_handle import ActorContext, Command, HostedBot
from algotrade.daemon.bot_history import BotHistoryReads
from algotrade.daemon.bot_market import DAY_NS
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.feeds import feed_factory
from algotrade.daemon.heap import collector_paused
from algotrade.daemon.recorder import BarRecorder
from algotrade.daemon.risk_service import RiskService
from algotrade.daemon.service_api import (
    BotExists,
    BotLimitReached,
    BotNotFound,
    InvalidBotConfig,
    InvalidTransition,
    ShuttingDown,
    VenueNotConnected,
)
from algotrade.daemon.sim_feed import SimFeedHub
from algotrade.daemon.status import BotState, BotStatus
from algotrade.daemon.status_board import StatusBoard, StatusChanges
from algotrade.daemon.status_publishers import publish_heartbeats, publish_summaries
from algotrade.daemon.stop_budget import StopBudget
from algotrade.daemon.summary import LogCounter, build_summary
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.daemon.venues import VenueHub
from algotrade.daemon.workers.pool import BotWorkers
from algotrade.daemon.workers.shadow import BotShadow
from algotrade.daemon.writer import ActivityWriter
from algotrade.risk.config_loader import RiskConfig
from algotrade.store.errors import DuplicateBotError
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store

_log = logging.getLogger("algotrade.daemon")
T = TypeVar("T")
FREEZE_FROM_BOTS = 1_000  # a smaller registry costs a collection next to nothing


class BotService(BotHistoryReads):
    def __init__(
        self,
        store: Store,
        *,
        max_bots: int = 10_000,
        resume_all: bool = False,
        bus: EventBus | None = None,
        risk_config: RiskConfig | None = None,
        risk_tick_interval: float = 1.0,
        heartbeat_interval: float = 1.0,
        venues: Mapping[str, Any] | None = None,
        supervisor: TaskSupervisor | None = None,
        recorder: BarRecorder | None = None,
        bot_workers: int = 0,
    ) -> None:
        self.bus = bus or EventBus()
        # Every background task of the service runs under this one supervisor: named,
        # referenced, its failure logged, cancelled with a timeout at shutdown.
        self.supervisor = supervisor or TaskSupervisor()
        self._store = store
        self.max_bots = max_bots
        self.resume_all = resume_all
        # SQLite allows one writer: every write goes through this one thread, in order.
        self._write_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
        self.writer = ActivityWriter(store, self._write_executor, supervisor=self.supervisor)
        self._bots: dict[str, HostedBot] = {}
        # The listings (GET /api/bots, health's counts) are cached until a status changes.
        self.board = StatusBoard(self._bots, StatusChanges())
        # Why the daemon must stop with exit 1 (a bot worker process ended), if it must.
        self.failed: str | None = None
        # Stored bots that could not be loaded at start-up → why (kept on disk as they are).
        self.skipped_bots: dict[str, str] = {}
        self._reserved: set[str] = set()
        self._accepting = True
        self._started_at = time.time()
        self.shutdown_requested = asyncio.Event()
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.log_counts = LogCounter()
        self.risk: RiskService | None = None
        if risk_config is not None:
            self.risk = RiskService(
                risk_config,
                RiskStore(store),
                self.bus,
                self._write_executor,
                tick_interval=risk_tick_interval,
                supervisor=self.supervisor,
            )
        # Paper bots on sim prices may run in worker processes (daemon.bot_workers).
        self.workers = BotWorkers(
            bot_workers,
            store=store,
            bus=self.bus,
            changes=self.board.changes,
            bots=self._bots,
            risk=self.risk,
            persist_state=self._persist_state,
            on_bot_error=self._on_bot_error,
            on_lost=self._worker_lost,
        )
        # Simulated prices (sim and replay feeds) wait for the store when it falls behind, and
        # for the worker processes.
        self.hub = SimFeedHub(self.supervisor, pace=self._keep_pace)
        self.venues = VenueHub(venues, store, self.bus, self._own_actors, self.risk)
        self.recorder = recorder  # records live venue bars into the catalog
        # Accounts guarded at their venue (accounts.yaml "watch"): no bot in between.
        self.watches: AccountWatches | None = None
        if self.risk is not None and any(a.watch for a in self.risk.config.accounts.values()):
            self.watches = AccountWatches(self.risk, venues or {}, self.bus, self.supervisor)
        self._context = ActorContext(
            bus=self.bus,
            make_feed=feed_factory(
                self.hub,
                self.venues,
                supervisor=self.supervisor,
                on_feed_error=self._on_feed_error,
                recorder=recorder,
                on_feed_finished=self._on_feed_finished,
            ),
            spawn=self.supervisor.spawn,
            mark_dirty=self.writer.mark_dirty,
            persist_state=self._persist_state,
            load_open_orders=lambda bot_id: self._read(self._store.open_orders, bot_id),
            max_order_seq=lambda bot_id, prefix: self._read(
                self._store.max_order_seq, bot_id, prefix
            ),
            on_error=self._on_bot_error,
            risk=self.risk,
            venues=self.venues,
            load_open_order_trade_ids=lambda bot_id: self._read(
                self._store.open_order_trade_ids, bot_id
            ),
            status_changes=self.board.changes,
            check_config=self.validate_config,
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self, seed_bots: list[dict[str, Any]] | None = None) -> None:
        """Restore every stored bot, add configured example bots, resume those that opted in."""
        self.writer.start()
        logging.getLogger("algotrade").addHandler(self.log_counts)
        await self.workers.start(self.hub, self.writer)
        restored = await self.restore()
        if self.risk is not None:
            # Before any bot resumes: lockouts and daily state are back, a missed reset applied.
            await self.risk.start(self._bots_of_account)
        if self.watches is not None:  # after the risk state: each trade id counts once
            await self.watches.start()
        to_start = [bot_id for bot_id, resume in restored.items() if resume]
        for raw in seed_bots or []:
            config = BotConfig.model_validate(raw)
            if config.bot_id not in self._bots:
                await self.create_bot(config, to_run=config.auto_resume)
                if config.auto_resume:
                    to_start.append(config.bot_id)
        self._heartbeat_task = self.supervisor.spawn(
            publish_heartbeats(self.bus, self._bots, self._heartbeat_interval),
            name="bot-heartbeats",
        )
        self.supervisor.spawn(publish_summaries(self.bus, self.summary), name="summary")
        results = await asyncio.gather(
            *(self.start_bot(bot_id) for bot_id in to_start), return_exceptions=True
        )
        for bot_id, result in zip(to_start, results, strict=True):
            if isinstance(result, BaseException):
                _log.error("bot %s could not resume: %s", bot_id, result, extra={"bot_id": bot_id})

    async def restore(self) -> dict[str, bool]:
        """Load every bot and rebuild its books from its stored fills; returns bot id →
        whether to resume it. A stored bot that cannot be loaded is skipped with the reason
        (logged, and listed by ``health()``); nothing stored is changed for it."""
        records, unreadable = await self._read(self._store.load_bots_checked)
        fills, bad_fills = await self._read(self._store.fills_by_bot)
        counts = await self._read(self._store.order_fill_counts)
        day_start = time.time_ns() // DAY_NS * DAY_NS
        day_open = await self._read(self._store.equity_before, day_start)
        # Thousands of long-lived objects are built here: a collection in the middle would scan
        # all built so far again (half of the restore of 10,000 bots). A large registry is then
        # frozen out of later collections, which would otherwise scan it on the bars' path.
        with collector_paused(freeze=len(records) >= FREEZE_FROM_BOTS):
            for problem in unreadable:
                self._skip(problem.bot_id, problem.reason)
            resume: dict[str, bool] = {}
            demoted: list[tuple[str, str, dict[str, Any]]] = []
            for record in records:
                if record.bot_id in bad_fills:
                    self._skip(record.bot_id, bad_fills[record.bot_id])
                    continue
                try:
                    config = BotConfig.model_validate(record.config)
                    was = BotState(record.state)
                    portfolio = Portfolio(config.initial_capital, keep_closed_trades=False)
                    # Everything derived (positions, cost bases, cash, PnL, round trips in
                    # progress) comes from the persisted fills, in the order they were booked.
                    portfolio.rebuild(f.to_fill() for f in fills.get(record.bot_id, ()))
                except ValidationError as exc:
                    message = format_validation_errors(exc.errors(), "config")
                    self._skip(record.bot_id, f"invalid config: {message}")
                    continue
                except (ValueError, ArithmeticError, AlgoTradeError) as exc:
                    self._skip(record.bot_id, _one_line(exc))
                    continue
                orders, fill_count = counts.get(config.bot_id, (0, 0))
                stored_fills = fills.get(record.bot_id)
                state = BotState.ERROR if was is BotState.ERROR else BotState.STOPPED
                actor = self._host(
                    config,
                    state=state,
                    runtime=record.runtime,
                    portfolio=portfolio,
                    order_count=orders,
                    fill_count=fill_count,
                    last_fill_ts=stored_fills[-1].ts if stored_fills else None,
                    day_open_equity=day_open.get(config.bot_id),
                )
                actor.start_task()
                self._bots[config.bot_id] = actor
                running = was in (BotState.RUNNING, BotState.PAUSED)
                resume[config.bot_id] = running and (config.auto_resume or self.resume_all)
                if running and not resume[config.bot_id]:
                    demoted.append((config.bot_id, BotState.STOPPED.value, dict(record.runtime)))
        self.board.changed()
        # What is on disk says what the bots are now: stopped unless they resume. Bots about to
        # resume keep their stored state, so a crash before they are running again does not
        # turn them into stopped bots that would never resume.
        if demoted:
            await self._write(self._store.set_bot_states, demoted)
        return resume

    def _skip(self, bot_id: str, reason: str) -> None:
        self.skipped_bots[bot_id] = reason
        _log.error("stored bot %s skipped: %s", bot_id, reason, extra={"bot_id": bot_id})

    def interrupt_starts(self) -> None:
        """The daemon is stopping: every bot start still waiting on its venue ends now (its
        caller gets ``ShuttingDown``), and none begins. Such a bot stays as it was stored: one
        being resumed at start-up resumes at the next start."""
        for actor in self._bots.values():
            actor.interrupt_start()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop taking commands, detach every bot from its feed, flush, close the store; all
        within ``timeout`` (``TimeoutError`` if not): the flush gets what the steps before it
        left, less a little for closing."""
        budget = StopBudget(timeout, reserve=timeout / 10)  # the reserve: writer, tasks
        self._accepting = False
        self.interrupt_starts()  # SHUTDOWN would otherwise queue behind them
        logging.getLogger("algotrade").removeHandler(self.log_counts)
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        actors = list(self._bots.values())
        # SHUTDOWN leaves the stored state as it is, so bots that were running resume after a
        # restart when they opted in; it only stops market data and ends the actor's task.
        await asyncio.wait_for(
            asyncio.gather(*(a.submit(Command.SHUTDOWN) for a in actors), return_exceptions=True),
            timeout=budget.left(timeout / 2),
        )
        await self.hub.stop()
        # Every worker's bots are shut down and what they booked has arrived (a worker sends it
        # before its reply): the workers can go before the flush.
        await asyncio.wait_for(self.workers.stop(), timeout=budget.left(timeout / 4))
        if self.watches is not None:
            await asyncio.wait_for(self.watches.stop(), timeout=budget.left(timeout / 4))
        await asyncio.wait_for(self.venues.stop(), timeout=budget.left(timeout / 4))
        if self.risk is not None:
            await asyncio.wait_for(self.risk.stop(), timeout=budget.left(timeout / 4))
        try:
            await asyncio.wait_for(self.writer.flush(), timeout=budget.left())
        finally:
            await self.writer.stop(timeout=budget.closing(timeout / 4))
            self._write_executor.shutdown(wait=False)
            await self.supervisor.shutdown(timeout=budget.closing(timeout / 4))

    async def request_shutdown(self) -> None:
        self.shutdown_requested.set()

    # ------------------------------------------------------------------ bots
    async def list_bots(self) -> list[BotStatus]:
        return [actor.status() for actor in self._bots.values()]

    async def list_bots_json(self) -> bytes:
        """``list_bots`` as a JSON array, cached until any bot's status changes."""
        return self.board.listing_json()

    async def get_bot(self, bot_id: str) -> tuple[BotConfig, BotStatus]:
        actor = self._actor(bot_id)
        return actor.config, actor.status()

    async def create_bot(self, config: BotConfig, *, to_run: bool = False) -> BotStatus:
        """A new bot, stopped. ``to_run``: its caller starts it next (a ``[[bots]]`` entry with
        ``auto_resume``), so it is stored as running, like a bot about to resume: a start cut
        short (the daemon stopping or dying first) leaves it to resume at the next start. Stored
        as stopped it would sit stopped for good: the entry is no longer new then."""
        self._check_accepting()
        bot_id = config.bot_id
        if bot_id in self._bots or bot_id in self._reserved:
            raise BotExists(f"bot '{bot_id}' already exists")
        if len(self._bots) + len(self._reserved) >= self.max_bots:
            raise BotLimitReached(
                f"cannot create bot '{bot_id}': the daemon's limit of {self.max_bots} bots is "
                "reached (setting daemon.max_bots)"
            )
        self.validate_config(config)
        self._reserved.add(bot_id)
        try:
            state = BotState.RUNNING if to_run else BotState.STOPPED
            await self._write(self._store.insert_bot, config.model_dump(mode="json"), state.value)
        except DuplicateBotError:
            raise BotExists(f"bot '{bot_id}' already exists") from None
        finally:
            self._reserved.discard(bot_id)
        actor = self._host(config, portfolio=None)
        actor.start_task()
        self._bots[bot_id] = actor
        self.board.changed()
        status = actor.status()
        self.bus.publish(Topic.STATUS, bot_id, status.model_dump())
        return status

    async def delete_bot(self, bot_id: str) -> None:
        self._check_accepting()
        actor = self._actor(bot_id)
        # Gone at once for every other request (404, and 409 for a create of the same id) while
        # the actor shuts down and the store forgets it: none of them waits on a dying actor.
        del self._bots[bot_id]
        self._reserved.add(bot_id)
        self.board.changed()
        try:
            await actor.submit(Command.SHUTDOWN)
            if isinstance(actor, BotShadow):
                self.workers.forget(actor)
            await self.writer.flush()
            await self._write(self._store.delete_bot, bot_id)
        finally:
            self._reserved.discard(bot_id)
        self.bus.publish(Topic.STATUS, bot_id, {"bot_id": bot_id, "deleted": True})

    async def start_bot(self, bot_id: str) -> BotStatus:
        return await self._command(bot_id, Command.START)

    async def stop_bot(self, bot_id: str) -> BotStatus:
        return await self._command(bot_id, Command.STOP)

    async def pause_bot(self, bot_id: str) -> BotStatus:
        return await self._command(bot_id, Command.PAUSE)

    async def resume_bot(self, bot_id: str) -> BotStatus:
        return await self._command(bot_id, Command.RESUME)

    async def update_config(self, bot_id: str, changes: dict[str, Any]) -> BotConfig:
        self._check_accepting()
        actor = self._actor(bot_id)
        try:
            # Checked here too, so a bad value is refused whatever the bot's state; the actor
            # checks again against the config the change then applies to.
            changed = actor.config.with_changes(changes)
            self.validate_config(changed)
            if isinstance(actor, BotShadow) != self.workers.hosts(changed):
                actor = await self._move(actor)
            config: BotConfig = await actor.submit(Command.UPDATE_CONFIG, changes)
        except ValidationError as exc:
            # Named like a refused create: "initial_capital: Input should be greater than 0".
            raise InvalidBotConfig(format_validation_errors(exc.errors(), "config")) from exc
        except ValueError as exc:
            raise InvalidBotConfig(_one_line(exc)) from exc
        await self._write(self._store.update_bot_config, bot_id, config.model_dump(mode="json"))
        return config

    async def close_all(self, bot_id: str | None = None) -> None:
        self._check_accepting()
        actors = [self._actor(bot_id)] if bot_id else list(self._bots.values())
        for actor in actors:
            if bot_id is not None or actor.state in (BotState.RUNNING, BotState.PAUSED):
                await actor.submit(Command.CLOSE_ALL)
        await self.writer.flush()

    async def bars(self, bot_id: str, limit: int) -> list[dict[str, Any]]:
        return await self._actor(bot_id).latest_bars(limit)

    async def summary(self) -> dict[str, Any]:
        actors = list(self._bots.values())
        with localcontext(EXACT):
            capital = sum((a.config.initial_capital for a in actors), Decimal(0))
        return build_summary(
            (actor.status() for actor in actors),
            initial_capital=capital,
            risk=self.risk,
            venues=self.venues.status(),
            log_counts=self.log_counts,
        )

    async def venue_status(self) -> list[dict[str, Any]]:
        return self.venues.status()

    async def reconcile_venue(self, venue: str) -> dict[str, Any]:
        try:
            return await self.venues.reconcile(venue)
        except LookupError as exc:
            raise VenueNotConnected(str(exc)) from None

    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = {
            "state": "running" if self._accepting else "stopping",
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self._started_at, 3),
            "bots": len(self._bots),
            "by_state": self.board.by_state(),
            "database": self._store.backend,
            "writer_commits": self.writer.commits,
            "writer_failures": self.writer.failures,
            # Times a sim stream or replay waited for the store (simulated time ran slower).
            "writer_paced": self.writer.paced,
            "skipped_bots": dict(self.skipped_bots),
        }
        if self.recorder is not None:
            health["recording"] = self.recorder.status()
        if self.workers.count:
            health["bot_workers"] = self.workers.status()
        return health

    # ------------------------------------------------------------------ internals
    def _host(
        self,
        config: BotConfig,
        *,
        portfolio: Portfolio | None,
        in_worker: bool | None = None,
        **books: Any,
    ) -> HostedBot:
        """The bot in this process, or in a worker process when one may host it (or as
        ``in_worker`` says)."""
        if portfolio is None:
            portfolio = Portfolio(config.initial_capital, keep_closed_trades=False)
        if self.workers.hosts(config) if in_worker is None else in_worker:
            return BotShadow(
                config,
                self.workers.place(config.bot_id),
                bus=self.bus,
                changes=self.board.changes,
                risk=self.risk,
                portfolio=portfolio,
                **books,
            )
        return BotActor(config, self._context, portfolio=portfolio, **books)

    async def _move(self, bot: HostedBot) -> HostedBot:
        """A stopped bot whose config change moves it between this process and a worker
        (``BotWorkers.hosts``): built again on the other side from its books; its stored open
        orders and order numbers are read by its next engine, as after a restart."""
        if bot.state in (BotState.RUNNING, BotState.PAUSED):
            raise InvalidTransition(
                f"cannot update the config of bot '{bot.config.bot_id}': it is "
                f"{bot.state.value} (needs error or stopped)"
            )
        await bot.submit(Command.SHUTDOWN)
        await self.writer.flush()  # everything it booked is stored before it moves
        if isinstance(bot, BotShadow):
            books = await bot.release()
            self.workers.forget(bot)
        else:
            assert isinstance(bot, BotActor)
            books = movable_books(bot)
        to_worker = not isinstance(bot, BotShadow)
        moved = self._host(bot.config, in_worker=to_worker, state=bot.state, **books)
        moved.start_task()
        self._bots[bot.config.bot_id] = moved
        self.board.changed()
        return moved

    def _own_actors(self) -> list[BotActor]:
        """The bots that run in this process (live venues hold only those)."""
        return [a for a in self._bots.values() if isinstance(a, BotActor)]

    async def _keep_pace(self) -> None:
        await self.writer.keep_pace()
        await self.workers.keep_pace()

    def _worker_lost(self, reason: str) -> None:
        self.failed = reason
        self.shutdown_requested.set()

    def _actor(self, bot_id: str) -> HostedBot:
        actor = self._bots.get(bot_id)
        if actor is None:
            raise BotNotFound(f"no bot '{bot_id}'")
        return actor

    async def _command(self, bot_id: str, command: Command) -> BotStatus:
        self._check_accepting()
        status: BotStatus = await self._actor(bot_id).submit(command)
        return status

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise ShuttingDown("the daemon is shutting down")

    def _bots_of_account(self, account_id: str) -> list[BotActor]:
        # A guarded account's bots all run in this process (``BotWorkers.hosts``).
        return [a for a in self._own_actors() if a.config.account_id == account_id]

    def validate_config(self, config: BotConfig) -> None:
        """InvalidBotConfig unless create/update (and a reload) may use ``config``."""
        check_bot_config(config, self.risk.engine.accounts if self.risk is not None else None)

    async def _persist_state(self, bot_id: str, state: str, runtime: dict[str, Any]) -> None:
        await self._write(self._store.set_bot_state, bot_id, state, runtime)

    def _on_feed_error(self, bot_id: str, error: BaseException) -> None:
        """A bot's feed ended with an error (a replay file that failed mid-run): the bot
        would wait for bars forever, so it goes to ``error`` with the reason."""
        actor = self._bots.get(bot_id)
        if isinstance(actor, BotActor):  # replay feeds run in this process only
            actor.feed_failed(error)

    def _on_feed_finished(self, bot_id: str, message: str) -> None:
        actor = self._bots.get(bot_id)
        if isinstance(actor, BotActor):
            actor.feed_finished(message)

    def _on_bot_error(self, actor: HostedBot) -> None:
        bot_id = actor.config.bot_id
        self.supervisor.spawn(
            self._persist_state(bot_id, BotState.ERROR.value, dict(actor.runtime)),
            name=f"persist-error:{bot_id}",
            bot_id=bot_id,
        )
        self.bus.publish(Topic.STATUS, actor.config.bot_id, actor.status().model_dump())

    async def _write(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._write_executor, func, *args)

    async def _read(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
