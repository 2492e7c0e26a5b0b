"""Every request body accepts exactly the JSON types its published schema says.

Lax pydantic read ``true`` as the integer 1, ``"yes"`` and ``1`` as true, ``"5"`` as 5 and a
number as a date: schemathesis' negative_data_rejection check (a request that breaks the schema
must get a 4xx) failed on them. The rule lives in ``core.field_types``; this test walks the
validators of every request body of the app, so a new lax field fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from algotrade.core.field_types import decimal_input, iso_datetime_input, real_number
from testkit.api_harness import ADMIN, TestClient

# Core schema type → the validator that must guard it (None: pydantic's strict mode).
_GUARDS: dict[str, Any] = {
    "int": None,
    "bool": None,
    "float": real_number,
    "decimal": decimal_input,
    "datetime": iso_datetime_input,
}


def _lax_fields(node: Any, where: str, guard: Any = None) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _lax_fields(item, where, guard)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in _GUARDS:
        required = _GUARDS[kind]
        if (required is None and not node.get("strict")) or (
            required is not None and guard is not required
        ):
            yield f"{where}: {kind}"
        return
    if kind == "function-before":
        guard = node["function"]["function"]
    elif kind not in ("default", "nullable", "function-after"):
        guard = None  # a guard applies to the value it wraps, not to what is inside
    for key, child in node.items():
        if key in ("metadata", "serialization", "function"):
            continue
        name = f"{where}.{key}" if kind in ("model-fields", "typed-dict") and key else where
        if kind == "model-fields" and key == "fields":
            for field, schema in child.items():
                yield from _lax_fields(schema, f"{where}.{field}", guard)
            continue
        yield from _lax_fields(child, name, guard)


def _request_models(app: FastAPI) -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for context in iter_route_contexts(app.routes):  # through the included routers
        route = context.original_route
        if isinstance(route, APIRoute) and route.body_field is not None:
            model = route.body_field.field_info.annotation
            assert isinstance(model, type), context.path
            assert issubclass(model, BaseModel), context.path
            models[f"{sorted(route.methods)[0]} {context.path}"] = model
    return models


def test_every_request_body_field_takes_only_its_json_type(app: FastAPI) -> None:
    models = _request_models(app)
    assert {"POST /api/bots", "PATCH /api/bots/{bot_id}/config", "POST /api/backtests"} <= set(
        models
    )
    lax = [
        problem
        for label, model in models.items()
        for problem in _lax_fields(model.__pydantic_core_schema__, label)
    ]
    assert lax == [], "use core.field_types for these fields"


def test_the_walk_finds_a_lax_field() -> None:
    class Lax(BaseModel):
        count: int
        nested: dict[str, list[float]]

    assert list(_lax_fields(Lax.__pydantic_core_schema__, "Lax")) == [
        "Lax.count: int",
        "Lax.nested: float",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warmup_periods": True}, "warmup_periods"),
        ({"warmup_periods": "5"}, "warmup_periods"),
        ({"auto_resume": "yes"}, "auto_resume"),
        ({"auto_resume": 1}, "auto_resume"),
        ({"leverage": "2x"}, "leverage"),
    ],
)
def test_a_patch_of_another_json_type_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.patch("/api/bots/alpha/config", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"body.{field}: ")
    assert "\n" not in message


def test_a_create_of_another_json_type_is_422_naming_the_field(client: TestClient) -> None:
    body = {"bot_id": "beta", "symbol": "SIM", "strategy": "rsi", "warmup_periods": True}
    response = client.post("/api/bots", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("body.warmup_periods: ")
    body = {**body, "warmup_periods": 5, "auto_resume": True, "initial_capital": "2500.5"}
    assert client.post("/api/bots", json=body, headers=ADMIN).status_code == 201
