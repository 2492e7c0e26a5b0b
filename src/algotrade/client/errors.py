"""The errors the clients raise, and how an HTTP answer becomes a value or one of them."""

from __future__ import annotations

from typing import Any

import httpx

from algotrade.core.errors import AlgoTradeError, RetryableError


class ClientError(AlgoTradeError):
    """Root of the errors the clients raise."""


class ApiError(ClientError):
    """The daemon answered with an error: ``str`` is ``"409 conflict: bot 'x' exists"``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class DaemonUnreachable(ClientError, RetryableError):
    """No answer from the daemon (refused, timed out, connection broken)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the daemon at {url}: {reason}")
        self.url = url
        self.reason = reason


class StreamClosedError(ClientError):
    """The daemon closed the event stream, e.g. 1013 when the client read too slowly."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"event stream closed by the daemon: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


def one_line(text: str) -> str:
    return " ".join(text.split())


def transport_reason(exc: BaseException) -> str:
    # httpx's timeouts often carry no text; the class name still says what happened.
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return one_line(str(exc)) or type(exc).__name__


def error_from_response(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
        error = body["error"]
        return ApiError(response.status_code, str(error["code"]), one_line(str(error["message"])))
    except (ValueError, KeyError, TypeError):
        # Not our error shape (a proxy in between, or not the daemon at all).
        return ApiError(response.status_code, "http_error", response.reason_phrase or "error")


def parse_answer(response: httpx.Response) -> Any:
    if response.is_error:
        raise error_from_response(response)
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(response.status_code, "bad_response", "the answer is not JSON") from None
