"""Where a settings value came from, and the one-line error text naming it.

A bad value is reported with its source in the merge's priority order (command line,
environment variable as the user spelt it, config file, defaults) and its dotted key, e.g.
``config.toml: api.port: Input should be less than or equal to 65535 (got 70000)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError

ENV_PREFIX = "ALGOTRADE__"
ENV_DELIMITER = "__"

_SETTINGS_ERROR_FIELD = re.compile(r'field "(\w+)"')


def describe_validation(
    exc: ValidationError,
    cli: dict[str, Any],
    env: Mapping[str, str],
    file_data: dict[str, Any],
    file_label: str,
) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(str(part) for part in first["loc"])
    source = source_of(loc, cli, env, file_data, file_label)
    line = error_text(first, loc, source)
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more)"
    return one_line(line)


def describe_settings_error(exc: SettingsError, env: Mapping[str, str]) -> str:
    match = _SETTINGS_ERROR_FIELD.search(str(exc))
    name = _env_name_for((match.group(1),), env) if match else None
    cause = one_line(str(exc.__cause__ or exc))
    if name is None:
        return f"environment: {cause}"
    return f"environment {name}: {name[len(ENV_PREFIX) :].lower()}: not valid JSON: {cause}"


def error_text(error: ErrorDetails, loc: tuple[str, ...], source: str) -> str:
    dotted = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return f"{source}: unknown setting {dotted!r}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{source}: {dotted}: {message}"
    return f"{source}: {dotted}: {message} (got {short_repr(error['input'])})"


def source_of(
    loc: tuple[str, ...],
    cli: dict[str, Any],
    env: Mapping[str, str],
    file_data: dict[str, Any],
    file_label: str,
) -> str:
    """Which source supplied the value at ``loc``: checked in priority order, like the merge."""
    if _has_path(cli, loc):
        return "command line"
    env_name = _env_name_for(loc, env)
    if env_name is not None:
        return f"environment {env_name}"
    if _has_path(file_data, loc):
        return file_label
    return "settings"


def _has_path(data: Any, loc: tuple[str, ...]) -> bool:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return False
    return True


def _env_name_for(loc: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    """The variable (as the user spelt it) holding ``loc`` or, for JSON values, a parent of it."""
    by_lower = {name.lower(): name for name in env}
    parts = list(loc)
    for depth in range(len(parts), 0, -1):
        candidate = (ENV_PREFIX + ENV_DELIMITER.join(parts[:depth])).lower()
        if candidate in by_lower:
            return by_lower[candidate]
    return None


def short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str) -> str:
    return " ".join(text.split())
