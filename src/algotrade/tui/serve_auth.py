"""Sessions and the wrong-key throttle of ``algotrade tui --serve`` (see serve.py).

Both live in the server's memory: a restart signs everyone out, and both are bounded whatever
clients do (oldest entries dropped first).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0
# Wrong keys this server forwards to the daemon, all browsers together. The daemon locks out
# an address after 5 wrong keys in 10 minutes and then checks no key from it at all; every
# browser's sign-in and every TUI process reach the daemon from this server's one address,
# so one stranger typing wrong keys here would freeze every operator's running TUI. Staying
# under the daemon's limit costs at worst new sign-ins here for a while, never live sessions.
FORWARDED_FAILURES = 4
FORWARDED_WINDOW = 600.0
MAX_ADDRESSES = 10_000  # addresses with recent failures remembered at once


class FailureLimiter:
    """Wrong keys per client address within a sliding window: after ``limit`` failures in
    ``window`` seconds the address waits until the oldest of them leaves the window."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds the address must wait before its next try, or None when it may try now."""
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        if len(failures) < self.limit:
            return None
        return max(1, int(failures[0] + self.window - now + 0.999))

    def failed(self, address: str, now: float) -> None:
        failures = self._failures.pop(address, None) or deque(maxlen=self.limit)
        failures.append(now)
        self._failures[address] = failures  # re-inserted: the dict stays oldest-first
        while len(self._failures) > MAX_ADDRESSES:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


@dataclass
class Session:
    api_key: str
    expires: float
    sockets: set[web.WebSocketResponse] = field(default_factory=set)


class SessionStore:
    """Random tokens → sessions; the cookie carries ``token.hmac(token)``."""

    def __init__(self, lifetime: float = SESSION_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self.lifetime = lifetime
        self.limit = limit
        self._secret = secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    def _sign(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def create(self, api_key: str) -> str:
        """A new session for ``api_key``; returns the cookie value."""
        now = time.monotonic()
        self._sessions = {t: s for t, s in self._sessions.items() if s.expires > now}
        while len(self._sessions) >= self.limit:
            del self._sessions[next(iter(self._sessions))]
        token = secrets.token_urlsafe(32)
        self._sessions[token] = Session(api_key, now + self.lifetime)
        return f"{token}.{self._sign(token)}"

    def get(self, cookie: str) -> Session | None:
        """The live session of a cookie value, or None (unknown, forged or expired)."""
        token, _, signature = cookie.partition(".")
        if not token or not hmac.compare_digest(signature, self._sign(token)):
            return None
        session = self._sessions.get(token)
        if session is not None and session.expires <= time.monotonic():
            del self._sessions[token]
            return None
        return session

    def drop(self, session: Session) -> None:
        self._sessions = {t: s for t, s in self._sessions.items() if s is not session}
