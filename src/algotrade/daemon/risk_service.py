"""The account risk engine inside the daemon.

Bot orders are checked before they are sent; bot fills, orders and marks become account
events, and so does everything a watched account's venue reports (``daemon.account_watch``).
Decisions are committed in batches on the store's writer thread, and only then enforced
(through the bots' venues, or at the watched account's venue: ``daemon.risk_enforcement``),
published on the ``risk`` topic and visible in the API.
In the daemon the risk clock is the time an event is received (bots' bars may be replayed
history); ``algotrade risk replay`` uses each event's own time.

Its tasks (the commit loop, the tick loop, one per enforcement action) run under a
``TaskSupervisor``: each is named, kept referenced, and its failure logged. An enforcement
that crashes counts as a failed one (the account is locked until an admin looks); a dead
commit loop makes ``flush()`` raise ``RiskCommitsStopped`` instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from algotrade.core.errors import AlgoTradeError, HaltError
from algotrade.core.events import OrderFilled
from algotrade.core.orders import Order, OrderRequest
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.risk_batch import Batch, Pending, breach_event, deep_merge
from algotrade.daemon.risk_enforcement import (
    BotTargets,
    EnforcementTarget,
    NotConnected,
    WatchedTarget,
    WatchView,
)
from algotrade.daemon.risk_inputs import bot_fill, bot_intent, bot_order
from algotrade.daemon.risk_reads import RiskReads
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.risk import calendar
from algotrade.risk.config_loader import RiskConfig, rules_from_dict
from algotrade.risk.decisions import (
    Action,
    ActionKind,
    Breach,
    Decision,
    Lockout,
    LockUntil,
    PreTradeVerdict,
)
from algotrade.risk.engine import RiskEngine
from algotrade.risk.events import AccountEvent, AccountFill, AccountStatus, MarkUpdate
from algotrade.risk.journal import (  # noqa: F401 - the daemon writes what the journal builds
    decision_log,
    jsonable,
    lockout_from_record,
    lockout_record,
    state_record,
)
from algotrade.store.records_risk import AuditRecord
from algotrade.store.risk_store import RiskStore

if TYPE_CHECKING:
    from algotrade.daemon.actor import BotActor

_log = logging.getLogger("algotrade.risk")
ENFORCEMENT_RETRIES = 3
ENFORCEMENT_CHECK_S = 2.0


class RiskCommitsStopped(HaltError):
    """The task committing risk decisions died: decisions are no longer persisted."""


__all__ = ["RiskCommitsStopped", "RiskReads", "RiskService"]


class RiskService:
    def __init__(
        self,
        config: RiskConfig,
        store: RiskStore,
        bus: EventBus,
        write_executor: Executor,
        *,
        clock: Callable[[], int] = time.time_ns,
        tick_interval: float = 1.0,
        supervisor: TaskSupervisor | None = None,
    ) -> None:
        """``supervisor`` runs the service's tasks. Without one the service keeps a private
        supervisor: its tasks are still referenced, named, logged when they fail and ended by
        ``stop()``; only the daemon's final shutdown does not see them."""
        self.config = config
        self.engine = RiskEngine(
            config.accounts,
            config.rules,
            {a: config.reset_for(a) for a in config.accounts},
        )
        self._store = store
        self.reads = RiskReads(store)
        self._bus = bus
        self._executor = write_executor
        self._clock = clock
        self._tick_interval = tick_interval
        self._pending: list[Pending] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._supervisor = supervisor or TaskSupervisor()
        self._tasks: list[asyncio.Task[None]] = []
        self._enforcing: set[asyncio.Task[None]] = set()
        self._commit_error: BaseException | None = None
        self._bots_of: Callable[[str], Iterable[BotActor]] = lambda _account: ()
        self._watches: dict[str, WatchView] = {}
        self._stopping = False
        self.decisions_committed = 0
        self.commit_failures = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, bots_of: Callable[[str], Iterable[BotActor]]) -> None:
        self._bots_of = bots_of
        states = await asyncio.to_thread(self._store.load_states)
        lockouts = await asyncio.to_thread(self._store.active_lockouts)
        for account_id, record in states.items():
            if account_id in self.engine.accounts:
                mine = [lockout_from_record(r) for r in lockouts if r.account_id == account_id]
                self.engine.restore(account_id, record.state, mine)
        self._commit_error = None
        self._tasks = [
            self._supervisor.spawn(
                self._commit_loop(), name="risk-commit", on_failure=self._commits_stopped
            ),
            self._supervisor.spawn(self._tick_loop(), name="risk-tick"),
        ]
        # A reset or expiry that fell in the downtime is applied (and committed) right now.
        self._queue(self.engine.tick(self._clock()))
        await self.flush()

    async def stop(self) -> None:
        self._stopping = True
        try:
            await self.flush()
        except RiskCommitsStopped as exc:  # already logged with its traceback; nothing to wait
            _log.error("risk: stopping; %d decisions not persisted: %s", len(self._pending), exc)
        # In-flight enforcements end with the service: the bots they act through are stopping.
        tasks = [*self._tasks, *self._enforcing]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def flush(self) -> None:
        """Wait until every queued decision is committed; ``RiskCommitsStopped`` if the commit
        task died (it would never be)."""
        self._raise_if_commits_stopped()
        # Not "if self._pending": a batch the commit task has taken is no longer pending, yet
        # not committed either; _idle is set only once nothing is left.
        if not self._idle.is_set():
            self._wakeup.set()
            await self._idle.wait()
            self._raise_if_commits_stopped()

    def _raise_if_commits_stopped(self) -> None:
        if self._commit_error is not None:
            raise RiskCommitsStopped(
                "risk decisions are no longer persisted: the commit task failed "
                f"({type(self._commit_error).__name__}: {self._commit_error}); restart the daemon"
            )

    def _commits_stopped(self, _task: asyncio.Task[Any], error: BaseException) -> None:
        self._commit_error = error
        self._idle.set()  # wake flush() waiters: they raise instead of waiting forever
        self._bus.publish(
            Topic.RISK,
            None,
            {"kind": "alert", "account_id": None, "message": "risk decisions not persisted"},
        )

    # ------------------------------------------------------------------ inputs from bots
    def knows(self, account_id: str) -> bool:
        return account_id in self.engine.accounts

    def check_order(self, account_id: str, bot_id: str, request: OrderRequest) -> PreTradeVerdict:
        intent = bot_intent(account_id, bot_id, request, self._clock())
        verdict, decision = self.engine.check_order(intent)
        if decision:
            self._queue([decision])
        if not verdict.allowed:
            self._bus.publish(
                Topic.RISK,
                bot_id,
                {
                    "kind": "rejected",
                    "account_id": account_id,
                    "rule": verdict.rule,
                    "reason": verdict.reason,
                    "symbol": request.symbol,
                },
            )
        return verdict

    # A bot trading a watched account: its venue reports the bot's orders and fills too.
    def on_fill(self, account_id: str, bot_id: str, fill: OrderFilled) -> None:
        if account_id not in self._watches:
            self._event(bot_fill(account_id, bot_id, fill, self._clock()))

    def on_order(self, account_id: str, bot_id: str, order: Order) -> None:
        if account_id not in self._watches:
            self._event(bot_order(account_id, bot_id, order, self._clock()))

    def on_account_status(
        self, account_id: str, *, can_trade: bool, connected: bool, reason: str
    ) -> None:
        """What a live venue says about the account (connection lost/back, trading halted)."""
        self._event(AccountStatus(account_id, self._clock(), can_trade, connected, reason))

    def on_mark(self, account_id: str, symbol: str, price: float) -> None:
        # Marks arrive with every bar: only a mark that decided something (a breach, an expiry,
        # a reset) is committed now. The marks themselves are written with the account's next
        # decision; writing the state on every bar would be a database write per bar.
        event = MarkUpdate(account_id, self._clock(), symbol, Decimal(repr(price)))
        self._queue([d for d in self.engine.on_event(event) if d])

    def _event(self, event: AccountEvent) -> None:
        self._queue(self.engine.on_event(event))

    def _queue(self, decisions: list[Decision], **extra: Any) -> None:
        for decision in decisions:
            self._pending.append(Pending(decision, **extra))
        if decisions:
            self._idle.clear()
            self._wakeup.set()

    # ------------------------------------------------------------------ admin
    async def unlock(
        self, account_id: str, actor: str, reason: str, rule: str | None = None
    ) -> list[Lockout]:
        cleared = self.engine.unlock(account_id, rule)
        now = self._clock()
        audit = AuditRecord(
            datetime.now(UTC),
            actor,
            "unlock",
            account_id,
            {"rule": rule, "reason": reason, "cleared": [lock.rule for lock in cleared]},
        )
        pending = Pending(
            Decision(account_id, now), [audit], [(lock, actor, reason) for lock in cleared]
        )
        self._pending.append(pending)
        self._idle.clear()
        self._wakeup.set()
        await self.flush()  # audited and committed before the caller hears it worked
        return cleared

    async def set_rules(self, account_id: str | None, raw: dict[str, Any], actor: str) -> None:
        targets = [account_id] if account_id else list(self.engine.accounts)
        # Validate every account's result before changing any: all or nothing.
        new_rules = {
            target: rules_from_dict(
                deep_merge(self.engine.rules[target].model_dump(mode="json"), raw), "request"
            )
            for target in targets
        }
        for target, rules in new_rules.items():
            self.engine.set_rules(target, rules)
            audit = AuditRecord(datetime.now(UTC), actor, "rules_change", target, {"changes": raw})
            self._pending.append(Pending(Decision(target, self._clock()), [audit]))
        self._idle.clear()
        self._wakeup.set()
        await self.flush()

    # ------------------------------------------------------------------ commit, enforce, publish
    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            by_account: dict[str, list[Pending]] = {}
            for item in batch:
                by_account.setdefault(item.decision.account_id, []).append(item)
            for account_id, items in by_account.items():
                records = Batch.of(state_record(self.engine.states[account_id]), items)
                try:
                    commit = functools.partial(
                        self._store.commit_decision,
                        account_id,
                        state=records.state,
                        new_lockouts=records.new_lockouts,
                        cleared=records.cleared,
                        log=records.log,
                        audit=records.audit,
                    )
                    ids = await loop.run_in_executor(self._executor, commit)
                except Exception as exc:
                    # Never dropped: decisions are facts. Back off (up to 30 s) and say so; the
                    # account's lockouts still hold in memory meanwhile.
                    self.commit_failures += 1
                    delay = min(0.5 * 2 ** min(self.commit_failures, 6), 30.0)
                    _log.exception(
                        "committing risk decisions for %s failed (%d in a row); retry in %.1f s",
                        account_id,
                        self.commit_failures,
                        delay,
                    )
                    self._bus.publish(
                        Topic.RISK,
                        None,
                        {
                            "kind": "alert",
                            "account_id": account_id,
                            "message": f"risk decisions not persisted: {type(exc).__name__}",
                        },
                    )
                    self._pending = items + self._pending
                    await asyncio.sleep(delay)
                    self._wakeup.set()
                    continue
                self.commit_failures = 0
                self.decisions_committed += len(items)
                expired = any(item.decision.expired for item in items)
                if records.new_lockouts or records.cleared or expired:  # "blocked" changes
                    for actor in self._bots_of(account_id):
                        actor.status_changed()
                enforcement_ids = iter(
                    log_id
                    for log_id, line in zip(ids, records.log, strict=False)
                    if line.kind == "enforcement"
                )
                for item in items:
                    for breach in item.decision.breaches:
                        self._bus.publish(Topic.RISK, None, breach_event(breach))
                        self._enforce(breach, enforcement_ids)
                    for lock in item.decision.expired:
                        self._bus.publish(
                            Topic.RISK,
                            None,
                            {"kind": "expired", "account_id": account_id, "rule": lock.rule},
                        )
            if not self._pending:
                self._idle.set()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_interval)
            try:
                decisions = [d for d in self.engine.tick(self._clock()) if d]
            except Exception:  # one bad tick must not end resets and expiries for good
                _log.exception("risk tick failed; trying again in %.1f s", self._tick_interval)
                continue
            if decisions:
                self._queue(decisions)

    # ------------------------------------------------------------------ enforcement
    def _target(self, account_id: str) -> EnforcementTarget:
        """The watched account at its venue, else the bots trading the account."""
        view = self._watches.get(account_id)
        if view is None:
            return BotTargets(list(self._bots_of(account_id)))
        if view.account is None:
            raise NotConnected("the account's venue watch is not connected")
        return WatchedTarget(view.account)

    def _enforce(self, breach: Breach, log_ids: Any) -> None:
        for action in breach.actions:
            if action.kind is ActionKind.ALERT:
                _log.warning("risk alert for %s: %s", breach.account_id, action.message)
                continue
            log_id = next(log_ids, None)
            task = self._supervisor.spawn(
                self._run_enforcement(breach, action, log_id),
                name=f"risk-enforce:{breach.account_id}:{action.kind.value}:{action.symbol}",
            )
            self._enforcing.add(task)
            task.add_done_callback(self._enforcing.discard)

    async def _run_enforcement(self, breach: Breach, action: Action, log_id: int | None) -> None:
        try:
            await self._enforce_with_retry(breach, action, log_id)
        except Exception as exc:
            # An enforcement that crashed did not happen: treat it as failed (lock, alert), then
            # let the supervisor log the traceback.
            message = (
                f"enforcement of {breach.rule} ({action.kind.value} {action.symbol}) crashed: "
                f"{type(exc).__name__}: {exc}"
            )
            await self._enforcement_failed(breach, log_id, 0, message)
            raise

    async def _enforce_with_retry(self, breach: Breach, action: Action, log_id: int | None) -> None:
        account_id = breach.account_id
        held = self.engine.states[account_id].qty(action.symbol)
        goal = held + action.qty  # where a close should leave the position
        if account_id in self._watches and (held == 0 or held * goal < 0):
            goal = Decimal(0)  # at a venue a close never reverses a position
        error = ""
        for attempt in range(1, ENFORCEMENT_RETRIES + 1):
            error = ""
            try:
                target = self._target(account_id)
                if action.kind is ActionKind.CANCEL_ORDERS:
                    await target.cancel(action)
                    await self._log_status(log_id, "done", attempt, "")
                    return
                remaining = self._still_to_close(account_id, action, goal)
                if remaining:
                    await target.close(action.symbol, remaining)
            except (AlgoTradeError, NotConnected) as exc:  # refused or unreachable: again
                error = f": {type(exc).__name__}: {exc}"
                _log.warning(
                    "risk %s: %s %s%s", account_id, action.kind.value, action.symbol, error
                )
            await asyncio.sleep(min(ENFORCEMENT_CHECK_S * attempt, 10))
            if action.kind is not ActionKind.CANCEL_ORDERS and not self._still_to_close(
                account_id, action, goal
            ):
                await self._log_status(log_id, "done", attempt, "")
                return
        message = (
            f"enforcement of {breach.rule} ({action.kind.value} {action.symbol}) failed "
            f"after {ENFORCEMENT_RETRIES} attempts{error}"
        )
        await self._enforcement_failed(breach, log_id, ENFORCEMENT_RETRIES, message)

    async def _enforcement_failed(
        self, breach: Breach, log_id: int | None, attempts: int, message: str
    ) -> None:
        """Lock the account until an admin unlocks it, and say so everywhere."""
        _log.error("risk alert: %s on account %s", message, breach.account_id)
        now = self._clock()
        lock = Lockout(breach.account_id, "enforcement_failed", message, now, LockUntil.MANUAL)
        self.engine.lock(lock)
        failed = Decision(
            breach.account_id,
            now,
            [Breach(breach.account_id, "enforcement_failed", now, message, (), lock)],
        )
        self._queue([failed])
        self._bus.publish(
            Topic.RISK, None, {"kind": "alert", "account_id": breach.account_id, "message": message}
        )
        await self._log_status(log_id, "failed", attempts, message)

    def _still_to_close(self, account_id: str, action: Action, target: Decimal) -> Decimal:
        """Signed qty still to trade to bring the position to ``target`` (0 when there)."""
        held = self.engine.states[account_id].qty(action.symbol)
        if (action.qty < 0 and held <= target) or (action.qty > 0 and held >= target):
            return Decimal(0)
        return target - held

    async def _log_status(
        self, log_id: int | None, status: str, attempts: int, message: str
    ) -> None:
        if log_id is None:
            return
        await asyncio.get_running_loop().run_in_executor(
            self._executor, self._store.update_log_status, log_id, status, attempts, message
        )

    # ------------------------------------------------------------------ watched accounts
    def attach_watch(self, account_id: str, view: WatchView) -> None:
        """Enforce at the account's venue from now on; show the watch in the account's view."""
        self.engine.states[account_id]  # a KeyError for an account not configured
        self._watches[account_id] = view

    def now(self) -> int:
        return self._clock()

    def history_start_ns(self, account_id: str) -> int:
        """The start of the account's trading day (its last daily reset)."""
        return calendar.last_reset_at_or_before(self._clock(), self.engine.resets[account_id])

    def venue_event(self, event: AccountEvent, trade_id: str = "") -> None:
        """An event a watched account's venue reported; a fill with its venue trade id is
        counted once however often it is reported; a mark is committed only if it decided
        something (as for bots)."""
        if isinstance(event, AccountFill) and trade_id:
            self._queue(self.engine.on_fill_once(event, trade_id))
        elif isinstance(event, MarkUpdate):
            self._queue([d for d in self.engine.on_event(event) if d])
        else:
            self._event(event)

    def set_multipliers(self, account_id: str, multipliers: dict[str, Decimal]) -> None:
        self.engine.set_multipliers(account_id, multipliers)

    # ------------------------------------------------------------------ views
    def accounts(self) -> list[dict[str, Any]]:
        return [self.account(a) for a in self.engine.accounts]

    def account(self, account_id: str) -> dict[str, Any]:
        snapshot: dict[str, Any] = jsonable(self.engine.snapshot(account_id))
        view = self._watches.get(account_id)
        snapshot["watch"] = None if view is None else view.status()
        return snapshot
