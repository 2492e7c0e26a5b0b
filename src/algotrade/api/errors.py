"""One error shape for every failure: ``{"error": {"code": str, "message": str}}``.

Service errors keep their own code and status; framework errors (404/405/413, validation) are
translated; anything unexpected becomes a generic 500 whose details go to the log only.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from algotrade.core.errors import InputError
from algotrade.core.validation import format_validation_errors
from algotrade.daemon.service_api import ServiceError

logger = logging.getLogger("algotrade.api")

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}


class ApiHttpError(InputError):
    """An error the API layer itself raises (auth, bad WebSocket input): the caller must change
    the request (send a key, use an admin key), not retry it as is."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def service_error_message(exc: ServiceError) -> str:
    # Service errors are written for clients; fall back to the code when one has no text.
    return str(exc) or exc.code.replace("_", " ")


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc.http_status, exc.code, service_error_message(exc))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiHttpError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def _body_error_message(cause: BaseException | None) -> str | None:
    """What was wrong with a body FastAPI could not parse (it answers 400 with a generic text and
    keeps the reason as the exception's cause)."""
    if isinstance(cause, UnicodeDecodeError):
        return "body: not UTF-8 text (expected a JSON document)"
    if isinstance(cause, RecursionError):
        return "body: JSON nested too deeply"
    if isinstance(cause, ValueError):
        # Not a JSONDecodeError (FastAPI reports those as validation errors): Python's limit
        # on the digits of an integer it converts from text.
        return f"body: a JSON number has more than {sys.get_int_max_str_digits()} digits"
    return None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _CODES_BY_STATUS.get(status, "http_error")
    headers = exc.headers
    body_message = _body_error_message(exc.__cause__) if status == 400 else None
    if body_message is not None:
        message = body_message
    elif status == 404:
        message = f"no route for {request.method} {request.url.path}"
    elif status == 405:
        allowed = allowed_methods(request) or (exc.headers or {}).get("Allow", "")
        headers = {**(exc.headers or {}), "Allow": allowed}
        message = f"method {request.method} is not allowed here (allowed: {allowed})"
    elif isinstance(exc.detail, str) and exc.detail:
        message = exc.detail
    else:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "error"
    return error_response(status, code, message, headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (``GET, POST``). The router
    answers 405 from the first route whose path matches, whose ``Allow`` names only its own
    method (``GET`` for ``/api/bots``, which also takes ``POST``)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    # Only authorised requests get here: the access middleware answers 401/403 before FastAPI
    # reads a body or validates a parameter.
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type and media_type != "application/json" and any(_whole_body(e) for e in errors):
        # FastAPI reads a body as JSON only when it says it is JSON; the rest arrives as text.
        message = f"body: expected JSON (Content-Type: application/json), got {media_type}"
        return error_response(422, "validation_error", message)
    return error_response(422, "validation_error", format_validation_errors(errors))


def _whole_body(error: Any) -> bool:
    return tuple(error.get("loc", ())) == ("body",)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers and the middleware that turns anything unexpected into a 500."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ApiHttpError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(InternalErrorMiddleware)


# Deeper JSON is refused before it is parsed: the parsers recurse, and how deep they can go
# depends on the thread's stack and the interpreter's recursion limit (which libraries raise),
# so a body 200k deep could crash the process instead of raising RecursionError.
MAX_JSON_DEPTH = 200


def json_nesting_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``data`` (JSON text) nests arrays/objects deeper than ``limit``, brackets inside
    strings not counted. Iterative: it cannot itself run out of stack."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # the common case, at C speed
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with a JSON 413, and bodies nested deeper
    than ``MAX_JSON_DEPTH`` with a JSON 400 before anything parses them.

    FastAPI's own ``max_body_size`` answers a declared oversize body in plain text, which would
    break the one-error-shape rule; this one answers in JSON whether the size is declared up
    front (Content-Length) or only discovered while streaming.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body is larger than {self.max_bytes} bytes"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(413, "payload_too_large", too_large)(scope, receive, send)
            return
        received = 0
        chunks: list[bytes] = []

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_bytes:
                    # FastAPI re-raises an HTTPException met while reading the body as is.
                    raise StarletteHTTPException(413, too_large)
                chunks.append(chunk)
                if not message.get("more_body", False) and json_nesting_exceeds(b"".join(chunks)):
                    raise StarletteHTTPException(400, "body: JSON nested too deeply")
            return message

        await self.app(scope, limited_receive, send)


class InternalErrorMiddleware:
    """Turns an unexpected exception into a generic 500 and logs the traceback.

    Pure ASGI (not BaseHTTPMiddleware) and inside any metrics middleware, so the 500 is counted;
    it swallows the exception so the server does not log it a second time with request data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # too late for a clean answer; the server ends the response
            response = error_response(500, "internal_error", "internal error; see the daemon log")
            await response(scope, receive, send)
