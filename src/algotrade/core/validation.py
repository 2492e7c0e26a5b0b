"""Pydantic validation errors as one line a person can act on: field path, then the problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_LISTED_ERRORS = 10


def format_validation_errors(errors: Sequence[Any], whole: str = "request") -> str:
    """``body.symbol: Field required; query.limit: ...`` — field paths first, one per error.

    ``errors`` is ``ValidationError.errors()`` (or FastAPI's list of the same shape); ``whole``
    names the thing when an error has no field path (a model-level rule).
    """
    parts: list[str] = []
    for error in errors[:MAX_LISTED_ERRORS]:
        loc = [str(part) for part in error.get("loc", ())]
        if error.get("type") == "json_invalid":
            position = loc[1] if len(loc) > 1 else "?"
            parts.append(f"body: invalid JSON at character {position}")
            continue
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if loc:
            # A check that names its field itself ("params: ...") or a part of it
            # ("params.fast: ..."): the field is named once, as the check named it.
            named, separator, rest = message.partition(": ")
            if separator and (named == loc[-1] or named.startswith(f"{loc[-1]}.")):
                loc[-1:] = [named]
                message = rest
        parts.append(f"{'.'.join(loc) or whole}: {message}")
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_LISTED_ERRORS} more")
    return "; ".join(parts)
