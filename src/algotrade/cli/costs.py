"""The simulated costs of a backtest, sweep or optimization, as given on the command line."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from algotrade.cli.errors import parse_decimal
from algotrade.venues.paper.config import FEE_RATE_BELOW, SLIPPAGE_BPS_BELOW

MIN_CASH = Decimal("0.01")


class Costs(NamedTuple):
    cash: Decimal
    commission: Decimal
    slippage_bps: Decimal


def parse_costs(cash: str, commission: str, slippage_bps: str) -> Costs:
    """``--cash``, ``--commission`` and ``--slippage-bps`` within the paper venue's bounds;
    ``InputError`` naming the option otherwise (never a validation traceback later)."""
    return Costs(
        cash=parse_decimal("--cash", cash, minimum=MIN_CASH),
        commission=parse_decimal(
            "--commission", commission, minimum=Decimal(0), below=FEE_RATE_BELOW
        ),
        slippage_bps=parse_decimal(
            "--slippage-bps", slippage_bps, minimum=Decimal(0), below=SLIPPAGE_BPS_BELOW
        ),
    )
