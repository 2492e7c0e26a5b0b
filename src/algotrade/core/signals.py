"""What a strategy asks for. The risk policy turns signals into order requests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.orders import OrderRequest


@dataclass(frozen=True, slots=True)
class TargetPosition:
    """Move the net position in ``symbol`` to ``qty`` (signed) with market orders."""

    symbol: str
    qty: Decimal
    tag: str = ""


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    """Place exactly this order (after pre-trade checks)."""

    request: OrderRequest


Signal = TargetPosition | SubmitOrder
