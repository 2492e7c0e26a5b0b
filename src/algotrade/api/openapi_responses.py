"""The answers the middleware gives, documented on every operation they can reach.

Routes declare their own responses; the access middleware (401, and 429 while an address is
locked out after wrong keys) and the body limit (400 for a body that is not JSON text or is
nested too deep, 413 over the size cap) answer before any route runs, so their statuses are
added here, from the operation's security and request body, to the generated document.
Without them a client (or schemathesis' status_code_conformance) meets undocumented statuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds until a key from this address is checked again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_KEYED = {
    "401": "missing or invalid API key",
    "429": "too many wrong API keys from this address: wait Retry-After seconds",
}


def _with_body(max_body_bytes: int) -> dict[str, str]:
    return {
        "400": "the body is not JSON text (not UTF-8, a number of too many digits, or nested "
        "too deep)",
        "413": f"the body is larger than {max_body_bytes} bytes",
    }


def add_middleware_responses(document: dict[str, Any], max_body_bytes: int) -> None:
    """Add the middleware's statuses to every operation of ``document`` they apply to (an
    operation that already documents one keeps its text, the middleware's reason added)."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            added: dict[str, str] = {}
            if operation.get("security"):
                added.update(_KEYED)
            if "requestBody" in operation:
                added.update(_with_body(max_body_bytes))
            responses = operation.setdefault("responses", {})
            for status, reason in added.items():
                response = responses.setdefault(status, {"description": reason})
                if reason not in response["description"]:
                    response["description"] = f"{response['description']}; or {reason}"
                response.setdefault("content", _ERROR_CONTENT)
                if status == "429":
                    response.setdefault("headers", {}).update(_RETRY_AFTER)


def install_middleware_responses(app: FastAPI, max_body_bytes: int) -> None:
    """Make ``app.openapi()`` include the middleware's statuses (idempotent: FastAPI may
    regenerate the document when routes change)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        add_middleware_responses(document, max_body_bytes)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
