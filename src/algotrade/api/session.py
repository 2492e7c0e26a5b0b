"""Dashboard sessions and the failed-key throttle (both in memory, both bounded).

A session is what a browser holds after signing in with an API key: a random token in an
HttpOnly cookie. The store keeps, per session, the SHA-256 of its token (so a lookup never
compares secrets byte by byte, and memory holds no usable token), the fingerprint of the key
that opened it (``ApiKeys.fingerprint``: an HMAC under a per-process secret, never the key) and
its expiry. The role is not stored: every request asks the current keys which role that
fingerprint has, so a key that is no longer configured stops its sessions at once.

The throttle counts wrong keys per client address (sign-in, ``X-API-Key`` and ``?token=``
alike); the same wrong key again within ``window_s`` is not counted twice: it tells a guesser
nothing new, and a script retrying with a stale key (or a scanner probing with one made-up
key) would otherwise lock every client of its address out, the operator's dashboard included.
From the ``limit``-th distinct failure within ``window_s`` the address is locked out for
``first_delay_s``, doubling with each further failure up to ``max_delay_s``; while locked, no key
from that address is even checked (a correct guess must not show through the lockout). The
doubling goes on until the address has sent no wrong key for ``window_s``: were failures only
forgotten as they leave the window, waiting out 300 s locks would drop the count below the limit
and hand a guesser fresh unthrottled bursts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

COOKIE_NAME = "algotrade_session"
SESSION_TTL_S = 12 * 3600.0  # absolute: a session ends 12 h after sign-in, used or not
MAX_SESSIONS = 10_000
TOKEN_BYTES = 32

FAILURE_LIMIT = 5
FAILURE_WINDOW_S = 600.0
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 300.0
MAX_TRACKED_ADDRESSES = 10_000
# Past this many failures in the window the delay is at its cap anyway.
_MAX_REMEMBERED_FAILURES = 32

Clock = Callable[[], float]


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


# Wrong keys are remembered as keyed hashes: what memory holds names no key (a wrong key may
# be a real one with a typo) and cannot be tried against a list offline.
_WRONG_KEY_SALT = secrets.token_bytes(16)


def _wrong_key_digest(key: str) -> bytes:
    raw = key.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=16, key=_WRONG_KEY_SALT).digest()


@dataclass(slots=True)
class Session:
    key_fingerprint: bytes
    created_at: float
    expires_at: float

    def expires_at_iso(self) -> str:
        return datetime.fromtimestamp(self.expires_at, UTC).isoformat().replace("+00:00", "Z")


class SessionStore:
    """Sessions by token digest. ``clock`` gives wall-clock seconds (tests inject their own)."""

    def __init__(
        self,
        clock: Clock = time.time,
        ttl_s: float = SESSION_TTL_S,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        if ttl_s <= 0 or max_sessions < 1:
            raise ValueError("SessionStore: ttl_s must be > 0 and max_sessions >= 1")
        self.clock = clock
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        # Insertion order = creation order: the oldest session is the first one.
        self._sessions: OrderedDict[bytes, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, key_fingerprint: bytes) -> tuple[str, Session]:
        """A new session for the key with ``key_fingerprint``: (token for the cookie, session)."""
        now = self.clock()
        self._make_room(now)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session = Session(key_fingerprint, now, now + self.ttl_s)
        self._sessions[_token_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token``; an expired one is dropped and gives None."""
        if not token:
            return None
        digest = _token_digest(token)
        session = self._sessions.get(digest)
        if session is None:
            return None
        if self.clock() >= session.expires_at:
            del self._sessions[digest]
            return None
        return session

    def revoke(self, token: str | None) -> bool:
        """End the session of ``token`` (sign-out); whether there was one."""
        if not token:
            return False
        return self._sessions.pop(_token_digest(token), None) is not None

    def _make_room(self, now: float) -> None:
        if len(self._sessions) < self.max_sessions:
            return
        for digest in [d for d, s in self._sessions.items() if now >= s.expires_at]:
            del self._sessions[digest]
        # Still full: the oldest sessions make way (creating one needs a valid key anyway).
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)


def client_address(host: str | None) -> str:
    """The throttle's bucket for a client host: the address itself, or its /64 for IPv6 (one
    IPv6 host usually owns a whole /64 and could otherwise rotate through it)."""
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a test client name or a Unix socket path
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@dataclass(slots=True)
class _Record:
    failures: deque[tuple[float, bytes]]  # (when, which wrong key) within the window
    last_failure: float = 0.0
    streak: int = 0  # failures since the limit was reached; 0 = not throttled
    locked_until: float = 0.0


class FailureThrottle:
    """Wrong keys per client address; ``clock`` gives monotonic seconds (tests inject theirs)."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        limit: int = FAILURE_LIMIT,
        window_s: float = FAILURE_WINDOW_S,
        first_delay_s: float = FIRST_DELAY_S,
        max_delay_s: float = MAX_DELAY_S,
        max_addresses: int = MAX_TRACKED_ADDRESSES,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.max_addresses = max_addresses
        # Least recently failed first, so a full table forgets the quietest address.
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Whole seconds ``address`` must wait before its next key is checked, or None."""
        record = self._records.get(address)
        if record is None:
            return None
        left = record.locked_until - self.clock()
        return math.ceil(left) if left > 0 else None

    def record_failure(self, address: str, key: str) -> float:
        """Count the wrong ``key`` from ``address`` unless it already counted within the
        window; the lockout it now has (0 below the limit or when not counted)."""
        now = self.clock()
        record = self._records.pop(address, None)
        if record is None:
            self._make_room(now)
            record = _Record(deque(maxlen=_MAX_REMEMBERED_FAILURES))
        self._records[address] = record
        if record.streak and now - record.last_failure >= self.window_s:
            record.streak = 0  # quiet for a whole window: a fresh start
            record.failures.clear()
        failures = record.failures
        while failures and now - failures[0][0] >= self.window_s:
            failures.popleft()
        digest = _wrong_key_digest(key)
        if any(seen == digest for _, seen in failures):
            return 0.0
        record.last_failure = now
        failures.append((now, digest))
        if record.streak:
            record.streak += 1
        elif len(failures) >= self.limit:
            record.streak = 1
        else:
            return 0.0
        exponent = min(record.streak - 1, 62)
        delay = min(self.max_delay_s, self.first_delay_s * 2.0**exponent)
        record.locked_until = now + delay
        return delay

    def __len__(self) -> int:
        return len(self._records)

    def _make_room(self, now: float) -> None:
        if len(self._records) < self.max_addresses:
            return
        for address in [
            a
            for a, r in self._records.items()
            if r.locked_until <= now and now - r.last_failure >= self.window_s
        ]:
            del self._records[address]
        while len(self._records) >= self.max_addresses:
            self._records.popitem(last=False)
