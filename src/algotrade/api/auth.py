"""Who is calling: an API key (``X-API-Key``, or ``?token=`` on ``/ws``) or a dashboard session
cookie, and what that caller may do.

- A key is checked in constant time (``ApiKeys``); a wrong one counts against the client
  address in the failure throttle (the same wrong key once per window), and a locked-out
  address has no key checked at all (429).
- The session cookie counts only when no key is sent. A request it authorises that changes
  something (POST/PUT/PATCH/DELETE), and a WebSocket it opens, must come from the daemon's own
  origin (``Origin``, else ``Referer``): a page elsewhere cannot make the browser act for its
  user (403 "cross-origin request refused"). A key cannot be forged by a browser, so keyed
  calls skip that check.
- Trader (key or session) may only read: 403 on anything mutating.

No message or log line built here contains a key or a session token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from algotrade.api.deps import ApiContext, get_context
from algotrade.api.errors import ApiHttpError, error_response
from algotrade.api.keys import ENV_VAR, HEADER, MIN_KEY_LENGTH, ApiKeys, Role, fingerprint
from algotrade.api.session import COOKIE_NAME, client_address

__all__ = [
    "ENV_VAR",
    "HEADER",
    "MIN_KEY_LENGTH",
    "MUTATING_METHODS",
    "OPEN_PATHS",
    "SESSION_PATH",
    "AccessMiddleware",
    "ApiKeys",
    "Role",
    "authenticate_connection",
    "authorize_connection",
    "check_key",
    "fingerprint",
    "require_access",
    "resolve_access",
]

# Routes anyone may call: liveness probes (systemd, Docker, load balancers) carry no key.
OPEN_PATHS = frozenset({"/api/health"})
SESSION_PATH = "/api/session"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CROSS_ORIGIN = "cross-origin request refused"
# Where the middleware leaves the role it established, for ``require_access``.
_ROLE_STATE = "algotrade_role"
_DEFAULT_PORTS = {"http": 80, "https": 443}

logger = logging.getLogger("algotrade.api")


# -- pieces ------------------------------------------------------------------------------------


def _host_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def throttled(retry_after: int) -> ApiHttpError:
    return ApiHttpError(
        429,
        "too_many_requests",
        f"too many wrong API keys from this address: retry in {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


def check_key(ctx: ApiContext, presented: str, host: str) -> Role:
    """The role of ``presented``, or 429 (address locked out: not even checked) / 401 (wrong
    key, counted against the address)."""
    address = client_address(host)
    wait = ctx.throttle.retry_after(address)
    if wait is not None:
        raise throttled(wait)
    role = ctx.auth.authenticate(presented)
    if role is None:
        delay = ctx.throttle.record_failure(address, presented)
        if delay:
            logger.warning(
                "wrong API keys from %s: next key from there checked in %.0f s", host, delay
            )
        raise ApiHttpError(401, "unauthorized", f"invalid API key (send it in the {HEADER} header)")
    return role


def _origin_tuple(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def own_origin(scope: Scope) -> tuple[str, str, int] | None:
    """This daemon's origin as the request reached it: its scheme (``https`` when uvicorn's
    trusted-proxy handling says so) and the Host header."""
    scheme = str(scope.get("scheme", "http"))
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    host = Headers(scope=scope).get("host")
    return _origin_tuple(f"{scheme}://{host}") if host else None


def request_origin(headers: Headers) -> str | None:
    """What the browser says the request comes from: Origin, else Referer; None if neither."""
    origin = headers.get("origin")
    if origin is not None:
        return origin
    return headers.get("referer")


def same_origin(scope: Scope, *, required: bool) -> bool:
    """Whether the request comes from this daemon's own origin; without Origin/Referer that
    is ``not required`` (programs send neither; browsers send Origin on every such request)."""
    claimed = request_origin(Headers(scope=scope))
    if claimed is None:
        return not required
    mine = own_origin(scope)
    return mine is not None and _origin_tuple(claimed) == mine


def session_token(headers: Headers) -> str | None:
    return cookie_parser(headers.get("cookie", "")).get(COOKIE_NAME) or None


def _session_role(ctx: ApiContext, token: str) -> Role:
    session = ctx.sessions.get(token)
    role = None if session is None else ctx.auth.role_of_fingerprint(session.key_fingerprint)
    if role is None:
        if session is not None:
            ctx.sessions.revoke(token)  # its key is no longer configured
        raise ApiHttpError(401, "unauthorized", "session expired or signed out: sign in again")
    return role


def resolve_access(
    ctx: ApiContext, scope: Scope, method: str, *, query_token: str | None = None
) -> Role:
    """The caller's role, or ApiHttpError 401/403/429. ``method`` is ``GET`` for a WebSocket
    (it only reads) and ``query_token`` its ``?token=``."""
    headers = Headers(scope=scope)
    mutating = method.upper() in MUTATING_METHODS
    is_socket = scope["type"] == "websocket"
    if not ctx.auth.enabled:
        # No keys (loopback only): still refuse what a web page elsewhere makes a browser send
        # (a change, or a WebSocket it could read events from).
        if (mutating or is_socket) and not same_origin(scope, required=False):
            raise ApiHttpError(403, "forbidden", CROSS_ORIGIN)
        return Role.ADMIN
    presented = headers.get(HEADER)
    if presented is None:
        presented = query_token
    token = session_token(headers) if presented is None else None
    if presented is not None:
        role = check_key(ctx, presented, _host_of(scope))
    elif token is not None:
        role = _session_role(ctx, token)
        if (mutating or is_socket) and not same_origin(scope, required=True):
            raise ApiHttpError(403, "forbidden", CROSS_ORIGIN)
    else:
        raise ApiHttpError(
            401,
            "unauthorized",
            f"missing API key (send it in the {HEADER} header, or sign in for a session)",
        )
    if role is Role.TRADER and mutating:
        raise ApiHttpError(403, "forbidden", "read-only access (trader role)")
    return role


# -- HTTP ----------------------------------------------------------------------------------------


class AccessMiddleware:
    """Authorises every HTTP request before anything else looks at it.

    FastAPI reads and parses a request body before it runs a route's dependencies, so a check
    done only in a dependency lets a bad body (invalid JSON or UTF-8, too large, too deep) answer
    400/413/422 to a caller without a key, and makes the daemon read bodies for anyone. Here the
    key or session and the role are checked from the headers alone: a refused request is
    answered 401/403/429 and its body is never read. Paths in ``open_paths`` or under
    ``open_prefixes`` (health probes, the API docs, the dashboard's pages) pass without a key;
    sign-in and sign-out (POST/DELETE ``/api/session``) carry their own checks.
    """

    def __init__(
        self,
        app: ASGIApp,
        ctx: ApiContext,
        open_paths: Iterable[str] = OPEN_PATHS,
        open_prefixes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = tuple(open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"  # the WebSocket endpoint checks its caller itself
            or path in self.open_paths
            or path.startswith(self.open_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        try:
            if path == SESSION_PATH and method in ("POST", "DELETE"):
                self._guard_session_change(scope, method)
            else:
                role = resolve_access(self.ctx, scope, method)
                scope.setdefault("state", {})[_ROLE_STATE] = role
        except ApiHttpError as exc:
            logger.info("%s %s from %s: %s", method, path, _host_of(scope), exc.code)
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _guard_session_change(self, scope: Scope, method: str) -> None:
        # Sign-in authenticates the key in its body; a locked-out address is refused before
        # the body is read. Neither may be triggered by a page of another origin.
        if not same_origin(scope, required=False):
            raise ApiHttpError(403, "forbidden", CROSS_ORIGIN)
        if method == "POST" and self.ctx.auth.enabled:
            wait = self.ctx.throttle.retry_after(client_address(_host_of(scope)))
            if wait is not None:
                raise throttled(wait)


api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    description="role:key entries from ALGOTRADE_API_KEYS or the keys file; "
    "admin may do everything, trader may only read",
)
session_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    description="dashboard session from POST /api/session (used when no X-API-Key is sent); "
    "changes need an Origin of this daemon",
)


async def require_access(
    request: Request,
    ctx: Annotated[ApiContext, Depends(get_context)],
    api_key: Annotated[str | None, Security(api_key_header)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> Role:
    """Route dependency: the caller's role (routes record it), and the security schemes in the
    OpenAPI document. ``AccessMiddleware`` has already refused bad callers and left the role;
    checking here when it did not keeps a route safe even in an app built without it."""
    role = request.scope.get("state", {}).get(_ROLE_STATE)
    if isinstance(role, Role):
        return role
    return resolve_access(ctx, request.scope, request.method)


# -- WebSocket -------------------------------------------------------------------------------


def authorize_connection(conn: HTTPConnection, ctx: ApiContext) -> Role:
    """The role of a WebSocket caller (``X-API-Key``, ``?token=``, or the session cookie with
    a same-origin ``Origin``), or ApiHttpError 401/403/429."""
    token = conn.query_params.get("token")
    return resolve_access(ctx, conn.scope, "GET", query_token=token)


def authenticate_connection(conn: HTTPConnection, ctx: ApiContext) -> Role | None:
    """``authorize_connection`` without the reason: the role, or None when refused."""
    try:
        return authorize_connection(conn, ctx)
    except ApiHttpError:
        return None
