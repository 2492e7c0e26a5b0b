"""Request and response models of the REST API (they make the OpenAPI document complete)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.status import BotStatus

# Pagination bounds. The offset cap is a signed 64-bit integer: what a SQL OFFSET accepts.
MAX_PAGE_LIMIT = 1000
DEFAULT_PAGE_LIMIT = 100
MAX_OFFSET = 2**63 - 1
_INTEGER_TEXT = re.compile(r"^-?[0-9]+$")
_FLAG_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _query_integer(value: object) -> object:
    """A query value is text: an integer is its digits. Lax int also read ``" 5"``, ``"5_0"``,
    ``"+5"``, ``"5.0"`` and other scripts' digits."""
    if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
        raise PydanticCustomError("int_parsing", "Input should be an integer (digits)")
    return value


def _query_flag(value: object) -> object:
    """``true``/``false`` (``1``/``0``), any case: what serializers write. Lax bool also read
    ``yes``, ``on``, ``t``, ``y`` and their opposites."""
    if isinstance(value, str):
        flag = _FLAG_TEXT.get(value.lower())
        if flag is None:
            raise PydanticCustomError("bool_parsing", "Input should be true or false")
        return flag
    return value


# Query parameter types (the text a URL carries): the same rule as core.field_types. The
# validator comes after the bounds, so they apply to the integer (and show in the schema).
QUERY_INTEGER = BeforeValidator(_query_integer)
QueryFlag = Annotated[bool, BeforeValidator(_query_flag)]
PageOffset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="records to skip"), QUERY_INTEGER
]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="page size"), QUERY_INTEGER]


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, conflict, validation_error")
    message: str = Field(description="one line for a human")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class BotDetail(BaseModel):
    config: BotConfig
    status: BotStatus


class Health(BaseModel):
    """``status`` plus whatever cheap liveness facts the service reports."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description='"ok" whenever the API answers')


class VersionInfo(BaseModel):
    version: str


# None typed as Any: the field types stay non-nullable for validation and the schema, while an
# omitted field still needs a default (excluded again by exclude_unset).
_NOT_SENT: Any = None


def _without_defaults(schema: dict[str, Any]) -> None:
    # A "default": null on a non-nullable field would contradict the schema; omitted means
    # "unchanged", which the description says.
    for field_schema in schema.get("properties", {}).values():
        field_schema.pop("default", None)


class ConfigPatch(BaseModel):
    """Fields of BotConfig to change; omitted fields keep their value.

    Each field has BotConfig's type and bounds (one definition, see ``_patch_fields``), so the
    published schema says what a value may be; the service validates the merged config (the
    rules between fields, known strategies, venues and accounts). The ``_NOT_SENT`` default
    marks an omitted field without making an explicit null valid.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent, as they were parsed (Decimal stays exact).

        Not a JSON dump: that writes NaN and Infinity inside ``params`` and ``feed_options`` as
        null, and a null parameter may be valid where the NaN the client sent is not."""
        return self.model_dump(exclude_unset=True)


_PATCH_DESCRIPTIONS = {"bot_id": "must equal the current id if sent"}


def _patch_fields() -> dict[str, Any]:
    """BotConfig's fields with their types, constraints and validators of a single value
    (``Annotated`` metadata), none required."""
    fields: dict[str, Any] = {}
    for name, info in BotConfig.model_fields.items():
        annotation = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        description = _PATCH_DESCRIPTIONS.get(name, info.description)
        fields[name] = (annotation, Field(default=_NOT_SENT, description=description))
    return fields


if TYPE_CHECKING:
    BotConfigPatch = ConfigPatch
else:
    BotConfigPatch = create_model(
        "BotConfigPatch", __base__=ConfigPatch, __doc__=ConfigPatch.__doc__, **_patch_fields()
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or invalid API key"},
    422: {"model": ErrorResponse, "description": "invalid request (the message names fields)"},
}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "no such bot"},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    403: {"model": ErrorResponse, "description": "the key is read-only (trader)"},
    409: {"model": ErrorResponse, "description": "conflict with the bot's state"},
    503: {"model": ErrorResponse, "description": "the daemon is shutting down"},
}
