"""Offline rule replay: account events through a fresh ``RiskEngine``, persisted like the daemon.

``replay(events, config)`` feeds every event to the same engine the daemon runs (order intents
to ``check_order``, everything else to ``on_event``) and commits every decision to a
``RiskStore`` the way the daemon's commit loop does (``risk.journal``): the account's state,
new lockouts, expired lockouts cleared at the decision's time, the log lines. Unlike the
daemon, the clock is each event's own time, so a replay is deterministic.

The events are checked whole before anything is stored: a first pass runs them through a
fresh engine without a store, so an unknown account, an event out of time order or amounts
too large to compute exactly stop the replay with one line naming the event (its file and
line when it was read from one) and nothing is written.

The result is JSON-ready and holds no wall-clock time and no store-assigned id. Its
``lockouts``, ``enforcements`` and ``log`` are read back from the store after the replay
(``RiskStore.dump_all``), so equal results on SQLite and PostgreSQL mean equal stored data.
Nothing is enforced: enforcement log lines stay ``requested``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import DecimalException
from pathlib import Path
from typing import Any

from algotrade.core.errors import DataError, InputError
from algotrade.core.money import decimal_text
from algotrade.risk.config_loader import RiskConfig
from algotrade.risk.decisions import Breach, Decision, Lockout, PreTradeVerdict
from algotrade.risk.engine import RiskEngine
from algotrade.risk.event_codec import EVENT_TYPES, ReplayEvent, format_ts
from algotrade.risk.events import ClockTick, OrderIntent
from algotrade.risk.journal import commit_decision, jsonable
from algotrade.store.risk_store import RiskStore
from algotrade.store.store import Store

__all__ = ["ENFORCEMENT_KINDS", "engine_for", "replay"]

ENFORCEMENT_KINDS = ("enforcement", "alert")
_ALL_ACCOUNTS = "*"
_KIND_OF = {cls: kind for kind, cls in EVENT_TYPES.items()}  # AccountFill → "fill"


def engine_for(config: RiskConfig) -> RiskEngine:
    """A fresh engine for ``config``, built as the daemon builds its own."""
    return RiskEngine(
        config.accounts, config.rules, {a: config.reset_for(a) for a in config.accounts}
    )


def replay(
    events: Iterable[ReplayEvent], config: RiskConfig, *, db_url: str | None = None
) -> dict[str, Any]:
    """Replay ``events`` (in time order) against ``config``; see the module docstring.

    ``db_url`` is where decisions are committed (SQLite or PostgreSQL; migrated on open); it
    must hold no risk data yet. None uses a temporary SQLite file, removed afterwards. An
    event of an account that is not configured is a ``DataError``; so is an event out of time
    order (``read_events`` already checks files) and one after which amounts grow too large
    to compute exactly. All of them are found before the first commit.
    """
    checked = list(events)
    dry_run = _Run(engine_for(config))
    for index, event in enumerate(checked, start=1):
        dry_run.apply(index, event, None)
    engine = engine_for(config)
    run = _Run(engine)
    with _opened(db_url) as store:
        risk_store = RiskStore(store)
        _require_empty(risk_store, store.url)
        for index, event in enumerate(checked, start=1):
            run.apply(index, event, risk_store)
        dump = risk_store.dump_all()
    log: list[dict[str, Any]] = dump["risk_log"]
    lockouts: list[dict[str, Any]] = dump["risk_lockouts"]
    enforcements = [line for line in log if line["kind"] in ENFORCEMENT_KINDS]
    return {
        "accounts": {a: jsonable(engine.snapshot(a)) for a in sorted(engine.accounts)},
        "breaches": run.breaches,
        "lockouts": lockouts,
        "enforcements": enforcements,
        "rejections": run.rejections,
        "log": log,
        "counts": {
            "events": run.events,
            "order_intents": run.intents,
            "decisions": run.committed,
            "breaches": len(run.breaches),
            "breaches_by_rule": dict(sorted(Counter(b["rule"] for b in run.breaches).items())),
            "rejections": len(run.rejections),
            "lockouts": len(lockouts),
            "active_lockouts": sum(1 for lock in lockouts if lock["active"]),
            "enforcements": len(enforcements),
            "resets": sum(1 for line in log if line["kind"] == "reset"),
            "expiries": sum(1 for line in log if line["kind"] == "expiry"),
            "log_lines": len(log),
        },
    }


class _Run:
    """One replay's progress: what it saw and what it committed."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self.events = self.intents = self.committed = 0
        self.last_ts: int | None = None
        self.breaches: list[dict[str, Any]] = []
        self.rejections: list[dict[str, Any]] = []

    def apply(self, index: int, event: ReplayEvent, store: RiskStore | None) -> None:
        """Run one event; commit its decisions to ``store`` (None: a dry run)."""
        where = _where(index, event)
        self._check(where, event)
        self.events += 1
        self.last_ts = event.ts
        try:
            decisions = self._decide(event)
        except DecimalException as exc:
            # Every input is bounded, but positions and money accumulate over many events.
            raise DataError(
                f"{where}: amounts after this {_KIND_OF[type(event)]} are too large to "
                f"compute exactly ({type(exc).__name__}); keep positions and money "
                "below 1e20"
            ) from exc
        for item in decisions:
            self._commit(store, item)

    def _decide(self, event: ReplayEvent) -> list[Decision]:
        if isinstance(event, OrderIntent):
            self.intents += 1
            verdict, decision = self.engine.check_order(event)
            if not verdict.allowed:
                self.rejections.append(_rejection(event, verdict))
            # As in the daemon: a pre-trade check is committed only when time passing changed
            # something (a reset, an expiry, a session end).
            return [decision] if decision else []
        # Every account event's decision is committed: the state moved even without a
        # breach (daily PnL, counts). A tick of every account returns only real changes.
        return self.engine.on_event(event)

    def _check(self, where: str, event: ReplayEvent) -> None:
        account = event.account_id
        wildcard = isinstance(event, ClockTick) and account == _ALL_ACCOUNTS
        if not wildcard and account not in self.engine.accounts:
            known = ", ".join(sorted(self.engine.accounts))
            field = "field 'account': " if event.source else ""
            raise DataError(
                f"{where}: {field}unknown account {account!r}; accounts in the config: {known}"
            )
        if self.last_ts is not None and event.ts < self.last_ts:
            field = "field 'ts': " if event.source else ""
            raise DataError(
                f"{where}: {field}{format_ts(event.ts)} is earlier than the event before "
                f"({format_ts(self.last_ts)}); events must be in time order"
            )

    def _commit(self, store: RiskStore | None, decision: Decision) -> None:
        if store is not None:
            commit_decision(store, self.engine.states[decision.account_id], decision)
        self.committed += 1
        self.breaches += [_breach(breach) for breach in decision.breaches]


def _where(index: int, event: ReplayEvent) -> str:
    """``day.jsonl line 7`` for an event read from a file, else ``event 7 (its time)``."""
    return event.source or f"event {index} ({format_ts(event.ts)})"


def _lockout(lockout: Lockout) -> dict[str, Any]:
    return {
        "rule": lockout.rule,
        "reason": lockout.reason,
        "start_at": format_ts(lockout.start_ts),
        "until": lockout.until.value,
        "until_at": None if lockout.until_ts is None else format_ts(lockout.until_ts),
        "until_ts": lockout.until_ts,
    }


def _breach(breach: Breach) -> dict[str, Any]:
    return {
        "ts": format_ts(breach.ts),
        "account_id": breach.account_id,
        "rule": breach.rule,
        "message": breach.message,
        "actions": [action.summary() for action in breach.actions],
        "lockout": None if breach.lockout is None else _lockout(breach.lockout),
    }


def _rejection(intent: OrderIntent, verdict: PreTradeVerdict) -> dict[str, Any]:
    return {
        "ts": format_ts(intent.ts),
        "account_id": intent.account_id,
        "bot_id": intent.bot_id,
        "symbol": intent.symbol,
        "side": intent.side,
        "qty": decimal_text(intent.qty),
        "rule": verdict.rule,
        "reason": verdict.reason,
    }


def _require_empty(store: RiskStore, url: str) -> None:
    filled = [
        name
        for name, rows in (
            ("risk_account_state", len(store.load_states())),
            ("risk_lockouts", store.lockouts(None, limit=1).total),
            ("risk_log", store.log(None, limit=1).total),
            ("risk_audit", store.audit(limit=1).total),
        )
        if rows
    ]
    if filled:
        raise InputError(
            f"replay database {url} already holds risk data ({', '.join(filled)}); "
            "replay into an empty database"
        )


@contextmanager
def _opened(db_url: str | None) -> Iterator[Store]:
    if db_url is not None:
        with Store(db_url) as store:
            yield store
        return
    with (
        tempfile.TemporaryDirectory(prefix="algotrade-replay-") as folder,
        Store(f"sqlite:///{(Path(folder) / 'replay.db').as_posix()}") as store,
    ):
        yield store
