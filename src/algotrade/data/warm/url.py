"""The warm tier's address: a ``postgresql://`` URL, checked, and shown without its password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from algotrade.core.errors import ConfigError

# SQLAlchemy spellings are accepted too (``postgresql+psycopg://``): the daemon's database URL
# may be reused as is. libpq itself knows only ``postgresql://`` and ``postgres://``.
_SCHEME = re.compile(r"^(?P<scheme>postgres(?:ql)?)(?:\+\w+)?://", re.IGNORECASE)
_PASSWORD = re.compile(r"(?P<head>^[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]*(?=@)")
MASK = "***"


@dataclass(frozen=True, slots=True)
class WarmUrl:
    """``conninfo`` is what psycopg connects with; ``shown`` is safe to print or log."""

    conninfo: str
    shown: str
    address: str  # host:port/database, for "cannot reach" messages


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return _PASSWORD.sub(lambda match: match.group("head") + MASK, url)


def parse_url(url: str, option: str = "--to") -> WarmUrl:
    """Check that ``url`` names a PostgreSQL database; ``ConfigError`` naming ``option``."""
    text = url.strip()
    match = _SCHEME.match(text)
    if match is None:
        raise ConfigError(
            f"{option}: expected a postgresql://user@host:port/database URL, "
            f"got {redact(text)[:120]!r}"
        )
    conninfo = "postgresql://" + text[match.end() :]
    try:
        parts = urlsplit(conninfo)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{option}: malformed URL {redact(text)!r}: {exc}") from None
    host = parts.hostname or "localhost (socket)"
    database = unquote(parts.path.lstrip("/")) or (unquote(parts.username or "") or "?")
    address = f"{host}:{port or 5432}/{database}"
    return WarmUrl(conninfo=conninfo, shown=redact(conninfo), address=address)
