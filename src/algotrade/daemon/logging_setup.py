"""The daemon's logging: rotating files under ``<data_dir>/logs/``, stderr, secrets masked.

Files: ``daemon.log`` (every record at or above the configured level), ``api.log`` (the
``algotrade.api`` and ``uvicorn.access`` loggers; access lines go nowhere else),
``error.log`` (ERROR and above). All
handlers sit on the root logger, so uvicorn must run with ``log_config=None`` (its default
config stops ``uvicorn.access`` from propagating). Every handler carries a ``RedactingFilter``:
a secret must not reach any file, whichever handler sees the record first.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

from algotrade.daemon.settings import MASK, DaemonSettings

API_LOGGERS = ("algotrade.api", "uvicorn.access")
ACCESS_LOGGERS = ("uvicorn.access",)  # per-request lines: api.log only
# Shorter "secrets" would mask ordinary words and numbers all over the logs.
MIN_SECRET_LENGTH = 6
_TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

_KEY_WORDS = r"password|passwd|secret|private_key|privatekey|api_key|apikey|token"


def _masked_value(prefix: str, value: str) -> str:
    # Keep the quotes of a quoted value so JSON-looking text stays readable.
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{prefix}{quote}{MASK}{quote}"


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # scheme://user:password@host
    (re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+(?=@)"), rf"\1{MASK}"),
    # X-API-Key: value, Authorization: Bearer value (headers, also as dict reprs)
    (
        re.compile(r"(x-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",;]+", re.IGNORECASE),
        rf"\1{MASK}",
    ),
    (
        re.compile(
            r"(authorization['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token)\s+)?)[^\s'\",;]+",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
    # key=value / key: value / "key": "value" where the key names a credential
    # (token=..., access_token=..., password: ..., "api_key": "...", db_password=...)
    (
        re.compile(
            rf"(\b[\w\-]*(?:{_KEY_WORDS})[\w\-]*['\"]?\s*[:=]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s'\",;&}\]\)]+)",
            re.IGNORECASE,
        ),
        lambda m: _masked_value(m.group(1), m.group(2)),
    ),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secrets and credential-looking values replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, exception and stack text.

    The record is rewritten in place (message merged with its args, exception text
    pre-rendered) because Python 3.11 filters cannot return a copy; later handlers and
    formatters then only ever see the masked text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another one is masked whole.
        unique = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_algotrade_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        record.__dict__["_algotrade_redacted"] = True
        return True


class _NameFilter(logging.Filter):
    """Passes records of the given loggers and their children."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = tuple(names)

    def filter(self, record: logging.LogRecord) -> bool:
        return any(record.name == n or record.name.startswith(n + ".") for n in self.names)


class _ExcludeFilter(_NameFilter):
    """Drops records of the given loggers: one access line per request is written once, to
    api.log, not three times (formatting and redacting it is a large share of a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not super().filter(record)


class UtcTextFormatter(logging.Formatter):
    """``2024-05-01T12:00:00.123Z INFO     algotrade.daemon: message [bot=demo-btc]``."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _iso_utc(record.created)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        bot_id = getattr(record, "bot_id", None)
        if bot_id is None:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [bot={bot_id}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, bot_id, exc_info, stack_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        bot_id = getattr(record, "bot_id", None)
        if bot_id is not None:
            entry["bot_id"] = str(bot_id)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


@dataclass(slots=True)
class LoggingHandles:
    """The handlers ``configure_logging`` installed; ``close()`` on shutdown."""

    log_dir: Path
    handlers: list[logging.Handler] = field(default_factory=list)

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
            handler.close()
        self.handlers.clear()


def configure_logging(
    settings: DaemonSettings, *, stderr: bool = True, secrets: Sequence[str] = ()
) -> LoggingHandles:
    """Install the daemon's handlers on the root logger, replacing any this function installed
    before (so a second call never duplicates output). ``secrets`` are strings to mask
    wherever they appear, typically the configured API keys."""
    _remove_installed()
    config = settings.logging
    log_dir = settings.daemon.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    formatter: logging.Formatter = JsonFormatter() if config.json_format else UtcTextFormatter()
    redactor = RedactingFilter(secrets)

    def rotating(name: str, level: int) -> logging.Handler:
        handler = RotatingFileHandler(
            log_dir / name,
            maxBytes=config.max_bytes,
            backupCount=config.backups,
            encoding="utf-8",
        )
        handler.setLevel(level)
        return handler

    api = rotating("api.log", config.level_number)
    api.addFilter(_NameFilter(API_LOGGERS))
    daemon_log = rotating("daemon.log", config.level_number)
    daemon_log.addFilter(_ExcludeFilter(ACCESS_LOGGERS))
    handlers = [
        daemon_log,
        api,
        rotating("error.log", max(logging.ERROR, config.level_number)),
    ]
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(config.level_number)
        console.addFilter(_ExcludeFilter(ACCESS_LOGGERS))
        handlers.append(console)

    root = logging.getLogger()
    for handler in handlers:
        # The redactor goes first: a filter added later (like _NameFilter) already sees the
        # masked record, and no handler can format an unmasked one.
        handler.filters.insert(0, redactor)
        handler.setFormatter(formatter)
        handler._algotrade_installed = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(config.level_number)
    return LoggingHandles(log_dir=log_dir, handlers=handlers)


def _remove_installed() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_algotrade_installed", False):
            root.removeHandler(handler)
            handler.close()


def _iso_utc(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
