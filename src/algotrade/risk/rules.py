"""Rule evaluation: pure functions of an account's state, its rules and the event time.

Each returns breaches; a breach carries the enforcement actions and, for rules that lock, the
lockout. A rule that locks does not trip again while its lockout is active, and a rule that
closes a position does not ask again for the same position until it changed or the request
went stale (``RETRY_NS``), so one loss never floods the venue with closing orders.
"""

from __future__ import annotations

from decimal import Decimal

from algotrade.risk.decisions import Action, ActionKind, Breach, Lockout, LockUntil
from algotrade.risk.rules_config import RiskRules
from algotrade.risk.state import HOUR_NS, MINUTE_NS, ZERO, AccountRisk

RETRY_NS = 30_000_000_000  # re-request an enforcement that did not change the position


def flatten_actions(state: AccountRisk, message: str) -> tuple[Action, ...]:
    actions = [Action(ActionKind.CANCEL_ORDERS, message=message, keep_protective=False)]
    for symbol in sorted(state.positions):
        qty = state.positions[symbol].qty
        actions.append(Action(ActionKind.CLOSE_POSITION, symbol, -qty, message))
    return tuple(actions)


def locked_by(state: AccountRisk, rule: str, ts: int) -> bool:
    return any(lock.rule == rule and lock.active_at(ts) for lock in state.lockouts)


def lock_breach(
    state: AccountRisk,
    rule: str,
    ts: int,
    message: str,
    until: LockUntil,
    until_ts: int | None,
    *,
    flatten: bool,
) -> Breach | None:
    if locked_by(state, rule, ts) or state.overridden.get(rule, 0) > ts:
        return None
    lockout = Lockout(state.account_id, rule, message, ts, until, until_ts)
    state.lockouts.append(lockout)
    actions = (
        flatten_actions(state, message)
        if flatten
        else (Action(ActionKind.CANCEL_ORDERS, message=message),)
    )
    return Breach(state.account_id, rule, ts, message, actions, lockout)


def close_breach(
    state: AccountRisk, rule: str, ts: int, symbol: str, trade_qty: Decimal, message: str
) -> Breach | None:
    key = f"{rule}:{symbol}"
    requested = state.enforcing.get(key)
    if requested is not None and ts - requested < RETRY_NS:
        return None
    state.enforcing[key] = ts
    action = Action(ActionKind.CLOSE_POSITION, symbol, trade_qty, message)
    return Breach(state.account_id, rule, ts, message, (action,))


# ---------------------------------------------------------------------- position limits
def position_rules(state: AccountRisk, rules: RiskRules, ts: int) -> list[Breach]:
    found: list[Breach] = []
    blocklist = rules.symbol_blocklist
    if blocklist.enabled:
        for symbol in sorted(state.positions):
            if symbol in blocklist.symbols:
                qty = state.qty(symbol)
                message = f"position {qty} in blocked symbol {symbol}"
                breach = close_breach(state, "symbol_blocklist", ts, symbol, -qty, message)
                if breach:
                    found.append(breach)
    per_symbol = rules.max_contracts_per_instrument
    if per_symbol.enabled:
        for symbol in sorted(state.positions):
            limit = per_symbol.limits.get(symbol, per_symbol.default)
            qty = state.qty(symbol)
            if limit is not None and abs(qty) > limit:
                excess = abs(qty) - limit
                trade = -excess if qty > 0 else excess
                message = f"{symbol} position {qty} exceeds the limit of {limit}"
                breach = close_breach(
                    state, "max_contracts_per_instrument", ts, symbol, trade, message
                )
                if breach:
                    found.append(breach)
    account_limit = rules.max_contracts
    if account_limit.enabled:
        found += _account_contracts(state, account_limit.limit, account_limit.mode, ts)
    return found


def _account_contracts(state: AccountRisk, limit: Decimal, mode: str, ts: int) -> list[Breach]:
    total = state.gross_contracts() if mode == "gross" else state.net_contracts()
    if total <= limit:
        return []
    excess = total - limit
    net = sum((p.qty for p in state.positions.values()), ZERO)
    breaches = []
    # Reduce the largest positions first (for net mode only those on the net side).
    for symbol in sorted(state.positions, key=lambda s: (-abs(state.qty(s)), s)):
        qty = state.qty(symbol)
        if mode == "net" and (qty > 0) != (net > 0):
            continue
        cut = min(abs(qty), excess)
        trade = -cut if qty > 0 else cut
        message = f"{mode} contracts {total} exceed the account limit of {limit}"
        breach = close_breach(state, "max_contracts", ts, symbol, trade, message)
        if breach:
            breaches.append(breach)
        excess -= cut
        if excess <= 0:
            break
    return breaches


# ---------------------------------------------------------------------- PnL
def pnl_rules(
    state: AccountRisk, rules: RiskRules, ts: int, fill_realized: Decimal | None
) -> list[Breach]:
    found: list[Breach] = []
    reset_ts = state.next_reset_ts
    loss = rules.daily_realized_loss
    if loss.enabled and -state.daily_realized >= loss.limit:
        breach = lock_breach(
            state,
            "daily_realized_loss",
            ts,
            f"daily realized loss {-state.daily_realized} reached the limit of {loss.limit}",
            LockUntil.RESET,
            reset_ts,
            flatten=True,
        )
        if breach:
            found.append(breach)
    profit = rules.daily_realized_profit
    if profit.enabled and state.daily_realized >= profit.target:
        breach = lock_breach(
            state,
            "daily_realized_profit",
            ts,
            f"daily realized profit {state.daily_realized} reached the target of {profit.target}",
            LockUntil.RESET,
            reset_ts,
            flatten=True,
        )
        if breach:
            found.append(breach)
    cooldown = rules.cooldown_after_loss
    if cooldown.enabled and fill_realized is not None and -fill_realized >= cooldown.loss_threshold:
        until = ts + int(cooldown.cooldown_minutes * MINUTE_NS)
        breach = lock_breach(
            state,
            "cooldown_after_loss",
            ts,
            f"a trade lost {-fill_realized} (threshold {cooldown.loss_threshold}); "
            f"cooling down {cooldown.cooldown_minutes:g} min",
            LockUntil.TIME,
            until,
            flatten=False,
        )
        if breach:
            found.append(breach)
    return found


def frequency_rule(state: AccountRisk, rules: RiskRules, ts: int) -> list[Breach]:
    config = rules.trade_frequency
    if not config.enabled:
        return []
    counts = (
        ("minute", config.per_minute, state.trades_in(ts, MINUTE_NS)),
        ("hour", config.per_hour, state.trades_in(ts, HOUR_NS)),
        ("session", config.per_session, state.trades_today),
    )
    for window, limit, count in counts:
        if limit is not None and count > limit:
            until = ts + int(config.cooldown_minutes * MINUTE_NS)
            breach = lock_breach(
                state,
                "trade_frequency",
                ts,
                f"{count} trades this {window} exceed the limit of {limit}",
                LockUntil.TIME,
                until,
                flatten=False,
            )
            return [breach] if breach else []
    return []


def mark_rules(state: AccountRisk, rules: RiskRules, ts: int) -> list[Breach]:
    found: list[Breach] = []
    loss, profit = rules.max_unrealized_loss, rules.max_unrealized_profit
    for symbol in sorted(state.positions):
        unrealized = state.unrealized(symbol)
        qty = state.qty(symbol)
        if loss.enabled and -unrealized >= loss.limit:
            message = f"{symbol} unrealized loss {-unrealized} reached {loss.limit}"
            breach = close_breach(state, "max_unrealized_loss", ts, symbol, -qty, message)
            if breach:
                found.append(breach)
        elif profit.enabled and unrealized >= profit.limit:
            message = f"{symbol} unrealized profit {unrealized} reached {profit.limit}"
            breach = close_breach(state, "max_unrealized_profit", ts, symbol, -qty, message)
            if breach:
                found.append(breach)
    trailing = rules.trailing_drawdown
    equity = state.equity()
    state.peak_equity = max(state.peak_equity, equity)
    if trailing.enabled and state.peak_equity - equity >= trailing.amount:
        breach = lock_breach(
            state,
            "trailing_drawdown",
            ts,
            f"equity {equity} is {state.peak_equity - equity} below its peak "
            f"{state.peak_equity} (limit {trailing.amount})",
            LockUntil.MANUAL,
            None,
            flatten=True,
        )
        if breach:
            found.append(breach)
    return found


def protection_rule(state: AccountRisk, rules: RiskRules, ts: int) -> list[Breach]:
    config = rules.no_stop_loss_grace
    for symbol in list(state.unprotected_since):
        if not state.qty(symbol) or state.is_protected(symbol):
            del state.unprotected_since[symbol]
    for symbol in state.positions:
        if symbol not in state.unprotected_since and not state.is_protected(symbol):
            state.unprotected_since[symbol] = ts
    if not config.enabled:
        return []
    found = []
    grace = int(config.grace_seconds * 1e9)
    for symbol, since in sorted(state.unprotected_since.items()):
        if ts - since >= grace:
            qty = state.qty(symbol)
            message = (
                f"{symbol} position {qty} has had no protective stop for "
                f"{(ts - since) / 1e9:.0f} s (grace {config.grace_seconds:g} s)"
            )
            breach = close_breach(state, "no_stop_loss_grace", ts, symbol, -qty, message)
            if breach:
                found.append(breach)
    return found
