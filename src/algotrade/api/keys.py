"""API keys with roles: admin may do everything, trader may only read.

Keys come from the environment (``ALGOTRADE_API_KEYS``) or a keys file, never from a bot config
or the command line. No message or log line built here ever contains a key: errors name the
source and the entry instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path

from algotrade.core.errors import ConfigError

ENV_VAR = "ALGOTRADE_API_KEYS"
HEADER = "X-API-Key"
MIN_KEY_LENGTH = 16
# Fingerprints of keys (what a session remembers instead of its key) are HMACs under a secret
# that lives and dies with the process, like the sessions: useless to anyone who reads them.
_FINGERPRINT_SECRET = secrets.token_bytes(32)


class Role(StrEnum):
    ADMIN = "admin"
    TRADER = "trader"  # read-only


class ApiKeys:
    """The configured (role, key) pairs. ``repr`` shows counts only, never keys."""

    __slots__ = ("_entries", "_fingerprints")

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
        self._fingerprints: tuple[tuple[Role, bytes], ...] = tuple(
            (role, fingerprint(key)) for role, key in self._entries
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
        # Commas, or one key per line (ALGOTRADE_API_KEYS_FILE holds the same text).
        for number, item in enumerate(raw.replace("\n", ",").split(","), start=1):
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

    def role_of_fingerprint(self, presented: bytes) -> Role | None:
        """The role of the configured key whose ``fingerprint`` is ``presented``, or None (the
        key is no longer configured). Constant-time over all keys, like ``authenticate``."""
        found: Role | None = None
        for role, known in self._fingerprints:
            if hmac.compare_digest(presented, known) and found is None:
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


def fingerprint(key: bytes | str) -> bytes:
    """What stands for ``key`` where the key itself must not be kept (sessions)."""
    raw = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else key
    return hmac.new(_FINGERPRINT_SECRET, raw, hashlib.sha256).digest()


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
