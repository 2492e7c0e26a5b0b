"""Paper venue settings."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

FEE_RATE_BELOW = Decimal(1)  # a fee of 100% of notional or more is a typo, not a cost
SLIPPAGE_BPS_BELOW = Decimal(10_000)  # 10,000 bps would move a price to zero


class PaperVenueConfig(BaseModel):
    """Costs of the simulated venue. Rates are fractions of notional (0.001 = 0.1%)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    taker_fee_rate: Decimal = Field(default=Decimal("0"), ge=0, lt=FEE_RATE_BELOW)
    maker_fee_rate: Decimal = Field(default=Decimal("0"), gt=-FEE_RATE_BELOW, lt=FEE_RATE_BELOW)
    slippage_bps: Decimal = Field(default=Decimal("0"), ge=0, lt=SLIPPAGE_BPS_BELOW)
