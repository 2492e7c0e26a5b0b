"""Field types that accept exactly what their published JSON schema says.

Pydantic's lax mode reads ``true`` as the integer 1, ``"yes"`` and ``1`` as true, ``"5"`` as 5,
a number as a date and time, ``"1_000"`` as a decimal. A request that breaks the API's
published schema must be refused (422), and a slip in a TOML or YAML file likewise, so every
field of a model that is built from JSON or a config file takes one of these types instead of
a bare ``int``, ``bool``, ``float``, ``Decimal`` or ``datetime``:

- ``StrictInt``: an integer (not ``true``, not ``3.0``, not ``"3"``);
- ``StrictBool``: ``true`` or ``false`` (not ``1``, not ``"yes"``);
- ``Number``: an integer or a float (not a bool, not text);
- ``DecimalValue``: exact money, a JSON number or its text (``12.5`` or ``"12.5"``; strings are
  how exact amounts travel), published as such with the pattern the text must match;
- ``IsoDateTime``: ISO 8601 text (a date, or a date and time; no offset means UTC) or a
  ``datetime``; not a number.

Strictness is per field type, not per model: the same models are built in Python mode from
TOML and YAML values, where an enum or a Decimal must still come from its text.
``tests/api/test_request_field_types.py`` checks that every request model of the API uses them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler, StrictBool, StrictInt
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

__all__ = [
    "DECIMAL_TEXT",
    "ISO_DATETIME_TEXT",
    "DecimalValue",
    "IsoDateTime",
    "Number",
    "StrictBool",
    "StrictInt",
    "decimal_input",
    "iso_datetime_input",
    "real_number",
]

# ASCII digits only ("\d" in a Python pattern also matches other scripts' digits).
DECIMAL_TEXT = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
# What a field bounded below by zero publishes for its text: no minus sign, and, when zero
# itself is out (> 0), a digit other than 0 before any exponent.
_UNSIGNED_DECIMAL_TEXT = r"^\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_POSITIVE_DECIMAL_TEXT = (
    r"^\+?(?=[0-9.]*[1-9])(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
)
# A date, or a date and time; without an offset it means UTC.
ISO_DATETIME_TEXT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?$"
)
_DECIMAL = re.compile(DECIMAL_TEXT)
_ISO_DATETIME = re.compile(ISO_DATETIME_TEXT)


def real_number(value: object) -> object:
    """An int or a float (a YAML decimal arrives as ``Decimal``), never a bool or text:
    pydantic's lax float would take ``true`` (1.0) and ``"15"`` or ``".inf"``."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return float(value)


def decimal_input(value: object) -> object:
    """Text must be plain decimal notation (``DECIMAL_TEXT``): pydantic would also read
    ``" 1"``, ``"1_000"`` and digits of other scripts. Numbers pass to pydantic's Decimal."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise PydanticCustomError(
            "decimal_parsing",
            'Input should be a valid decimal number, e.g. 12.5 or "12.5"',
        )
    return value


def iso_datetime_input(value: object) -> object:
    """A ``datetime``/``date`` or ISO 8601 text (``ISO_DATETIME_TEXT``; a date alone means its
    midnight): pydantic's lax datetime would also read a number, or digits in text, as
    seconds since 1970."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATETIME.fullmatch(value)):
        return value
    raise PydanticCustomError(
        "datetime_type",
        "Input should be an ISO 8601 date or date and time, e.g. 2024-01-31 or "
        "2024-01-31T09:30:00Z",
    )


def _text_pattern(number: dict[str, Any]) -> str:
    """The pattern of the text of a decimal whose number branch is ``number`` (its bounds)."""
    minimum, exclusive = number.get("minimum"), number.get("exclusiveMinimum")
    if (exclusive is not None and exclusive >= 0) or (minimum is not None and minimum > 0):
        return _POSITIVE_DECIMAL_TEXT
    if minimum is not None and minimum >= 0:
        return _UNSIGNED_DECIMAL_TEXT
    return DECIMAL_TEXT


class _PublishDecimalText:
    """The string branch of a Decimal's schema gets the pattern its text must match (without
    a sign, or zero, when the number branch's lower bound rules them out)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        options = out.get("anyOf", [])
        number: dict[str, Any] = next((o for o in options if o.get("type") == "number"), {})
        pattern = _text_pattern(number)
        for option in options:
            if option.get("type") == "string":
                option["pattern"] = pattern
        return out


class _PublishIsoText:
    """A pattern instead of ``format: date-time``: RFC 3339 requires an offset, and this
    field also takes text without one (meaning UTC)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: dict[str, Any] = handler(schema)
        out.pop("format", None)
        out["pattern"] = ISO_DATETIME_TEXT
        return out


Number = Annotated[float, BeforeValidator(real_number)]
DecimalValue = Annotated[Decimal, BeforeValidator(decimal_input), _PublishDecimalText()]
IsoDateTime = Annotated[datetime, BeforeValidator(iso_datetime_input), _PublishIsoText()]
