"""Field types that accept exactly what their JSON schema publishes (JSON and TOML/YAML alike)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from algotrade.core.field_types import (
    DECIMAL_TEXT,
    ISO_DATETIME_TEXT,
    DecimalValue,
    IsoDateTime,
    Number,
    StrictBool,
    StrictInt,
)


class Model(BaseModel):
    count: StrictInt = 0
    flag: StrictBool = False
    ratio: Number = Field(default=1.0, ge=0)
    amount: DecimalValue = Field(default=Decimal(1), gt=0)
    delta: DecimalValue | None = None
    at: IsoDateTime | None = None


def rejects(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Model.model_validate(values)
    [error] = caught.value.errors()
    return str(error["msg"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", True),
        ("count", "5"),
        ("count", 5.0),
        ("flag", 1),
        ("flag", "yes"),
        ("flag", "true"),
        ("ratio", True),
        ("ratio", "1.5"),
        ("amount", True),
        ("amount", "1_000"),
        ("amount", " 1"),
        ("amount", "١٢"),  # digits of another script
        ("amount", "NaN"),
        ("amount", ""),
        ("at", 0),
        ("at", 1.5),
        ("at", "1700000000"),
        ("at", "2024-01-01T00:00:00+0100"),
    ],
)
def test_what_lax_pydantic_would_coerce_is_refused(field: str, value: Any) -> None:
    assert "\n" not in rejects(**{field: value})


def test_what_the_schema_says_is_accepted_from_json_and_config_files() -> None:
    model = Model.model_validate(
        {"count": 5, "flag": True, "ratio": 2, "amount": "12.5", "delta": -0.25, "at": "2024-01-31"}
    )
    assert (model.count, model.flag, model.ratio) == (5, True, 2.0)
    assert (model.amount, model.delta) == (Decimal("12.5"), Decimal("-0.25"))
    assert model.at == datetime(2024, 1, 31)
    # Python values a TOML or YAML file gives, and a Decimal in its exponent form.
    model = Model.model_validate(
        {"ratio": Decimal("0.5"), "amount": Decimal("1E-8"), "at": datetime(2024, 1, 1, tzinfo=UTC)}
    )
    assert (model.ratio, model.amount) == (0.5, Decimal("1E-8"))
    from_date = Model.model_validate({"amount": "1E-8", "at": date(2024, 1, 1)})
    assert (from_date.amount, from_date.at) == (Decimal("1E-8"), datetime(2024, 1, 1))
    assert Model.model_validate({"at": "2024-01-31T09:30:00.5Z"}).at == datetime(
        2024, 1, 31, 9, 30, 0, 500_000, tzinfo=UTC
    )


def test_the_published_schema_says_which_text_is_accepted() -> None:
    properties = Model.model_json_schema()["properties"]
    [number, text] = properties["amount"]["anyOf"]
    assert number == {"type": "number", "exclusiveMinimum": 0}
    # Bounded below by zero (> 0): its text has no minus sign and is not zero either.
    assert text["type"] == "string"
    for written in ("12.5", "+0.001", "1E-8", ".5"):
        assert re.fullmatch(text["pattern"], written), written
    for written in ("-1", "0", "0.000", "0e5", "-0"):
        assert not re.fullmatch(text["pattern"], written), written
    assert {"type": "string", "pattern": DECIMAL_TEXT} in properties["delta"]["anyOf"]
    at = next(option for option in properties["at"]["anyOf"] if option["type"] == "string")
    # No "format: date-time": RFC 3339 wants an offset, and text without one means UTC here.
    assert at == {"type": "string", "pattern": ISO_DATETIME_TEXT}
    assert properties["count"]["type"] == "integer"
    assert properties["flag"]["type"] == "boolean"
    assert properties["ratio"] == {"type": "number", "minimum": 0, "default": 1.0, "title": "Ratio"}


@pytest.mark.parametrize("text", ["12.5", "-3", "+3", ".5", "5.", "1E-8", "1e+5", "0"])
def test_decimal_text_pattern_and_validation_agree(text: str) -> None:
    assert re.fullmatch(DECIMAL_TEXT, text)
    assert Model.model_validate({"delta": text}).delta == Decimal(text)
