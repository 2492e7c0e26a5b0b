"""The account risk engine: account events in, decisions out. Synchronous, no I/O.

Time is the event time (``ts``), so replaying a day's events gives the same decisions as living
through it. For every event the engine first lets time pass for that account (daily reset,
lockout expiry, session end, stop-loss grace), then applies the event and evaluates the rules
it can affect. Callers persist each ``Decision`` before acting on it or acknowledging it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from algotrade.risk import calendar
from algotrade.risk import rules as rule_checks
from algotrade.risk.decisions import (
    ALLOWED,
    Action,
    ActionKind,
    Breach,
    Decision,
    Lockout,
    LockUntil,
    PreTradeVerdict,
)
from algotrade.risk.errors import UnknownAccount
from algotrade.risk.events import (
    AccountEvent,
    AccountFill,
    AccountStatus,
    ClockTick,
    MarkUpdate,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
)
from algotrade.risk.rules_config import AccountConfig, DailyReset, RiskRules
from algotrade.risk.state import HOUR_NS, MINUTE_NS, ZERO, AccountRisk, OpenOrder


class RiskEngine:
    def __init__(
        self,
        accounts: Mapping[str, AccountConfig],
        rules: Mapping[str, RiskRules],
        resets: Mapping[str, DailyReset],
    ) -> None:
        self.accounts = dict(accounts)
        self.rules = {a: rules.get(a, RiskRules()) for a in self.accounts}
        self.resets = {a: resets.get(a, DailyReset()) for a in self.accounts}
        self.states: dict[str, AccountRisk] = {
            a: AccountRisk(
                a,
                balance=c.starting_balance,
                peak_equity=c.starting_balance,
                multipliers=dict(c.multipliers),
            )
            for a, c in self.accounts.items()
        }

    # ------------------------------------------------------------------ restore
    def restore(self, account_id: str, data: dict[str, Any], lockouts: Iterable[Lockout]) -> None:
        self._state(account_id)
        self.states[account_id] = AccountRisk.from_dict(
            account_id, data, list(lockouts), self.accounts[account_id].multipliers
        )

    # ------------------------------------------------------------------ events
    def on_event(self, event: AccountEvent) -> list[Decision]:
        if isinstance(event, ClockTick) and event.account_id == "*":
            return [d for a in self.accounts if (d := self._advance(a, event.ts))]
        state = self._state(event.account_id)
        decision = self._advance(event.account_id, event.ts)
        rules = self.rules[event.account_id]
        ts = event.ts
        if isinstance(event, AccountFill):
            decision.breaches += self._on_fill(state, rules, event)
        elif isinstance(event, PositionUpdate):
            before = state.qty(event.symbol)
            state.set_position(event.symbol, event.qty, event.avg_price)
            decision.breaches += self._grown_while_locked(state, event, before)
            decision.breaches += rule_checks.position_rules(state, rules, ts)
            decision.breaches += rule_checks.protection_rule(state, rules, ts)
        elif isinstance(event, OrderUpdate):
            decision.breaches += self._on_order(state, event)
            decision.breaches += rule_checks.protection_rule(state, rules, ts)
        elif isinstance(event, MarkUpdate):
            state.marks[event.symbol] = event.price
            decision.breaches += rule_checks.mark_rules(state, rules, ts)
        elif isinstance(event, AccountStatus):
            decision.breaches += self._on_status(state, rules, event)
        # Always returned: even without a breach the state moved (daily PnL, counts), and the
        # caller persists it before acknowledging the event.
        return [decision]

    def on_fill_once(self, fill: AccountFill, trade_id: str) -> list[Decision]:
        """``on_event(fill)`` unless the venue trade ``trade_id`` was counted already (a
        watched account's trades are reported again after a restart or a reconnect). The id
        is remembered in the account's state, so it is committed with the fill's decision."""
        state = self._state(fill.account_id)
        if state.seen_trade(trade_id):
            return []
        state.note_trade(trade_id, fill.ts)
        return self.on_event(fill)

    def _on_fill(self, state: AccountRisk, rules: RiskRules, fill: AccountFill) -> list[Breach]:
        if self.accounts[state.account_id].watch is not None:
            # A watched account's positions are the venue's (position events); its fills
            # count PnL, fees and trades. The venue gives the PnL of each closing fill.
            computed = ZERO
        else:
            signed = fill.qty if fill.side == "buy" else -fill.qty
            computed = state.apply_fill(fill.symbol, signed, fill.price)
        realized = fill.realized_pnl if fill.realized_pnl is not None else computed
        net = realized - fill.fee
        state.balance += net
        state.daily_realized += net
        state.daily_fees += fill.fee
        state.trades_today += 1
        state.record_trade(fill.ts)
        state.marks[fill.symbol] = fill.price  # a fill is the freshest price there is
        if fill.order_id:
            state.fill_order(fill.order_id, fill.qty)
        closing_loss = realized if realized != 0 else None
        return (
            rule_checks.pnl_rules(state, rules, fill.ts, closing_loss)
            + rule_checks.frequency_rule(state, rules, fill.ts)
            + rule_checks.position_rules(state, rules, fill.ts)
            + rule_checks.mark_rules(state, rules, fill.ts)
            + rule_checks.protection_rule(state, rules, fill.ts)
        )

    def _on_order(self, state: AccountRisk, order: OrderUpdate) -> list[Breach]:
        if order.status != "open":
            state.open_orders.pop(order.order_id, None)
            return []
        known = order.order_id in state.open_orders
        state.open_orders[order.order_id] = OpenOrder(
            order.symbol, order.side, order.type, order.qty, order.stop_price
        )
        lockout = state.active_lockout(order.ts)
        if known or order.reduce_only or lockout is None:
            return []
        # An order that reached the venue while the account is locked (placed outside the
        # daemon): cancel it. No trader can bypass a lockout.
        message = f"order {order.order_id} placed while locked by {lockout.rule}"
        action = Action(
            ActionKind.CANCEL_ORDERS, order.symbol, message=message, order_id=order.order_id
        )
        return [Breach(state.account_id, lockout.rule, order.ts, message, (action,))]

    def _grown_while_locked(
        self, state: AccountRisk, event: PositionUpdate, before: Decimal
    ) -> list[Breach]:
        """A position the venue reports larger while the account is locked (an order placed
        outside the daemon filled before it could be cancelled): close what it grew by."""
        after = event.qty
        lockout = state.active_lockout(event.ts)
        if lockout is None or after == 0:
            return []
        target = before if before * after > 0 else ZERO  # never reverse, never below before
        if abs(after) <= abs(target):
            return []
        message = f"{event.symbol} position grew to {after} while locked by {lockout.rule}"
        breach = rule_checks.close_breach(
            state, lockout.rule, event.ts, event.symbol, target - after, message
        )
        return [breach] if breach else []

    def _on_status(
        self, state: AccountRisk, rules: RiskRules, event: AccountStatus
    ) -> list[Breach]:
        was_ok = state.can_trade and state.connected
        state.can_trade, state.connected, state.status_reason = (
            event.can_trade,
            event.connected,
            event.reason,
        )
        now_ok = event.can_trade and event.connected
        if not rules.account_status_guard.enabled or now_ok or not was_ok:
            return []
        what = "cannot trade" if not event.can_trade else "is disconnected"
        message = f"venue reports the account {what}" + (
            f": {event.reason}" if event.reason else ""
        )
        return [
            Breach(
                state.account_id,
                "account_status_guard",
                event.ts,
                message,
                (Action(ActionKind.ALERT, message=message),),
            )
        ]

    # ------------------------------------------------------------------ time
    def _advance(self, account_id: str, ts: int) -> Decision:
        state = self._state(account_id)
        decision = Decision(account_id, ts)
        reset = self.resets[account_id]
        if state.next_reset_ts is None:
            state.next_reset_ts = calendar.next_reset_after(ts, reset)
            state.trading_day = calendar.trading_day(ts, reset)
        elif ts >= state.next_reset_ts:
            self._daily_reset(state, ts, reset, decision)
        still: list[Lockout] = []
        for lockout in state.lockouts:
            (still if lockout.active_at(ts) else decision.expired).append(lockout)
        state.lockouts = still
        rules = self.rules[account_id]
        session = rules.session_hours
        if session.enabled:
            now_in = calendar.in_session(ts, session)
            if state.in_session and not now_in and session.flatten_at_end and state.positions:
                message = "trading session ended: flatten"
                decision.breaches.append(
                    Breach(
                        account_id,
                        "session_hours",
                        ts,
                        message,
                        rule_checks.flatten_actions(state, message),
                    )
                )
            state.in_session = now_in
        if rules.no_stop_loss_grace.enabled and state.unprotected_since:
            decision.breaches += rule_checks.protection_rule(state, rules, ts)
        state.last_ts = max(state.last_ts, ts)
        return decision

    def _daily_reset(
        self, state: AccountRisk, ts: int, reset: DailyReset, decision: Decision
    ) -> None:
        # Idempotent: keyed on the scheduled moment, applied once however late it is noticed
        # (a daemon that was down across the reset time applies it at start).
        state.last_reset_ts = calendar.last_reset_at_or_before(ts, reset)
        state.next_reset_ts = calendar.next_reset_after(ts, reset)
        state.trading_day = calendar.trading_day(ts, reset)
        state.daily_realized = ZERO
        state.daily_fees = ZERO
        state.trades_today = 0
        state.overridden = {}
        state.rotate_trade_ids()
        kept: list[Lockout] = []
        for lockout in state.lockouts:
            (decision.expired if lockout.until is LockUntil.RESET else kept).append(lockout)
        state.lockouts = kept
        decision.reset = True

    def tick(self, ts: int) -> list[Decision]:
        return self.on_event(ClockTick("*", ts))

    # ------------------------------------------------------------------ pre-trade
    def check_order(self, intent: OrderIntent) -> tuple[PreTradeVerdict, Decision]:
        """Verdict for a bot's order; the decision holds what time passing changed."""
        state = self._state(intent.account_id)
        decision = self._advance(intent.account_id, intent.ts)
        return self._verdict(state, self.rules[intent.account_id], intent), decision

    def lock_reason(self, account_id: str, ts: int) -> str | None:
        """Why the account's orders are refused at ``ts`` (an active lockout), or None."""
        state = self.states.get(account_id)
        lockout = state.active_lockout(ts) if state is not None else None
        if lockout is None:
            return None
        return f"account {account_id} locked by {lockout.rule} until {lockout.until_text()}"

    def _verdict(
        self, state: AccountRisk, rules: RiskRules, intent: OrderIntent
    ) -> PreTradeVerdict:
        if intent.reduce_only:
            return ALLOWED  # reducing risk is always allowed
        ts = intent.ts
        lockout = state.active_lockout(ts)
        if lockout is not None:
            return PreTradeVerdict(
                False,
                lockout.rule,
                f"account locked by {lockout.rule} until {lockout.until_text()}: {lockout.reason}",
            )
        if rules.account_status_guard.enabled and not (state.can_trade and state.connected):
            return PreTradeVerdict(
                False,
                "account_status_guard",
                f"venue reports the account cannot trade ({state.status_reason or 'disconnected'})",
            )
        session = rules.session_hours
        if session.enabled and not calendar.in_session(ts, session):
            return PreTradeVerdict(False, "session_hours", "outside the allowed trading hours")
        if rules.symbol_blocklist.enabled and intent.symbol in rules.symbol_blocklist.symbols:
            return PreTradeVerdict(False, "symbol_blocklist", f"{intent.symbol} is blocked")
        signed = intent.qty if intent.side == "buy" else -intent.qty
        after = state.qty(intent.symbol) + signed
        per = rules.max_contracts_per_instrument
        limit = per.limits.get(intent.symbol, per.default) if per.enabled else None
        if limit is not None and abs(after) > limit and abs(after) > abs(state.qty(intent.symbol)):
            return PreTradeVerdict(
                False,
                "max_contracts_per_instrument",
                f"{intent.symbol} position would be {after}, limit {limit}",
            )
        account_limit = rules.max_contracts
        if account_limit.enabled:
            others = [p.qty for s, p in state.positions.items() if s != intent.symbol]
            total = (
                sum((abs(q) for q in others), ZERO) + abs(after)
                if account_limit.mode == "gross"
                else abs(sum(others, ZERO) + after)
            )
            current = (
                state.gross_contracts() if account_limit.mode == "gross" else state.net_contracts()
            )
            if total > account_limit.limit and total > current:
                return PreTradeVerdict(
                    False,
                    "max_contracts",
                    f"{account_limit.mode} contracts would be {total}, limit {account_limit.limit}",
                )
        frequency = rules.trade_frequency
        if frequency.enabled:
            for window, limit_n, count in (
                ("minute", frequency.per_minute, state.trades_in(ts, MINUTE_NS)),
                ("hour", frequency.per_hour, state.trades_in(ts, HOUR_NS)),
                ("session", frequency.per_session, state.trades_today),
            ):
                if limit_n is not None and count >= limit_n:
                    return PreTradeVerdict(
                        False, "trade_frequency", f"{count} trades this {window}; limit {limit_n}"
                    )
        return ALLOWED

    # ------------------------------------------------------------------ admin
    def unlock(self, account_id: str, rule: str | None = None) -> list[Lockout]:
        state = self._state(account_id)
        cleared = [lock for lock in state.lockouts if rule is None or lock.rule == rule]
        state.lockouts = [lock for lock in state.lockouts if lock not in cleared]
        for lock in cleared:
            if lock.until is LockUntil.RESET and state.next_reset_ts is not None:
                state.overridden[lock.rule] = state.next_reset_ts
            if lock.rule == "trailing_drawdown":
                # The admin accepted the drawdown: the trail starts again from here.
                state.peak_equity = state.equity()
        return cleared

    def lock(self, lockout: Lockout) -> None:
        """Add a lockout from outside the rules (failed enforcement, an admin's manual lock)."""
        self._state(lockout.account_id).lockouts.append(lockout)

    def set_multipliers(self, account_id: str, multipliers: Mapping[str, Decimal]) -> None:
        """Money per point by symbol from the venue (a watched account's contract specs)."""
        self._state(account_id).set_multipliers(dict(multipliers))

    def set_rules(self, account_id: str, rules: RiskRules) -> None:
        self._state(account_id)
        self.rules[account_id] = rules

    # ------------------------------------------------------------------ views
    def snapshot(self, account_id: str) -> dict[str, Any]:
        state = self._state(account_id)
        rules = self.rules[account_id]
        unrealized = {s: state.unrealized(s) for s in state.positions}
        return {
            "account_id": account_id,
            "trading_day": state.trading_day,
            "balance": state.balance,
            "equity": state.equity(),
            "peak_equity": state.peak_equity,
            "daily_realized_pnl": state.daily_realized,
            "daily_fees": state.daily_fees,
            "trades_today": state.trades_today,
            "open_risk": sum((u for u in unrealized.values() if u < 0), ZERO),
            "positions": {
                s: {"qty": p.qty, "avg_price": p.avg_price, "unrealized": unrealized[s]}
                for s, p in state.positions.items()
            },
            "can_trade": state.can_trade,
            "connected": state.connected,
            "status_reason": state.status_reason,
            "last_reset_ts": state.last_reset_ts,
            "next_reset_ts": state.next_reset_ts,
            "lockouts": list(state.lockouts),
            "rules": {
                name: getattr(rules, name).model_dump(mode="json")
                for name in type(rules).model_fields
            },
        }

    def _state(self, account_id: str) -> AccountRisk:
        state = self.states.get(account_id)
        if state is None:
            known = ", ".join(sorted(self.states))
            raise UnknownAccount(f"unknown account {account_id!r}; accounts in the config: {known}")
        return state


__all__ = ["RiskEngine", "UnknownAccount"]
