"""Paper venue settings."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class PaperVenueConfig(BaseModel):
    """Costs of the simulated venue. Rates are fractions of notional (0.001 = 0.1%)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    taker_fee_rate: Decimal = Field(default=Decimal("0"), ge=0, lt=1)
    maker_fee_rate: Decimal = Field(default=Decimal("0"), gt=-1, lt=1)
    slippage_bps: Decimal = Field(default=Decimal("0"), ge=0, lt=10_000)
