"""What a strategy is and which parameters it takes, read from its class and ``Params`` model.

``algotrade strategies list|show`` print this; ``--json`` gives it with the parameter model's
JSON schema (what a form in a UI is generated from). Nothing here is written by hand per
strategy: a new field on a ``Params`` model shows up with its type, default, bounds and
description.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic.errors import PydanticUserError
from pydantic.fields import FieldInfo

from algotrade.core.strategy import Strategy
from algotrade.strategies.registry import builtin_strategy_names, get_strategy_class

# annotated_types constraint attribute → how it reads in a bound.
_BOUND_SYMBOLS = (
    ("gt", ">"),
    ("ge", ">="),
    ("lt", "<"),
    ("le", "<="),
    ("min_length", "length >="),
    ("max_length", "length <="),
    ("multiple_of", "multiple of"),
)
_TYPE_NAMES: dict[object, str] = {
    Decimal: "decimal",
    int: "int",
    float: "float",
    bool: "bool",
    str: "str",
    type(None): "none",
}


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    name: str
    type: str
    required: bool
    default: Any  # JSON-ready (a Decimal as its exact text); None when required
    bounds: tuple[str, ...]
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "bounds": list(self.bounds),
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    name: str
    summary: str
    source: str  # "built-in" or the file it was loaded from
    parameters: tuple[ParameterInfo, ...]
    schema: dict[str, Any] | None  # None when a parameter's type has no JSON schema
    schema_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "summary": self.summary,
            "source": self.source,
            "parameters": [p.to_json() for p in self.parameters],
            "schema": self.schema,
        }
        if self.schema_error is not None:
            data["schema_error"] = self.schema_error
        return data


def builtin_summaries() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in strategy, sorted by name."""
    return [(name, summary(get_strategy_class(name))) for name in builtin_strategy_names()]


def describe(name_or_path: str) -> StrategyInfo:
    """A built-in strategy by name, or the one a ``.py`` file defines; ``ConfigError`` (one
    line) for an unknown name or a file that does not load."""
    cls = get_strategy_class(name_or_path)
    source = name_or_path if name_or_path.endswith(".py") else "built-in"
    fields = cls.Params.model_fields
    schema: dict[str, Any] | None = None
    schema_error = None
    try:
        schema = cls.Params.model_json_schema()
    except PydanticUserError as exc:  # e.g. a callable parameter in a user's file
        schema_error = " ".join(str(exc).split("For further information")[0].split())
    return StrategyInfo(
        name=cls.name or cls.__name__,
        summary=summary(cls),
        source=source,
        parameters=tuple(_parameter(name, field) for name, field in fields.items()),
        schema=schema,
        schema_error=schema_error,
    )


def summary(cls: type[Strategy]) -> str:
    """The first line of the class's docstring, else of its module's."""
    own = cls.__doc__ if cls.__doc__ is not Strategy.__doc__ else None
    module = sys.modules.get(cls.__module__)
    for doc in (own, module.__doc__ if module is not None else None):
        if doc and doc.strip():
            return inspect.cleandoc(doc).splitlines()[0].strip()
    return ""


def type_text(annotation: Any) -> str:
    """``int``, ``decimal``, ``"first_close" | decimal``, ``decimal | none``, ..."""
    if isinstance(annotation, list):  # the argument list of Callable[[int], int]
        return "[" + ", ".join(type_text(arg) for arg in annotation) + "]"
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(arg) for arg in get_args(annotation))
    if origin is Literal:
        return " | ".join(json.dumps(_jsonable(value)) for value in get_args(annotation))
    if origin is not None:  # list[int], dict[str, decimal], ...
        arguments = ", ".join(type_text(arg) for arg in get_args(annotation))
        return f"{getattr(origin, '__name__', origin)}[{arguments}]"
    known = next((name for kind, name in _TYPE_NAMES.items() if annotation is kind), None)
    return known or str(getattr(annotation, "__name__", annotation))


def _parameter(name: str, field: FieldInfo) -> ParameterInfo:
    required = field.is_required()
    default = None if required else field.get_default(call_default_factory=True)
    return ParameterInfo(
        name=name,
        type=type_text(field.annotation),
        required=required,
        default=_jsonable(default),
        bounds=tuple(_bounds(field)),
        description=field.description or "",
    )


def _bounds(field: FieldInfo) -> list[str]:
    bounds = []
    for constraint in field.metadata:
        for attribute, symbol in _BOUND_SYMBOLS:
            value = getattr(constraint, attribute, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    return bounds


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)
