"""Session tokens of the ProjectX gateway: when one expires and when to renew it.

``Auth/loginKey`` returns a JWT valid for 24 hours; ``Auth/validate`` (sent with the current
token) returns ``newToken``. The expiry is read from the JWT's ``exp`` claim when present (the
signature is not ours to check); otherwise it is assumed to be ``lifetime_s`` after issue.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

__all__ = ["SessionToken", "jwt_expiry"]


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, or ``None`` if it has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


@dataclass(frozen=True, slots=True)
class SessionToken:
    """A bearer token and the time (epoch seconds) it stops being valid."""

    value: str = field(repr=False)
    expires_at: float

    @classmethod
    def issued(cls, value: str, *, now: float, lifetime_s: float) -> SessionToken:
        exp = jwt_expiry(value)
        return cls(value, exp if exp is not None else now + lifetime_s)

    def due(self, now: float, margin_s: float) -> bool:
        """True when the token should be renewed (within ``margin_s`` of expiry, or past it)."""
        return now >= self.expires_at - margin_s

    def __str__(self) -> str:
        return f"SessionToken(expires_at={self.expires_at:.0f})"
