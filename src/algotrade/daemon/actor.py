"""A bot actor: one asyncio task per bot owning an inbox of commands and its engine.

Commands (start, stop, pause, resume, update-config, close-all, status, shutdown) are handled
one at a time by the bot's own task; the rest of the daemon holds a ``BotHandle``. Market data
reaches the engine synchronously from the feed (the engine is synchronous and single-threaded,
so nothing can interleave with it). What the engine records is drained by the activity writer,
committed, and only then published: nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from functools import partial
from typing import Any

from algotrade.backtest.strategy_failure import strategy_failure
from algotrade.core.engine import Engine
from algotrade.core.events import (
    Bar,
    OrderAmended,
    OrderAmendRejected,
    OrderEvent,
    OrderFilled,
    OrderRejected,
)
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus
from algotrade.core.portfolio import Portfolio
from algotrade.core.timeutil import ns_to_iso
from algotrade.daemon import persist
from algotrade.daemon.activity_publish import publish_committed
from algotrade.daemon.bot_activity import UnsavedActivity
from algotrade.daemon.bot_books import BooksView
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bot_handle import ActorContext, BotHandle, Command
from algotrade.daemon.bot_inbox import BotInbox
from algotrade.daemon.bot_market import DayOpenEquity, RecentBars, bar_to_api
from algotrade.daemon.bot_orders import cancel_orders, close_all, close_position, unsuppressed
from algotrade.daemon.bot_policy import BotRiskPolicy
from algotrade.daemon.bot_status import build_status
from algotrade.daemon.bot_stored_orders import adopt_stored_orders
from algotrade.daemon.bus import Topic
from algotrade.daemon.feeds import BotFeed
from algotrade.daemon.service_api import InvalidTransition, ShuttingDown
from algotrade.daemon.status import BotState, BotStatus
from algotrade.daemon.venues import build_bot_venue
from algotrade.store.records import Activity, EventRecord
from algotrade.strategies.registry import create_strategy

_log = logging.getLogger("algotrade.daemon.bot")
_ACTIVE = frozenset({BotState.RUNNING, BotState.PAUSED})  # states that take market data


class BotActor:
    def __init__(
        self,
        config: BotConfig,
        context: ActorContext,
        *,
        state: BotState = BotState.STOPPED,
        runtime: dict[str, Any] | None = None,
        portfolio: Portfolio | None = None,
        order_count: int = 0,
        fill_count: int = 0,
        last_fill_ts: int | None = None,
        day_open_equity: Decimal | None = None,
    ) -> None:
        self.config = config
        self._ctx = context
        self.account_risk = context.risk  # the daemon's account risk engine, if any
        self.state = state
        self.runtime: dict[str, Any] = dict(runtime or {})
        self.last_error: str | None = self.runtime.get("last_error")
        self.portfolio = portfolio or Portfolio(
            config.initial_capital, InstrumentRegistry(), keep_closed_trades=False
        )
        self.instruments = self.portfolio.instruments
        self.engine: Engine | None = None
        self._feed: BotFeed | None = None
        self._inbox = BotInbox(config.bot_id, self._dispatch, context.spawn)
        self._unsaved = UnsavedActivity()
        self._open_orders_loaded = False
        # Open orders and the order sequence handed from an engine replaced by a config change.
        self._carried_orders: list[Order] = []
        self._carried_seq = 0
        self.order_count = order_count
        self.fill_count = fill_count  # booked, stored or not yet
        self.last_fill_ts = last_fill_ts
        self.committed_books = BooksView.of(self.portfolio, fill_count, last_fill_ts)
        opening = config.initial_capital if day_open_equity is None else day_open_equity
        self.day_open = DayOpenEquity(opening, time.time_ns())
        self.recent_bars = RecentBars()
        # Views of the books at each drain, published when that drain's activity commits.
        self._views_in_flight: dict[int, BooksView] = {}
        self.heartbeat_ns: int | None = None
        # Set by live-venue reconciliation (fail closed): every order is refused meanwhile.
        self.blocked: str | None = None
        self.last_price: float | None = None
        # A start's wait on its venue (connection, warm-up), cut short when the daemon stops.
        self._preparing: asyncio.Future[list[Bar]] | None = None
        self._starts_interrupted = False
        # Listing 10,000 bots must not rebuild 10,000 statuses: each is cached until its bot
        # changes (state, market data, committed activity).
        self._status: BotStatus | None = None
        self._changes = context.status_changes
        self._status_json: tuple[BotStatus, bytes] | None = None
        self.handle = BotHandle(self)

    # ------------------------------------------------------------------ inbox
    def start_task(self) -> None:
        """Take commands from now on; the task serving them starts with the first one."""
        self._inbox.open()

    async def submit(self, command: Command, payload: Any = None) -> Any:
        return await self._inbox.submit(command, payload)

    async def _dispatch(self, command: Command, payload: Any) -> Any:
        if command is Command.STATUS:
            return self.status()
        if command is Command.START:
            await self._start()
        elif command is Command.STOP:
            await self._stop()
        elif command is Command.PAUSE:
            self._require({BotState.RUNNING}, "pause")
            await self._set_state(BotState.PAUSED)
        elif command is Command.RESUME:
            self._require({BotState.PAUSED}, "resume")
            await self._set_state(BotState.RUNNING)
        elif command is Command.UPDATE_CONFIG:
            return await self._update_config(payload)
        elif command is Command.CLOSE_ALL:
            self._close_all()
        elif command is Command.SHUTDOWN:
            self._detach_feed()
        return self.status()

    # ------------------------------------------------------------------ transitions
    def _require(self, allowed: set[BotState], action: str) -> None:
        if self.state not in allowed:
            wanted = " or ".join(sorted(s.value for s in allowed))
            raise InvalidTransition(
                f"cannot {action} bot '{self.config.bot_id}': it is {self.state.value} "
                f"(needs {wanted})"
            )

    async def latest_bars(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` bars the strategy saw, oldest first, as the API shows them."""
        return self.recent_bars.latest(limit)

    def interrupt_start(self) -> None:
        """The daemon is stopping: a start still waiting on its venue (connecting, fetching
        warm-up bars) ends now and no new one begins. The bot stays as it was, in memory and
        in the store, so a bot being resumed at start-up resumes at the next start."""
        self._starts_interrupted = True
        if self._preparing is not None:
            self._preparing.cancel()

    async def _start(self) -> None:
        self._require({BotState.STOPPED, BotState.ERROR}, "start")
        bot_id = self.config.bot_id
        if self._starts_interrupted:
            raise ShuttingDown(f"bot '{bot_id}' was not started: the daemon is stopping")
        # Its own task: interrupt_start() cancels this wait, never the state change below.
        self._preparing = asyncio.ensure_future(self._prepare_start())
        try:
            warmup = await self._preparing
            self._warm_up(warmup)
        except asyncio.CancelledError:
            self._detach_feed()
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the actor's own task is being cancelled, not just this start
            _log.info("bot %s: start interrupted: stopping", bot_id, extra={"bot_id": bot_id})
            raise ShuttingDown(f"bot '{bot_id}' did not start: the daemon is stopping") from None
        except Exception as exc:
            self._detach_feed()
            self._record_error(exc)
            await self._set_state(BotState.ERROR)
            _log.warning("bot %s failed to start: %s", bot_id, exc, extra={"bot_id": bot_id})
            raise InvalidTransition(f"bot '{bot_id}' failed to start: {exc}") from exc
        finally:
            self._preparing = None
        self.runtime["started_at"] = ns_to_iso(time.time_ns())
        await self._set_state(BotState.RUNNING)

    async def _prepare_start(self) -> list[Bar]:
        """Build the engine (a live venue connects), start it and the feed: the warm-up bars."""
        if self.engine is None:
            self.engine = await self._build_engine()
        self.last_error = None
        self.engine.start()
        self._feed = self._ctx.make_feed(self.config, self.on_bar)
        return await self._feed.start(self.config.warmup_periods)

    async def _stop(self) -> None:
        self._require({BotState.RUNNING, BotState.PAUSED}, "stop")
        self._detach_feed()
        await self._set_state(BotState.STOPPED)

    async def _update_config(self, changes: dict[str, Any]) -> BotConfig:
        self._require({BotState.STOPPED, BotState.ERROR}, "update the config of")
        # Merged and checked here, against the config the change applies to: a change checked
        # on the caller's side could land after another one and leave a config nothing checked.
        config = self.config.with_changes(changes)
        if self._ctx.check_config is not None:
            self._ctx.check_config(config)
        if config.initial_capital != self.portfolio.initial_cash:
            # Cash moves by the difference: the same as replaying the stored fills from the
            # new initial capital, which is what a restart does.
            self.portfolio.set_initial_cash(config.initial_capital)
            self._unsaved.account_changed = True
            self._ctx.mark_dirty(self)
        self.config = config
        self.status_changed()
        self.handle = BotHandle(self)
        if self.engine is not None:
            # The next start builds a new engine (new strategy or parameters) around the same
            # portfolio; open orders move over with it.
            self._carried_orders = list(self.engine.open_orders())
            self._carried_seq = self.engine.order_sequence
            # The status counted the orders sent by this engine; the count outlives it.
            self.order_count = max(self.order_count, self._carried_seq)
            self.engine = None
        return config

    async def _set_state(self, state: BotState) -> None:
        self.state = state
        self.status_changed()
        if self.engine is not None:
            self.engine.suppress_orders = state is not BotState.RUNNING
        self.runtime["last_error"] = self.last_error
        # Committed before the command is acknowledged: a restart sees what the caller saw.
        await self._ctx.persist_state(self.config.bot_id, state.value, dict(self.runtime))
        self._event("info", "state", f"bot {state.value}")
        self._ctx.mark_dirty(self)
        self._ctx.bus.publish(Topic.STATUS, self.config.bot_id, self.status().model_dump())

    # ------------------------------------------------------------------ engine
    async def _build_engine(self) -> Engine:
        config = self.config
        strategy = create_strategy(config.strategy, config.params)
        positions = {s: p.qty for s, p in self.portfolio.positions.items()}
        venue, self.blocked = await build_bot_venue(
            config, self._ctx.venues, self.instruments, positions, self._fail
        )
        engine = Engine(
            strategy,
            venue,
            portfolio=self.portfolio,
            instruments=self.instruments,
            risk_policy=BotRiskPolicy(
                leverage=config.leverage,
                max_position_pct=config.max_position_pct,
                risk_per_trade_pct=config.risk_per_trade_pct,
                account_guard=self._account_guard,
            ),
            order_id_prefix=f"{config.bot_id}-",
            log=lambda message: self._event("info", "strategy", message),
            retain_history=False,
        )
        engine.add_listener(self._on_order_event)
        # Always continue the old engine's numbering: new ids must never reuse stored ones,
        # whether or not orders were open when the config changed.
        engine.restore_order_sequence(self._carried_seq)
        for order in self._carried_orders:
            order.status = OrderStatus.NEW  # re-acknowledged by the new venue
            engine.adopt_open_order(order)
        self._carried_orders = []
        if not self._open_orders_loaded:  # the first engine: continue from the store
            await adopt_stored_orders(
                engine, venue, config.bot_id, self._ctx, partial(self._event, "warning")
            )
        self._open_orders_loaded = True
        return engine

    def _warm_up(self, bars: list[Bar]) -> None:
        if not bars or self.engine is None:
            return
        engine = self.engine
        engine.suppress_orders = True  # warm-up bars feed indicators; they never trade
        for bar in bars:
            engine.on_bar(bar)
            self.recent_bars.append(bar)
        engine.suppress_orders = False

    def on_bar(self, bar: Bar) -> None:
        """Called by the feed for every bar; never raises (a failing bot goes to ``error``).

        The per-bar path of every running bot: a thousand bots on one stream run it a thousand
        times per bar, so it only records what changed (the status is rebuilt when read, the
        bar is published only while someone listens, nothing is persisted unless the engine
        touched orders or an equity snapshot is due)."""
        engine = self.engine
        if engine is None or self.state not in _ACTIVE:
            return
        try:
            engine.on_bar(bar)
        except Exception as exc:
            self._fail(exc)
            return
        self.heartbeat_ns = time.time_ns()
        self.last_price = bar.close
        self._status = None
        self._changes.count += 1
        self.recent_bars.append(bar)
        bus = self._ctx.bus
        if bus.subscriber_count and bus.wants_topic(Topic.BARS):  # no dict per bar otherwise
            bus.publish(Topic.BARS, self.config.bot_id, bar_to_api(bar))
        risk = self._ctx.risk
        if risk is not None and self.portfolio.position_qty(bar.symbol):
            risk.on_mark(self.config.account_id, bar.symbol, bar.close)
        if self._unsaved.is_due():
            self._ctx.mark_dirty(self)

    def _account_guard(self, request: OrderRequest) -> tuple[bool, str]:
        """The account risk engine's pre-trade verdict (every order of every bot)."""
        if self.blocked is not None:
            return False, f"bot blocked: {self.blocked}"
        risk = self._ctx.risk
        if risk is None or not risk.knows(self.config.account_id):
            return True, ""
        verdict = risk.check_order(self.config.account_id, self.config.bot_id, request)
        return verdict.allowed, f"risk rule {verdict.rule}: {verdict.reason}"

    def enforce(
        self,
        kind: str,
        symbol: str,
        qty: Decimal,
        *,
        order_id: str = "",
        keep_protective: bool = True,
    ) -> Decimal:
        """Carry out a risk enforcement on this bot: cancel its orders (one, or all of
        ``symbol``/all symbols, keeping protective stops and reduce-only orders unless told),
        or close up to ``|qty|`` of its ``symbol`` position in the direction of ``qty``.
        Returns the qty it sent."""
        engine = self.engine
        if engine is None:
            return Decimal(0)
        sent = Decimal(0)
        with unsuppressed(engine):
            if kind == "cancel_orders":
                cancel_orders(engine, symbol, order_id, keep_protective)
            elif kind == "close_position":
                sent = close_position(engine, symbol, qty)
        self._event("warning", "risk_enforcement", f"{kind} {symbol} {qty}")
        self._ctx.mark_dirty(self)
        return sent

    def _on_order_event(self, order: Order, event: OrderEvent) -> None:
        risk = self._ctx.risk
        if risk is not None and risk.knows(self.config.account_id):
            if isinstance(event, OrderFilled):
                risk.on_fill(self.config.account_id, self.config.bot_id, event)
            risk.on_order(self.config.account_id, self.config.bot_id, order)
        self._unsaved.orders[order.client_order_id] = order
        self._ctx.mark_dirty(self)  # live venues report between bars
        if isinstance(event, OrderFilled):
            self._unsaved.fills.append(event)
            self.fill_count += 1
            self.last_fill_ts = event.ts
        elif isinstance(event, OrderRejected):
            self._event("warning", "order_rejected", f"{order.client_order_id}: {event.reason}")
        elif isinstance(event, OrderAmended | OrderAmendRejected):
            self._append_event(persist.amend_record(self.config.bot_id, order, event))

    def _close_all(self) -> None:
        self._require({BotState.RUNNING, BotState.PAUSED}, "close positions of")
        engine = self.engine
        assert engine is not None
        with unsuppressed(engine):
            close_all(engine)
        self._event("info", "close_all", "cancel open orders and flatten positions")
        self._ctx.mark_dirty(self)

    def _detach_feed(self) -> None:
        if self._feed is not None:
            self._feed.stop()
            self._feed = None

    def set_blocked(self, reason: str | None) -> None:
        """Block (fail closed) or unblock this bot's trading; said in its log and status."""
        if reason == self.blocked:
            return
        self.blocked = reason
        self.status_changed()
        if reason is None:
            self._event("info", "unblocked", "venue state agrees again; trading allowed")
        else:
            self._event("error", "blocked", reason)
        self._ctx.bus.publish(Topic.STATUS, self.config.bot_id, self.status().model_dump())

    def _fail(self, exc: BaseException, *, traceback: bool = True) -> None:
        self.status_changed()
        self._detach_feed()
        self._record_error(exc)
        self.state = BotState.ERROR
        if self.engine is not None:
            self.engine.suppress_orders = True
        self.runtime["last_error"] = self.last_error
        bot_id = self.config.bot_id
        _log.error(
            "bot %s failed: %s",
            bot_id,
            self.last_error,
            exc_info=exc if traceback else None,
            extra={"bot_id": bot_id},
        )
        self._ctx.on_error(self)

    def feed_failed(self, exc: BaseException) -> None:
        """The bot's feed ended with an error (already logged with its traceback)."""
        if self.state in (BotState.RUNNING, BotState.PAUSED):
            self._fail(exc, traceback=False)

    def feed_finished(self, message: str) -> None:
        """The bot's feed delivered all it had (a replay's whole file): said in its events,
        where an operator looking at a running bot with no new bars will look."""
        self._event("info", "feed", message)

    def persistence_failed(self, exc: BaseException) -> None:
        """The store could not take (some of) this bot's facts: stop it, say why (fail
        closed: its books and the store no longer agree). Once in ``error`` it is not
        failed again: a bot whose every record is refused must not log in a loop."""
        self._views_in_flight.clear()  # what they describe will not all be stored
        if self.state is BotState.ERROR:
            _log.debug("bot %s: %s", self.config.bot_id, exc)
            return
        self._fail(exc, traceback=False)

    def _record_error(self, exc: BaseException) -> None:
        # The strategy's own bug names its file and line, as a backtest of it would.
        engine = self.engine
        failure = strategy_failure(exc, type(engine.strategy)) if engine is not None else None
        self.last_error = str(failure) if failure is not None else f"{type(exc).__name__}: {exc}"
        self._event("error", "error", self.last_error)

    def _event(self, level: str, kind: str, message: str) -> None:
        self._append_event(persist.event_record(self.config.bot_id, level, kind, message))

    def _append_event(self, record: EventRecord) -> None:
        self._unsaved.add_event(record)
        self._ctx.mark_dirty(self)

    # ------------------------------------------------------------------ persistence
    def take_activity(self) -> tuple[Activity, BooksView | None]:
        """What changed since the last drain, as immutable records, and the books after it
        when it moved them (what a status may show once it is committed)."""
        active = self.state in _ACTIVE
        activity = self._unsaved.drain(self.config.bot_id, self.portfolio, active=active)
        if activity.fills or activity.account is not None:
            return activity, BooksView.of(self.portfolio, self.fill_count, self.last_fill_ts)
        return activity, None

    def drain_activity(self) -> Activity:
        """Snapshot what changed since the last drain, for the activity writer."""
        activity, view = self.take_activity()
        if view is not None:
            self._views_in_flight[id(activity)] = view
        return activity

    def on_committed(self, activity: Activity) -> None:
        """Publish what is now durable."""
        self.status_changed()
        view = self._views_in_flight.pop(id(activity), None)
        if view is not None:
            self.committed_books = view
        publish_committed(self._ctx.bus, self.config.bot_id, activity, self.status)

    # ------------------------------------------------------------------ status
    def status_changed(self) -> None:
        """Drop the cached status (its state, or its account's lock, changed); the service's
        cached listings see the change too."""
        self._status = None
        self._changes.count += 1

    def status(self) -> BotStatus:
        if self._status is None:
            self._status = build_status(self)
        return self._status

    def status_json(self) -> bytes:
        """The status as JSON bytes, serialised once per status change."""
        status = self.status()
        cached = self._status_json
        if cached is None or cached[0] is not status:
            cached = self._status_json = (status, status.__pydantic_serializer__.to_json(status))
        return cached[1]
