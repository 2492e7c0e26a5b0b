"""The base of every feed's ``feed_options`` model: strict, and one clear error line."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from algotrade.core.strategy import describe_validation_error


class FeedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def parse(cls, options: dict[str, Any]) -> Self:
        """Validate a bot's ``feed_options``; ``ValueError`` names the option."""
        try:
            return cls.model_validate(options)
        except ValidationError as exc:
            raise ValueError(describe_validation_error("feed_options", exc)) from None
