"""API keys with roles: admin may do everything, trader may only read.

Keys come from the environment (``ALGOTRADE_API_KEYS``) or a keys file, never from a bot config
or the command line. No message or log line built here ever contains a key: errors name the
source and the entry instead.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from algotrade.api.deps import ApiContext, get_context
from algotrade.api.errors import ApiHttpError, error_response
from algotrade.core.errors import ConfigError

ENV_VAR = "ALGOTRADE_API_KEYS"
HEADER = "X-API-Key"
MIN_KEY_LENGTH = 16
# Routes anyone may call: liveness probes (systemd, Docker, load balancers) carry no key.
OPEN_PATHS = frozenset({"/api/health"})
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

logger = logging.getLogger("algotrade.api")


class Role(StrEnum):
    ADMIN = "admin"
    TRADER = "trader"  # read-only


class ApiKeys:
    """The configured (role, key) pairs. ``repr`` shows counts only, never keys."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[Role, str]] = ()) -> None:
        """Keys given in code (tests, embedding); checked like configured ones, so an empty or
        short key can never open the API."""
        checked = [
            (role, _check_key(key, f"API key {number}"))
            for number, (role, key) in enumerate(entries, start=1)
        ]
        # Kept as bytes so compare_digest also accepts non-ASCII presented values.
        self._entries: tuple[tuple[Role, bytes], ...] = tuple(
            (Role(role), key.encode()) for role, key in checked
        )

    @classmethod
    def empty(cls) -> ApiKeys:
        """No keys: every route is open (the daemon then binds to loopback only)."""
        return cls()

    @classmethod
    def from_sources(cls, env: Mapping[str, str], keys_file: Path | None = None) -> ApiKeys:
        """Keys from ``env[ALGOTRADE_API_KEYS]`` (``role:key,role:key``) and ``keys_file``.

        The file holds one ``role:key`` per line; blank lines and ``#`` comments are ignored.
        Raises ``ConfigError`` naming the source and entry/line of a bad key.
        """
        entries: list[tuple[Role, str, str]] = []
        raw = env.get(ENV_VAR, "")
        for number, item in enumerate(raw.split(","), start=1):
            if item.strip():
                entries.append(_parse_entry(item, f"{ENV_VAR} entry {number}"))
        if keys_file is not None:
            try:
                text = keys_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
                raise ConfigError(f"API keys file {keys_file}: {reason}") from None
            for number, line in enumerate(text.splitlines(), start=1):
                stripped = line.strip()
                if stripped and not stripped.startswith("#"):
                    entries.append(_parse_entry(stripped, f"{keys_file} line {number}"))
        first_seen: dict[str, tuple[Role, str]] = {}
        for role, key, where in entries:
            other_role, other_where = first_seen.setdefault(key, (role, where))
            if other_role is not role:
                raise ConfigError(f"{where}: same key as {other_where} but a different role")
        return cls((role, key) for role, key, _ in entries)

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def authenticate(self, presented: str | None) -> Role | None:
        """The role of ``presented``, or None. Constant-time over ALL keys: no early exit, so
        timing tells neither which key nor how many keys matched a prefix."""
        if presented is None or not self._entries:
            return None
        candidate = presented.encode("utf-8", "surrogatepass")
        found: Role | None = None
        for role, key in self._entries:
            if hmac.compare_digest(candidate, key) and found is None:
                found = role
        return found

    def secrets(self) -> tuple[str, ...]:
        """The key strings, for the log redactor only (it masks them wherever they appear)."""
        return tuple(key.decode() for _, key in self._entries)

    def __repr__(self) -> str:
        counts = {role.value: 0 for role in Role}
        for role, _ in self._entries:
            counts[role.value] += 1
        return f"ApiKeys({', '.join(f'{name}={n}' for name, n in counts.items())})"


def _parse_entry(entry: str, where: str) -> tuple[Role, str, str]:
    # Messages name `where` only: a malformed entry may be the key itself.
    role_text, sep, key = entry.strip().partition(":")
    if not sep:
        raise ConfigError(f"{where}: expected role:key (roles: admin, trader)")
    try:
        role = Role(role_text.strip().lower())
    except ValueError:
        raise ConfigError(f"{where}: unknown role (expected admin or trader)") from None
    return role, _check_key(key.strip(), where), where


def _check_key(key: str, where: str) -> str:
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"{where}: key is shorter than {MIN_KEY_LENGTH} characters")
    if not all(33 <= ord(char) < 127 for char in key) or "," in key:
        # Keys travel in an HTTP header and a comma-separated variable.
        raise ConfigError(f"{where}: key must be printable ASCII without spaces or commas")
    return key


def authorize(auth: ApiKeys, presented: str | None, method: str) -> Role:
    """The caller's role, or ApiHttpError 401 (no/invalid key) / 403 (trader mutating)."""
    if not auth.enabled:
        return Role.ADMIN
    role = auth.authenticate(presented)
    if role is None:
        reason = "missing" if presented is None else "invalid"
        raise ApiHttpError(
            401, "unauthorized", f"{reason} API key (send it in the {HEADER} header)"
        )
    if role is Role.TRADER and method.upper() in MUTATING_METHODS:
        raise ApiHttpError(403, "forbidden", "this API key is read-only (trader role)")
    return role


api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    description="role:key entries from ALGOTRADE_API_KEYS or the keys file; "
    "admin may do everything, trader may only read",
)


class AccessMiddleware:
    """Authorises every HTTP request before anything else looks at it.

    FastAPI reads and parses a request body before it runs a route's dependencies, so a check
    done only in a dependency lets a bad body (invalid JSON or UTF-8, too large, too deep) answer
    400/413/422 to a caller without a key, and makes the daemon read bodies for anyone. Here the
    key and the role are checked from the headers alone: a refused request is answered 401/403
    and its body is never read. Paths in ``open_paths`` or under ``open_prefixes`` (health
    probes, the API docs and their assets) pass without a key.
    """

    def __init__(
        self,
        app: ASGIApp,
        auth: ApiKeys,
        open_paths: Iterable[str] = OPEN_PATHS,
        open_prefixes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.auth = auth
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = tuple(open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"  # the WebSocket checks its key itself (header or ?token=)
            or path in self.open_paths
            or path.startswith(self.open_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        try:
            authorize(self.auth, Headers(scope=scope).get(HEADER), method)
        except ApiHttpError as exc:
            client = scope.get("client")
            logger.info("%s %s from %s: %s", method, path, client[0] if client else "?", exc.code)
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def require_access(
    request: Request,
    ctx: Annotated[ApiContext, Depends(get_context)],
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Role:
    """Route dependency: the caller's role (routes record it), and the security scheme in the
    OpenAPI document. ``AccessMiddleware`` has already refused bad keys; checking again here
    keeps a route safe even in an app built without it."""
    return authorize(ctx.auth, api_key, request.method)
