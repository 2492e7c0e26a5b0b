"""Session tokens and rate limits of the fake ProjectX.

getting-started/authenticate-api-key: ``Auth/loginKey`` returns a JWT session ``token`` that
every further request sends as ``Authorization: Bearer``; it is valid for 24 hours.
getting-started/validate-session: ``Auth/validate`` returns ``newToken``; "If your token has
expired, you must re-validate it to receive a new token", so validate accepts an expired (but
genuine, not revoked) token. An unknown, revoked or expired token gets HTTP 401 everywhere else.
getting-started/rate-limits: retrieveBars and "all other endpoints" have separate windows;
over the limit the reply is HTTP 429.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "TokenInfo", "Tokens"]

DAY_S = 24 * 3600.0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class TokenInfo:
    user: str
    expires_at: float
    revoked: bool = False


class Tokens:
    """HS256 JWTs signed with a per-server secret; expiry follows the fake's clock."""

    def __init__(self, clock: Callable[[], float], lifetime_s: float = DAY_S) -> None:
        self.clock = clock
        self.lifetime_s = lifetime_s
        self._secret = secrets.token_bytes(32)
        self.issued: dict[str, TokenInfo] = {}

    def issue(self, user: str) -> str:
        now = self.clock()
        exp = now + self.lifetime_s
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": user, "iat": int(now), "exp": int(exp), "jti": secrets.token_hex(8)}
        payload = _b64(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = _b64(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
        token = f"{header}.{payload}.{signature}"
        self.issued[token] = TokenInfo(user, exp)
        return token

    def lookup(self, token: str | None, allow_expired: bool = False) -> TokenInfo | None:
        """The token's session if it is ours, not revoked and (unless allowed) not expired."""
        if not token:
            return None
        info = self.issued.get(token)
        if info is None or info.revoked:
            return None
        if not allow_expired and self.clock() >= info.expires_at:
            return None
        return info

    def expire_all(self) -> int:
        """Make every issued token expired now (it can still be re-validated)."""
        now = self.clock()
        for info in self.issued.values():
            info.expires_at = min(info.expires_at, now - 1)
        return len(self.issued)

    def revoke_all(self) -> None:
        """Kill every token: only a new loginKey works afterwards."""
        for info in self.issued.values():
            info.revoked = True


class RateLimiter:
    """Sliding-window request counts per (user, bucket), on the monotonic clock."""

    def __init__(self, limits: dict[str, tuple[int, float]]) -> None:
        self.limits = dict(limits)
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def allow(self, user: str, bucket: str) -> bool:
        limit, window = self.limits[bucket]
        now = time.monotonic()
        hits = self._hits.setdefault((user, bucket), deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def clear(self) -> None:
        self._hits.clear()
