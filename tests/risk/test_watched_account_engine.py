"""The risk engine for a watched account (accounts.yaml ``watch``): positions are the venue's,
each venue trade counts once (across restarts and the daily reset), a position that grows while
the account is locked is closed back, multipliers come from the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from risk_builders import ACCOUNT, at

from algotrade.core.errors import ConfigError
from algotrade.risk.config_loader import load_risk_config
from algotrade.risk.decisions import ActionKind, Lockout, LockUntil
from algotrade.risk.engine import RiskEngine
from algotrade.risk.events import AccountFill, MarkUpdate, OrderUpdate, PositionUpdate
from algotrade.risk.rules_config import AccountConfig, DailyReset, RiskRules
from algotrade.risk.state import AccountRisk

D = Decimal


def watched(**rules: dict[str, Any]) -> RiskEngine:
    enabled = {name: {"enabled": True, **params} for name, params in rules.items()}
    config = AccountConfig.model_validate(
        {"id": ACCOUNT, "venue": "projectx", "watch": {"account": "50KTC-V2-1"}}
    )
    return RiskEngine(
        {ACCOUNT: config},
        {ACCOUNT: RiskRules.model_validate(enabled)},
        {ACCOUNT: DailyReset()},
    )


def fill(ts: int, side: str, price: str, pnl: str | None = None, fee: str = "1.40") -> AccountFill:
    realized = None if pnl is None else D(pnl)
    return AccountFill(ACCOUNT, ts, "EPZ25", side, D(1), D(price), D(fee), realized)


def position(ts: int, qty: str, avg: str = "6000") -> PositionUpdate:
    return PositionUpdate(ACCOUNT, ts, "EPZ25", D(qty), D(avg) if D(qty) else D(0))


def test_fills_count_pnl_but_positions_come_from_the_venue() -> None:
    engine = watched()
    state = engine.states[ACCOUNT]
    engine.on_event(fill(at(17, 9), "buy", "6000"))  # the position event has not come yet
    assert state.qty("EPZ25") == 0
    engine.on_event(position(at(17, 9), "1"))
    engine.on_event(position(at(17, 10), "0"))  # the venue reports flat first ...
    engine.on_event(fill(at(17, 10), "sell", "5990", "-500"))  # ... then the closing trade
    assert state.qty("EPZ25") == 0  # never a phantom short
    assert state.daily_realized == D("-502.80")
    assert state.trades_today == 2


def test_each_venue_trade_is_counted_once_across_a_restart_and_one_reset() -> None:
    engine = watched()
    first = fill(at(17, 9), "sell", "5990", "-500")
    assert engine.on_fill_once(first, "9001")
    assert engine.on_fill_once(first, "9001") == []  # reported again: ignored
    saved = engine.states[ACCOUNT].to_dict()
    restarted = watched()
    restarted.restore(ACCOUNT, saved, [])
    assert restarted.on_fill_once(fill(at(17, 11), "sell", "5990", "-500"), "9001") == []
    assert restarted.states[ACCOUNT].daily_realized == D("-501.40")
    restarted.on_fill_once(fill(at(17, 12), "buy", "5980"), "9002")
    restarted.tick(at(17, 17, 1))  # the daily reset: yesterday's ids are kept one more day
    assert restarted.on_fill_once(fill(at(17, 17, 2), "buy", "5980"), "9002") == []
    assert restarted.states[ACCOUNT].trades_today == 0
    restarted.tick(at(18, 17, 1))  # a second reset forgets them
    assert not restarted.states[ACCOUNT].seen_trade("9001")


def test_a_position_that_grows_while_locked_is_closed_back() -> None:
    engine = watched()
    ts = at(17, 10)
    engine.lock(Lockout(ACCOUNT, "daily_realized_loss", "lost", ts, LockUntil.RESET, at(17, 17)))
    engine.on_event(position(ts, "1"))
    [decision] = engine.on_event(position(ts + 1, "3"))  # a market order filled while locked
    [breach] = decision.breaches
    assert breach.rule == "daily_realized_loss"
    assert [(a.kind, a.symbol, a.qty) for a in breach.actions] == [
        (ActionKind.CLOSE_POSITION, "EPZ25", D(-2))
    ]
    [decision] = engine.on_event(position(ts + 2, "-2"))  # reversed: close all of it
    assert [a.qty for b in decision.breaches for a in b.actions] == [D(2)]
    [decision] = engine.on_event(position(ts + 3, "-1"))  # smaller: nothing to do
    assert decision.breaches == []


def test_an_order_placed_while_locked_is_cancelled_unless_it_only_reduces() -> None:
    engine = watched()
    ts = at(17, 10)
    engine.lock(Lockout(ACCOUNT, "cooldown_after_loss", "cool", ts, LockUntil.TIME, at(17, 11)))
    entry = OrderUpdate(ACCOUNT, ts, "5001", "EPZ25", "buy", "limit", D(1), "open", D(5990))
    [decision] = engine.on_event(entry)
    [action] = decision.breaches[0].actions
    assert (action.kind, action.order_id) == (ActionKind.CANCEL_ORDERS, "5001")
    stop = OrderUpdate(
        ACCOUNT, ts, "5002", "EPZ25", "sell", "stop", D(1), "open", None, D(5950), True
    )
    [decision] = engine.on_event(stop)
    assert decision.breaches == []


def test_venue_multipliers_value_positions_and_survive_a_restart() -> None:
    engine = watched(max_unrealized_loss={"limit": 400})
    engine.on_event(position(at(17, 9), "1", "6000"))
    engine.set_multipliers(ACCOUNT, {"EPZ25": D(50)})
    [decision] = engine.on_event(MarkUpdate(ACCOUNT, at(17, 9, 2), "EPZ25", D(5990)))
    assert [b.rule for b in decision.breaches] == ["max_unrealized_loss"]  # -10 × 50 = -500
    saved = engine.states[ACCOUNT].to_dict()
    restored = AccountRisk.from_dict(ACCOUNT, saved, [], {"EPZ25": D(5)})  # a hand-typed one
    assert restored.positions["EPZ25"].multiplier == D(50)  # the venue's wins


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{id: a, watch: {account: X}}",
            "accounts.yaml: account 'a': field 'watch': a watched account needs its live venue",
        ),
        (
            "{id: a, venue: projectx, watch: {acount: X}}",
            "accounts.yaml: account 'a': unknown field 'watch.acount'",
        ),
        (
            "{id: a, venue: projectx, watch: X}",
            "accounts.yaml: account 'a': field 'watch': Input should be a valid dictionary",
        ),
        (
            "{id: a, venue: projectx, watch: {account: ''}}",
            "accounts.yaml: account 'a': field 'watch.account': String should have at least 1",
        ),
    ],
)
def test_watch_config_errors_are_one_line(tmp_path: Path, entry: str, expected: str) -> None:
    (tmp_path / "accounts.yaml").write_text(f"accounts:\n  - {entry}\n")
    (tmp_path / "risk.yaml").write_text("")
    with pytest.raises(ConfigError) as info:
        load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    assert str(info.value).startswith(expected), str(info.value)
    assert "\n" not in str(info.value)


def test_a_numeric_venue_account_id_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "accounts.yaml").write_text(
        "accounts:\n  - {id: a, venue: projectx, watch: {account: 1002}}\n"
    )
    (tmp_path / "risk.yaml").write_text("")
    config = load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")
    watch = config.accounts["a"].watch
    assert watch is not None
    assert watch.account == "1002"
