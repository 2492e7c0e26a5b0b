"""Typed parameter ranges of a strategy, from ``--param`` texts, and the sets they span.

Syntax (one ``--param`` per parameter):

- ``fast=5:50:5``: a range ``start:stop:step``, stop included; numbers are stepped in exact
  decimal arithmetic (``0.1:0.5:0.1`` gives 0.1, 0.2, 0.3, 0.4, 0.5 with no float drift);
- ``slow=20,30,60`` or ``flag=true,false``: choices;
- ``n=3``: one fixed value.

Every value is checked against the field's type and bounds in the strategy's ``Params`` model
before any work starts (``InputError`` naming the parameter). A combination the model as a whole
rejects (``fast >= slow``) is dropped and counted, not an error. Values are kept in their JSON
form (a ``Decimal`` as exact text), so they round-trip through Parquet, JSON and pickles alike.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from algotrade.core.errors import InputError
from algotrade.core.strategy import Strategy

MAX_VALUES_PER_PARAMETER = 100_000
_NULL_TEXTS = ("none", "null")


@dataclass(frozen=True, slots=True)
class ParamRange:
    """One parameter's candidate values (JSON form) and the text they came from."""

    name: str
    text: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SpaceSample:
    """The parameter sets to evaluate and how many combinations the model rejected."""

    param_sets: list[dict[str, Any]]
    rejected: int
    first_rejection: str | None


@dataclass(frozen=True, slots=True)
class ParameterSpace:
    """The cartesian product of ``ranges`` for ``strategy``'s parameter model."""

    strategy: type[Strategy]
    ranges: tuple[ParamRange, ...]

    @property
    def size(self) -> int:
        """Number of combinations in the full grid (before the model's checks)."""
        return math.prod(len(r.values) for r in self.ranges)

    def to_json(self) -> list[list[str]]:
        """``[[name, text], ...]`` in the given order (the order of the grid)."""
        return [[r.name, r.text] for r in self.ranges]

    def combination(self, index: int) -> dict[str, Any]:
        """The ``index``-th combination of the grid, in ``grid()`` order (mixed radix)."""
        values: list[Any] = []
        for param in reversed(self.ranges):
            index, digit = divmod(index, len(param.values))
            values.append(param.values[digit])
        return dict(zip((r.name for r in self.ranges), reversed(values), strict=True))

    def grid(self) -> SpaceSample:
        """Every combination, the first parameter varying slowest."""
        names = [r.name for r in self.ranges]
        combos = (
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(r.values for r in self.ranges))
        )
        return self._valid(combos)

    def random(self, samples: int, seed: int) -> SpaceSample:
        """``samples`` distinct grid points drawn uniformly (all of them if the grid is
        smaller), in grid order; the same seed always draws the same points."""
        if samples < 1:
            raise InputError(f"--samples: must be at least 1, got {samples}")
        count = min(samples, self.size)
        # range() is sampled without being materialised: a 10^12-point grid is fine.
        picked = sorted(random.Random(seed).sample(range(self.size), count))
        return self._valid(self.combination(index) for index in picked)

    def _valid(self, combos: Iterator[dict[str, Any]]) -> SpaceSample:
        kept: list[dict[str, Any]] = []
        rejected = 0
        first: str | None = None
        for combo in combos:
            reason = combination_error(self.strategy, combo)
            if reason is None:
                kept.append(combo)
            else:
                rejected += 1
                first = first or reason
        return SpaceSample(kept, rejected, first)


def combination_error(strategy: type[Strategy], params: dict[str, Any]) -> str | None:
    """Why the strategy's model rejects ``params`` as a whole, or ``None``."""
    try:
        strategy.Params.model_validate(params)
    except ValidationError as exc:
        return "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
    return None


def parse_space(strategy: type[Strategy], texts: Sequence[str]) -> ParameterSpace:
    """Parse ``name=spec`` texts (see the module docstring) against ``strategy``'s model."""
    fields = strategy.Params.model_fields
    ranges: list[ParamRange] = []
    seen: set[str] = set()
    for text in texts:
        name, sep, spec = text.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise InputError(f"--param: expected name=values, got {text!r}")
        if name in seen:
            raise InputError(f"--param {name}: given twice")
        if name not in fields:
            label = strategy.name or strategy.__name__
            raise InputError(
                f"--param {name}: strategy {label} has no such parameter; "
                f"valid parameters: {', '.join(fields) or 'none'}"
            )
        seen.add(name)
        field = fields[name]
        annotation: Any = field.annotation
        if field.metadata:  # the field's bounds (ge=1, ...) travel with its type
            annotation = Annotated[annotation, *field.metadata]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        raw = _range_texts(name, spec) or [part.strip() for part in spec.split(",")]
        values = tuple(_check_value(name, adapter, item) for item in raw)
        ranges.append(ParamRange(name, spec, _unique(values)))
    return ParameterSpace(strategy, tuple(ranges))


def _range_texts(name: str, spec: str) -> list[str] | None:
    """The values of ``start:stop:step`` as decimal texts, or ``None`` if ``spec`` is not a
    numeric range."""
    parts = spec.split(":")
    if len(parts) == 1 or "," in spec:
        return None
    numbers = [parse_decimal(part) for part in parts]
    if any(number is None for number in numbers):
        return None  # e.g. a text value containing ':'
    if len(parts) != 3:
        raise InputError(f"--param {name}: a range is start:stop:step, got {spec!r}")
    start, stop, step = (number for number in numbers if number is not None)
    if step <= 0:
        raise InputError(f"--param {name}: step must be positive, got {parts[2]!r}")
    if stop < start:
        raise InputError(f"--param {name}: stop {parts[1]!r} is below start {parts[0]!r}")
    count = int((stop - start) // step) + 1
    if count > MAX_VALUES_PER_PARAMETER:
        raise InputError(
            f"--param {name}: {count:,} values; at most {MAX_VALUES_PER_PARAMETER:,} per parameter"
        )
    # Decimal arithmetic: start + k·step is exact, so 0.1:0.5:0.1 ends at 0.5, not 0.4999….
    return [_plain(start + step * k) for k in range(count)]


def parse_decimal(text: str) -> Decimal | None:
    """A finite decimal number, or None when ``text`` is not one."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _plain(number: Decimal) -> str:
    """Decimal text without an exponent (``5``, ``0.3``), which int fields accept when whole."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _check_value(name: str, adapter: TypeAdapter[Any], text: str) -> Any:
    if not text:
        raise InputError(f"--param {name}: empty value")
    value: Any = None if text.lower() in _NULL_TEXTS else text
    try:
        checked = adapter.validate_python(value)
    except ValidationError as exc:
        reason = "; ".join(error["msg"] for error in exc.errors())
        raise InputError(f"--param {name}: value {text!r} is not valid: {reason}") from None
    return adapter.dump_python(checked, mode="json")


def _unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop repeats (``1,1.0,1``), keeping the first occurrence's place."""
    seen: list[Any] = []
    for value in values:
        if not any(value == old and type(value) is type(old) for old in seen):
            seen.append(value)
    return tuple(seen)
