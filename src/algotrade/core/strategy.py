"""Strategy base class and typed parameters.

A strategy declares its parameters as a pydantic model (types, defaults, bounds) and reacts
to events through synchronous callbacks. It acts only through ``self.ctx``; it never reads the
wall clock or does I/O, so a backtest and a live bot run the very same object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from algotrade.core.errors import ConfigError
from algotrade.core.events import Bar, OrderEvent, OrderFilled, QuoteTick, TradeTick
from algotrade.core.ports import StrategyContext


class StrategyParams(BaseModel):
    """Base for strategy parameters: unknown names are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def describe_validation_error(owner: str, exc: ValidationError) -> str:
    """One line naming the field and what was expected, from a pydantic error."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        if not field:  # a cross-field check: its own message names the fields
            parts.append(err["msg"].removeprefix("Value error, "))
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown parameter '{field}'")
        else:
            got = err.get("input")
            parts.append(f"parameter '{field}': {err['msg'].lower()} (got {got!r})")
    return f"{owner}: " + "; ".join(parts)


class Strategy:
    """Subclass, set ``name`` and ``Params``, and override the ``on_*`` callbacks you need."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: Mapping[str, Any] | StrategyParams | None = None) -> None:
        self.params = self.parse_params(params)
        self._ctx: StrategyContext | None = None

    @classmethod
    def parse_params(cls, params: Mapping[str, Any] | StrategyParams | None) -> Any:
        if isinstance(params, cls.Params):
            return params
        if isinstance(params, Mapping):
            check_parameter_names(cls, params)
        try:
            return cls.Params.model_validate(dict(params or {}))
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(f"strategy {cls.name or cls.__name__}", exc)
            ) from exc

    @classmethod
    def parse_json_params(cls, params: Mapping[str, Any]) -> Any:
        """``params`` that came as JSON values (the API, a config file), validated as the JSON
        schema of ``Params`` reads (what ``algotrade strategies show --json`` and
        ``GET /api/strategies`` publish): an integer parameter refuses ``true``, ``3.0`` and
        ``"3"``, a flag refuses ``1`` and ``"yes"``; a decimal takes a number or its text.
        ``parse_params`` stays lenient for ``--param k=v`` text. ``pydantic.ValidationError``
        when a name or a value does not fit (callers name the field their way)."""
        # A Decimal (only from Python callers) travels as its exact text.
        text = json.dumps(dict(params), default=str, allow_nan=True)
        return cls.Params.model_validate_json(text, strict=True)

    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy {self.name} is not attached to an engine")
        return self._ctx

    def attach(self, ctx: StrategyContext) -> None:
        self._ctx = ctx

    # Callbacks: all optional, all synchronous, none may do I/O.
    def on_start(self) -> None:
        """Called once before the first event."""

    def on_bar(self, bar: Bar) -> None:
        """Called for each closed bar."""

    def on_trade(self, tick: TradeTick) -> None:
        """Called for each public trade."""

    def on_quote(self, quote: QuoteTick) -> None:
        """Called for each top-of-book change."""

    def on_fill(self, fill: OrderFilled) -> None:
        """Called after a fill of one of our orders is booked in the portfolio."""

    def on_order(self, event: OrderEvent) -> None:
        """Called on every other order event (accepted, rejected, cancelled, amended,
        amendment rejected)."""

    def on_stop(self) -> None:
        """Called once after the last event."""


def check_parameter_names(cls: type[Strategy], params: Mapping[str, Any]) -> None:
    """``ConfigError`` naming every key of ``params`` that ``cls`` has no parameter for, and
    listing the parameters it does have (a typo should not need a look at the source)."""
    fields = cls.Params.model_fields
    unknown = [str(key) for key in params if key not in fields]
    if not unknown:
        return
    label = cls.name or cls.__name__
    names = ", ".join(f"'{key}'" for key in unknown)
    noun = "parameter" if len(unknown) == 1 else "parameters"
    valid = f"valid parameters: {', '.join(fields)}" if fields else "it takes no parameters"
    raise ConfigError(f"strategy {label}: unknown {noun} {names}; {valid}")
