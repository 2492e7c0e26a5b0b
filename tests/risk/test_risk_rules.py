"""One scenario per rule: breach → enforcement → lockout → expiry/reset → trading again."""

from __future__ import annotations

from decimal import Decimal

from risk_builders import (
    ACCOUNT,
    D,
    allowed,
    at,
    breaches,
    engine,
    fill,
    intent,
    mark,
    stop_order,
)

from algotrade.risk.decisions import LockUntil
from algotrade.risk.events import AccountStatus, ClockTick, PositionUpdate


def kinds(breach) -> list[tuple[str, str, Decimal]]:
    return [(a.kind.value, a.symbol, a.qty) for a in breach.actions]


def test_max_contracts_rejects_and_closes_the_excess() -> None:
    e = engine(max_contracts={"limit": 3, "mode": "gross"})
    t = at(16, 9)
    assert allowed(e, t, qty="3")
    assert not allowed(e, t, qty="4")
    e.on_event(fill(t, "buy", "2", "5000"))
    e.on_event(fill(t, "sell", "1", "18000", symbol="NQ"))
    (breach,) = breaches(e, fill(t + 1, "buy", "2", "5001"))  # gross 5 > 3
    assert breach.rule == "max_contracts"
    assert kinds(breach) == [("close_position", "ES", D(-2))]
    assert breach.lockout is None
    e.on_event(fill(t + 2, "sell", "2", "5001"))  # enforcement filled
    assert allowed(e, t + 3, side="sell", qty="1")  # back at 2 ES + 1 NQ: room for 0 more
    assert not allowed(e, t + 3, qty="1")


def test_max_contracts_net_mode_counts_opposite_positions_against_each_other() -> None:
    e = engine(max_contracts={"limit": 2, "mode": "net"})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "2", "5000"))
    assert breaches(e, fill(t, "sell", "2", "18000", symbol="NQ")) == []  # net 0
    assert allowed(e, t, qty="2")
    assert not allowed(e, t, qty="5")


def test_max_contracts_per_instrument() -> None:
    e = engine(max_contracts_per_instrument={"limits": {"ES": 2}, "default": 5})
    t = at(16, 9)
    assert not allowed(e, t, qty="3")
    assert allowed(e, t, qty="3", symbol="CL")  # default 5
    (breach,) = breaches(e, fill(t, "sell", "3", "5000"))
    assert breach.rule == "max_contracts_per_instrument"
    assert kinds(breach) == [("close_position", "ES", D(1))]
    e.on_event(fill(t + 1, "buy", "1", "5000"))  # enforcement filled: short 2
    assert not allowed(e, t + 2, side="sell", qty="0.5")  # would exceed again
    assert allowed(e, t + 2, side="buy", qty="1")


def test_daily_realized_loss_flattens_and_locks_until_reset() -> None:
    e = engine(daily_realized_loss={"limit": 500})
    t = at(16, 10)
    e.on_event(fill(t, "buy", "2", "5000"))
    e.on_event(fill(t + 1, "sell", "1", "4800", fee="2"))  # -202
    e.on_event(fill(t + 2, "buy", "1", "5000", symbol="NQ"))
    (breach,) = breaches(e, fill(t + 3, "sell", "1", "4700"))  # -300 more → -502
    assert breach.rule == "daily_realized_loss"
    assert kinds(breach) == [("cancel_orders", "", D(0)), ("close_position", "NQ", D(-1))]
    assert breach.lockout.until is LockUntil.RESET
    assert breach.lockout.until_ts == at(16, 17)
    verdict, _ = e.check_order(intent(t + 4))
    assert not verdict.allowed
    assert verdict.rule == "daily_realized_loss"
    assert allowed(e, t + 5, side="sell", reduce_only=True)  # closing is always allowed
    assert breaches(e, fill(t + 6, "sell", "1", "4000", symbol="NQ")) == []  # no re-lock
    (decision,) = e.on_event(ClockTick(ACCOUNT, at(16, 17)))
    assert decision.reset
    assert [lock.rule for lock in decision.expired] == ["daily_realized_loss"]
    assert e.states[ACCOUNT].daily_realized == 0
    assert allowed(e, at(16, 17, 1))


def test_daily_realized_profit_target() -> None:
    e = engine(daily_realized_profit={"target": 1000})
    t = at(17, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    (breach,) = breaches(e, fill(t + 1, "sell", "1", "6001"))
    assert breach.rule == "daily_realized_profit"
    assert breach.lockout.until is LockUntil.RESET
    assert not allowed(e, t + 2)
    assert allowed(e, at(17, 17))


def test_max_unrealized_loss_closes_that_position() -> None:
    e = engine(max_unrealized_loss={"limit": 300})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "2", "5000"))
    e.on_event(fill(t, "buy", "1", "100", symbol="CL"))
    assert breaches(e, mark(t + 1, "4900")) == []  # -200
    (breach,) = breaches(e, mark(t + 2, "4850"))  # -300
    assert breach.rule == "max_unrealized_loss"
    assert kinds(breach) == [("close_position", "ES", D(-2))]
    assert breach.lockout is None
    assert breaches(e, mark(t + 3, "4800")) == []  # already enforcing; not again
    e.on_event(fill(t + 4, "sell", "2", "4800"))
    assert allowed(e, t + 5)


def test_max_unrealized_profit_closes_that_position() -> None:
    e = engine(max_unrealized_profit={"limit": 1000})
    t = at(16, 9)
    e.on_event(fill(t, "sell", "1", "5000"))
    (breach,) = breaches(e, mark(t + 1, "3999"))
    assert breach.rule == "max_unrealized_profit"
    assert kinds(breach) == [("close_position", "ES", D(1))]


def test_trade_frequency_locks_for_a_cooldown() -> None:
    e = engine(trade_frequency={"per_minute": 3, "cooldown_minutes": 10})
    t = at(16, 9)
    for i in range(3):
        assert breaches(e, fill(t + i, "buy", "1", "5000")) == []
    assert not allowed(e, t + 3)  # a 4th trade this minute would exceed
    (breach,) = breaches(e, fill(t + 4, "buy", "1", "5000"))  # placed at the venue directly
    assert breach.rule == "trade_frequency"
    assert breach.lockout.until is LockUntil.TIME
    assert breach.lockout.until_ts == t + 4 + 10 * 60 * 10**9
    assert not allowed(e, t + 5 * 60 * 10**9)
    assert allowed(e, t + 4 + 10 * 60 * 10**9)


def test_cooldown_after_a_losing_trade() -> None:
    e = engine(cooldown_after_loss={"loss_threshold": 200, "cooldown_minutes": 5})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    assert breaches(e, fill(t + 1, "sell", "1", "4900")) == []  # -100: below threshold
    e.on_event(fill(t + 2, "buy", "1", "5000"))
    (breach,) = breaches(e, fill(t + 3, "sell", "1", "4750", realized_pnl=D(-250)))
    assert breach.rule == "cooldown_after_loss"
    assert not allowed(e, t + 4)
    (decision,) = e.on_event(ClockTick(ACCOUNT, t + 3 + 5 * 60 * 10**9))
    assert [lock.rule for lock in decision.expired] == ["cooldown_after_loss"]
    assert allowed(e, t + 3 + 5 * 60 * 10**9)


def test_no_stop_loss_grace_closes_an_unprotected_position() -> None:
    e = engine(no_stop_loss_grace={"grace_seconds": 30})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    assert e.on_event(ClockTick(ACCOUNT, t + 29 * 10**9))[0].breaches == []
    (breach,) = e.on_event(ClockTick(ACCOUNT, t + 30 * 10**9))[0].breaches
    assert breach.rule == "no_stop_loss_grace"
    assert kinds(breach) == [("close_position", "ES", D(-1))]
    # A protected position is left alone.
    e2 = engine(no_stop_loss_grace={"grace_seconds": 30})
    e2.on_event(fill(t, "buy", "1", "5000"))
    e2.on_event(stop_order(t + 1, "s1", "sell", "1", "4990"))
    assert e2.on_event(ClockTick(ACCOUNT, t + 60 * 10**9))[0].breaches == []
    e2.on_event(stop_order(t + 61 * 10**9, "s1", "sell", "1", "4990", status="cancelled"))
    assert (
        e2.on_event(ClockTick(ACCOUNT, t + 92 * 10**9))[0].breaches[0].rule == "no_stop_loss_grace"
    )


def test_session_hours_block_outside_and_flatten_at_session_end() -> None:
    e = engine(session_hours={"windows": {"mon": ["08:30-15:00"]}, "holidays": ["2026-11-23"]})
    assert not allowed(e, at(16, 8, 29))
    assert allowed(e, at(16, 8, 30))
    e.on_event(fill(at(16, 10), "buy", "2", "5000"))
    (breach,) = e.on_event(ClockTick(ACCOUNT, at(16, 15)))[0].breaches
    assert breach.rule == "session_hours"
    assert kinds(breach) == [("cancel_orders", "", D(0)), ("close_position", "ES", D(-2))]
    assert not allowed(e, at(16, 15, 1))
    assert not allowed(e, at(23, 9))  # a Monday holiday
    assert allowed(e, at(30, 9))  # the next Monday


def test_symbol_blocklist_rejects_and_closes() -> None:
    e = engine(symbol_blocklist={"symbols": ["CL"]})
    t = at(16, 9)
    assert not allowed(e, t, symbol="CL")
    assert allowed(e, t, symbol="ES")
    (breach,) = breaches(e, PositionUpdate(ACCOUNT, t, "CL", D(3), D(70)))
    assert breach.rule == "symbol_blocklist"
    assert kinds(breach) == [("close_position", "CL", D(-3))]


def test_trailing_drawdown_flattens_and_locks_until_admin_unlocks() -> None:
    e = engine(balance="50000", trailing_drawdown={"amount": 1000})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    e.on_event(mark(t + 1, "5800"))  # peak 50800
    (breach,) = breaches(e, mark(t + 2, "4800"))  # equity 49800: 1000 below peak
    assert breach.rule == "trailing_drawdown"
    assert breach.lockout.until is LockUntil.MANUAL
    assert kinds(breach)[-1] == ("close_position", "ES", D(-1))
    e.on_event(ClockTick(ACCOUNT, at(17, 17, 1)))  # a daily reset does not clear it
    assert not allowed(e, at(17, 17, 2))
    assert [lock.rule for lock in e.unlock(ACCOUNT)] == ["trailing_drawdown"]
    assert allowed(e, at(17, 17, 3))


def test_account_status_guard_alerts_and_blocks() -> None:
    e = engine(account_status_guard={"enabled": True})
    t = at(16, 9)
    (breach,) = breaches(e, AccountStatus(ACCOUNT, t, can_trade=False, reason="margin call"))
    assert breach.rule == "account_status_guard"
    assert kinds(breach) == [("alert", "", D(0))]
    verdict, _ = e.check_order(intent(t + 1))
    assert verdict.rule == "account_status_guard"
    assert "margin call" in verdict.reason
    e.on_event(AccountStatus(ACCOUNT, t + 2, can_trade=True))
    assert allowed(e, t + 3)


def test_orders_reaching_the_venue_while_locked_are_cancelled() -> None:
    e = engine(daily_realized_loss={"limit": 100})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    e.on_event(fill(t + 1, "sell", "1", "4800"))  # locked
    from algotrade.risk.events import OrderUpdate

    manual = OrderUpdate(ACCOUNT, t + 2, "m1", "ES", "buy", "limit", D(1), "open", price=D(4700))
    (breach,) = breaches(e, manual)
    assert breach.rule == "daily_realized_loss"
    assert kinds(breach) == [("cancel_orders", "ES", D(0))]


def test_reset_missed_while_down_is_applied_at_the_next_event() -> None:
    e = engine(daily_realized_loss={"limit": 100})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    e.on_event(fill(t + 1, "sell", "1", "4800"))
    assert not allowed(e, t + 2)
    # Nothing happens for two days (daemon down); the first check after applies one reset.
    verdict, decision = e.check_order(intent(at(18, 9)))
    assert decision.reset
    assert verdict.allowed
    assert e.states[ACCOUNT].last_reset_ts == at(17, 17)
    assert e.states[ACCOUNT].trading_day == "2026-11-18"
    _, again = e.check_order(intent(at(18, 9, 1)))
    assert not again.reset  # idempotent


def test_admin_unlock_of_a_daily_limit_holds_until_the_reset() -> None:
    e = engine(daily_realized_loss={"limit": 100})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    e.on_event(fill(t + 1, "sell", "1", "4800"))
    assert [lock.rule for lock in e.unlock(ACCOUNT)] == ["daily_realized_loss"]
    e.on_event(fill(t + 2, "buy", "1", "5000"))
    assert breaches(e, fill(t + 3, "sell", "1", "4900")) == []  # still over, not re-locked
    assert allowed(e, t + 4)
    e.on_event(ClockTick(ACCOUNT, at(16, 17)))  # after the reset the limit applies again
    e.on_event(fill(at(16, 18), "buy", "1", "5000"))
    (breach,) = breaches(e, fill(at(16, 18, 1), "sell", "1", "4800"))
    assert breach.rule == "daily_realized_loss"


def test_contract_multiplier_scales_unrealized_and_realized_pnl() -> None:
    from algotrade.risk.engine import RiskEngine
    from algotrade.risk.rules_config import AccountConfig, DailyReset, RiskRules

    e = RiskEngine(
        {ACCOUNT: AccountConfig(id=ACCOUNT, starting_balance=D(50000), multipliers={"ES": D(50)})},
        {
            ACCOUNT: RiskRules.model_validate(
                {"max_unrealized_loss": {"enabled": True, "limit": 500}}
            )
        },
        {ACCOUNT: DailyReset()},
    )
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    assert breaches(e, mark(t + 1, "4991")) == []  # 9 points × 50 = 450
    (breach,) = breaches(e, mark(t + 2, "4990"))  # 10 points × 50 = 500
    assert breach.rule == "max_unrealized_loss"
    e.on_event(fill(t + 3, "sell", "1", "4990"))
    assert e.states[ACCOUNT].daily_realized == D(-500)


def test_a_fill_refreshes_the_mark_and_closes_its_order() -> None:
    from algotrade.risk.events import OrderUpdate

    e = engine()
    t = at(16, 9)
    e.on_event(mark(t, "5000"))
    e.on_event(
        OrderUpdate(ACCOUNT, t, "s1", "ES", "sell", "stop", D(1), "open", stop_price=D(4990))
    )
    e.on_event(fill(t + 1, "buy", "1", "5010"))
    assert e.states[ACCOUNT].marks["ES"] == D(5010)
    e.on_event(fill(t + 2, "sell", "1", "4990", order_id="s1"))  # the stop filled
    assert "s1" not in e.states[ACCOUNT].open_orders
    e.on_event(fill(t + 3, "buy", "1", "5000"))
    assert not e.states[ACCOUNT].is_protected("ES")  # the filled stop protects nothing


def test_lock_only_rules_keep_protective_orders_and_flatten_cancels_all() -> None:
    e = engine(
        cooldown_after_loss={"loss_threshold": 10, "cooldown_minutes": 5},
        daily_realized_loss={"limit": 1000},
    )
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    (breach,) = breaches(e, fill(t + 1, "sell", "1", "4980"))
    assert breach.rule == "cooldown_after_loss"
    assert all(a.keep_protective for a in breach.actions)
    e2 = engine(daily_realized_loss={"limit": 10})
    e2.on_event(fill(t, "buy", "2", "5000"))
    (flatten,) = breaches(e2, fill(t + 1, "sell", "1", "4980"))
    assert not flatten.actions[0].keep_protective


def test_unlocking_trailing_drawdown_restarts_the_trail() -> None:
    e = engine(balance="50000", trailing_drawdown={"amount": 1000})
    t = at(16, 9)
    e.on_event(fill(t, "buy", "1", "5000"))
    e.on_event(mark(t + 1, "5800"))
    assert breaches(e, mark(t + 2, "4800"))[0].rule == "trailing_drawdown"
    e.unlock(ACCOUNT)
    assert breaches(e, mark(t + 3, "4790")) == []  # measured from the new peak
    assert e.states[ACCOUNT].peak_equity == D(49800)
