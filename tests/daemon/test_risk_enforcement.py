"""Enforcement through bots: partial closes stop at their target; protective orders survive."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from algotrade.daemon.risk_service import RiskService
from algotrade.risk.decisions import Action, ActionKind

D = Decimal


def service_with_position(qty: str) -> RiskService:
    service = object.__new__(RiskService)
    state = SimpleNamespace(qty=lambda symbol: D(qty))
    service.engine = SimpleNamespace(states={"acct": state})  # type: ignore[assignment]
    return service


def test_partial_close_is_done_once_the_target_is_reached() -> None:
    trim = Action(ActionKind.CLOSE_POSITION, "ES", D(-2))  # 5 held, limit 3
    assert service_with_position("5")._still_to_close("acct", trim, D(3)) == D(-2)
    assert service_with_position("4")._still_to_close("acct", trim, D(3)) == D(-1)
    assert service_with_position("3")._still_to_close("acct", trim, D(3)) == 0
    assert service_with_position("0")._still_to_close("acct", trim, D(3)) == 0
    cover = Action(ActionKind.CLOSE_POSITION, "ES", D(2))  # short 5, limit 3
    assert service_with_position("-5")._still_to_close("acct", cover, D(-3)) == D(2)
    assert service_with_position("-3")._still_to_close("acct", cover, D(-3)) == 0
