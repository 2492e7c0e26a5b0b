"""``/api/session``: browser sign-in with an API key → a session cookie, who-am-I, sign-out.

The cookie (``algotrade_session``) is HttpOnly (no script reads it), SameSite=Strict (no other
site's page gets it sent), ``Path=/`` and ``Secure`` when the request came over https. It holds
a random token; the daemon keeps the token's hash, the key's fingerprint and an absolute expiry
(12 h after sign-in) in memory, so a restart signs everyone out and sign-out ends the session
on the daemon, not only in the browser.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from algotrade.api.auth import (
    CROSS_ORIGIN,
    HEADER,
    Role,
    check_key,
    fingerprint,
    require_access,
    same_origin,
    session_token,
)
from algotrade.api.deps import ApiContext, get_context
from algotrade.api.errors import ApiHttpError
from algotrade.api.schemas import ErrorResponse
from algotrade.api.session import COOKIE_NAME

router = APIRouter(prefix="/api/session", tags=["session"])
Context = Annotated[ApiContext, Depends(get_context)]
logger = logging.getLogger("algotrade.api")

MAX_KEY_CHARS = 1024  # far longer than any key; a bigger value is no key at all

_THROTTLED = {"model": ErrorResponse, "description": "too many wrong keys: see Retry-After"}
_CROSS_ORIGIN = {"model": ErrorResponse, "description": "cross-origin request refused"}


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, max_length=MAX_KEY_CHARS, description="admin or trader key")


class SessionInfo(BaseModel):
    role: Role
    expires_at: str | None = Field(
        description="when the session ends (ISO 8601, UTC); null without a session "
        "(an API key, or auth disabled)"
    )
    auth_enabled: bool


def _cookie(token: str, max_age: int, secure: bool) -> str:
    # Written out rather than Response.set_cookie: that spells the attribute "SameSite=strict".
    cookie = f"{COOKIE_NAME}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict"
    return f"{cookie}; Secure" if secure else cookie


def _is_https(request: Request) -> bool:
    # uvicorn sets the scheme from X-Forwarded-Proto only for trusted proxies (its
    # forwarded_allow_ips, loopback by default); nothing here reads that header itself.
    return request.url.scheme == "https"


def _host(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.post(
    "",
    response_model=SessionInfo,
    responses={
        401: {"model": ErrorResponse, "description": "wrong API key"},
        403: _CROSS_ORIGIN,
        422: {"model": ErrorResponse, "description": "invalid request (the message names fields)"},
        429: _THROTTLED,
    },
)
async def sign_in(body: SignIn, request: Request, response: Response, ctx: Context) -> Any:
    """Exchange an API key for a session cookie. Five wrong keys within 10 minutes from one
    address lock it out (429 + Retry-After), 1 s at first, doubling to 300 s."""
    if not ctx.auth.enabled:
        return SessionInfo(role=Role.ADMIN, expires_at=None, auth_enabled=False)
    role = check_key(ctx, body.api_key, _host(request))
    ctx.sessions.revoke(session_token(request.headers))  # a browser holds one session
    token, session = ctx.sessions.create(fingerprint(body.api_key))
    max_age = max(1, int(session.expires_at - session.created_at))
    response.headers.append("set-cookie", _cookie(token, max_age, _is_https(request)))
    response.headers["cache-control"] = "no-store"
    logger.info("session opened from %s (%s)", _host(request), role.value)
    return SessionInfo(role=role, expires_at=session.expires_at_iso(), auth_enabled=True)


@router.get(
    "",
    response_model=SessionInfo,
    responses={401: {"model": ErrorResponse, "description": "no valid session or key"}},
)
async def current_session(
    request: Request, ctx: Context, role: Annotated[Role, Depends(require_access)]
) -> Any:
    """Who the caller is: the session cookie's role and expiry, or the API key's role."""
    if not ctx.auth.enabled:
        return SessionInfo(role=Role.ADMIN, expires_at=None, auth_enabled=False)
    expires_at = None
    if HEADER not in request.headers:
        session = ctx.sessions.get(session_token(request.headers))
        expires_at = session.expires_at_iso() if session is not None else None
    return SessionInfo(role=role, expires_at=expires_at, auth_enabled=True)


@router.delete("", status_code=204, responses={403: _CROSS_ORIGIN})
async def sign_out(request: Request, ctx: Context) -> Response:
    """End the session on the daemon and clear the cookie; 204 even without a session."""
    # The access middleware has refused another origin already; checked again for an app
    # built without it.
    if not same_origin(request.scope, required=False):
        raise ApiHttpError(403, "forbidden", CROSS_ORIGIN)
    if ctx.sessions.revoke(session_token(request.headers)):
        logger.info("session closed from %s", _host(request))
    response = Response(status_code=204)
    response.headers.append("set-cookie", _cookie("", 0, _is_https(request)))
    response.headers["cache-control"] = "no-store"
    return response
