"""The daemon's logging: rotating files under ``<data_dir>/logs/``, stderr, secrets masked.

Files: ``daemon.log`` (every record at or above the configured level), ``api.log`` (the
``algotrade.api`` and ``uvicorn.access`` loggers; access lines go nowhere else),
``error.log`` (ERROR and above). All
handlers sit on the root logger, so uvicorn must run with ``log_config=None`` (its default
config stops ``uvicorn.access`` from propagating). Every handler carries a ``RedactingFilter``:
a secret must not reach any file, whichever handler sees the record first.

Every handler also carries the same ``RepeatFilter``: a fault that repeats (no file
descriptors left, a folder gone) must cost a few lines, not rotate every older log away. Log
files are created owner-only (0600) and the logs folder 0700: they name accounts, bots and
positions.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from algotrade.core.errors import InputError
from algotrade.daemon.log_files import OwnerOnlyRotatingFileHandler
from algotrade.daemon.settings import MASK, DaemonSettings

API_LOGGERS = ("algotrade.api", "uvicorn.access")
ACCESS_LOGGERS = ("uvicorn.access",)  # per-request lines: api.log only
# Shorter "secrets" would mask ordinary words and numbers all over the logs.
MIN_SECRET_LENGTH = 6
_TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

_KEY_WORDS = r"password|passwd|secret|private_key|privatekey|api_key|apikey|token"
# Third-party loggers whose INFO lines are noise to an operator: Alembic announces each of its
# plugins (seven lines) before every migration, at every first start.
QUIET_LOGGERS = {"alembic.runtime.plugins": logging.WARNING}
DIR_MODE = 0o700  # the logs folder, when this module creates it


class LogSetupError(InputError):
    """The log folder or a log file cannot be created (a file in the way, no permission)."""


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
        self.secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another one is masked whole.
        unique = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH} | set(self.secrets)
        self.secrets = tuple(sorted(unique, key=len, reverse=True))

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


_SUMMARY_ATTR = "_algotrade_repeat_summary"
_DECISION_ATTR = "_algotrade_repeat_decision"
# Numbers (counts, ids, ports, fds, addresses) vary between repeats of one message that was
# formatted before logging (f-strings, exception texts): they must not make each repeat "new".
_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+")
_MAX_KEY_TEXT = 200
_OVERFLOW = "<more kinds of messages than tracked>"

_RepeatKey = tuple[str, int, str, str, str]  # logger, level, template, exception type, bot


@dataclass(slots=True)
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0
    last: float = 0.0  # when the last dropped record came


class RepeatFilter(logging.Filter):
    """Passes the first ``limit`` records of one kind per ``window`` seconds and drops the
    rest, then reports how many it dropped in one line at the same level.

    A *kind* is (logger, level, message template, exception type, bot): ``"poll failed: %s"``
    with a thousand different arguments is one kind, the same template for two bots two.
    Records below ``min_level`` (INFO: per-command and per-request lines) always pass: only
    warnings and errors flood. The summary line — ``suppressed 512 similar messages in
    42.0 s: ...`` (from the kind's first record to its last dropped one) — is written when
    that kind's window ends and a record comes by (any record: the check is made at most
    once a second), or at ``flush()`` (on close).

    One instance sits on every handler: it decides once per record (the decision is kept on
    the record), so all files agree on what was dropped. It must run before the
    ``RedactingFilter``, which merges the arguments into the message and loses the template.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 10_000,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.window = window
        self.min_level = min_level
        self.max_kinds = max_kinds
        self._clock = clock
        self._windows: dict[_RepeatKey, _Window] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        self.suppressed_total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        decided = record.__dict__.get(_DECISION_ATTR)
        if decided is not None:
            return bool(decided)
        allowed = True
        summaries: list[tuple[_RepeatKey, _Window]] = []
        if record.levelno >= self.min_level and not getattr(record, _SUMMARY_ATTR, False):
            now = self._clock()
            key = self._key(record)
            with self._lock:
                if now >= self._next_sweep:
                    self._next_sweep = now + min(1.0, self.window)
                    summaries = self._take_expired(now)
                if key not in self._windows and len(self._windows) >= self.max_kinds:
                    key = (key[0], key[1], _OVERFLOW, "", "")
                window = self._windows.get(key)
                if window is not None and now - window.start >= self.window:
                    if window.suppressed:
                        summaries.append((key, window))
                    window = None
                if window is None:
                    window = self._windows[key] = _Window(now)
                if window.passed < self.limit:
                    window.passed += 1
                else:
                    window.suppressed += 1
                    window.last = now
                    self.suppressed_total += 1
                    allowed = False
        elif self._windows and self._clock() >= self._next_sweep:
            # Quiet periods: an INFO line is enough to close a finished window's account.
            now = self._clock()
            with self._lock:
                self._next_sweep = now + min(1.0, self.window)
                summaries = self._take_expired(now)
        record.__dict__[_DECISION_ATTR] = allowed
        self._emit(summaries)
        return allowed

    def flush(self) -> None:
        """Write the summary of every window that dropped something, and start over."""
        with self._lock:
            summaries = [(key, w) for key, w in self._windows.items() if w.suppressed]
            self._windows.clear()
        self._emit(summaries)

    def _key(self, record: logging.LogRecord) -> _RepeatKey:
        if record.args and isinstance(record.msg, str):
            template = record.msg  # the format string: same call site, any arguments
        else:
            template = _VARYING.sub("#", str(record.msg))
        exc_type = ""
        if record.exc_info and record.exc_info[0] is not None:
            exc_type = record.exc_info[0].__name__
        bot = getattr(record, "bot_id", None)
        return (
            record.name,
            record.levelno,
            template[:_MAX_KEY_TEXT],
            exc_type,
            "" if bot is None else str(bot),
        )

    def _take_expired(self, now: float) -> list[tuple[_RepeatKey, _Window]]:
        expired = [(k, w) for k, w in self._windows.items() if now - w.start >= self.window]
        for key, _ in expired:
            del self._windows[key]
        return [(key, window) for key, window in expired if window.suppressed]

    def _emit(self, summaries: list[tuple[_RepeatKey, _Window]]) -> None:
        # Outside the lock: the summary goes through the handlers, and so through this filter.
        if not summaries:
            return
        for (name, level, template, exc_type, bot), window in summaries:
            what = f"{template} ({exc_type})" if exc_type else template
            record = logging.LogRecord(
                name,
                level,
                __file__,
                0,
                "suppressed %d similar messages in %.1f s: %s",
                (window.suppressed, window.last - window.start, what),
                None,
            )
            record.__dict__[_SUMMARY_ATTR] = True
            if bot:
                record.__dict__["bot_id"] = bot
            logging.getLogger(name).handle(record)


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
    repeats: RepeatFilter | None = None
    redactor: RedactingFilter | None = None

    def set_level(self, level_number: int) -> None:
        """Change the level live (a reload): every handler, the root and the quiet loggers, as
        ``configure_logging`` sets them (error.log stays at ERROR or above)."""
        for handler in self.handlers:
            name = getattr(handler, "baseFilename", "")
            floor = logging.ERROR if name.endswith("error.log") else logging.NOTSET
            handler.setLevel(max(floor, level_number))
        _set_levels(level_number)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` too (keys added by a reload; removed ones stay masked)."""
        if self.redactor is not None:
            self.redactor.add(secrets)

    def close(self) -> None:
        if self.repeats is not None:
            self.repeats.flush()  # the last floods' summaries, while the handlers still write
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
    wherever they appear, typically the configured API keys. Raises ``LogSetupError`` (one
    line, naming the path) when the log folder or a log file cannot be created."""
    _remove_installed()
    # uvicorn's default log config (applied by any uvicorn.Config made without
    # log_config=None, in this process) stops its loggers from reaching the root: undo it,
    # so access lines always land in api.log whatever ran before.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.disabled = False
    config = settings.logging
    log_dir = settings.daemon.data_dir / "logs"
    formatter: logging.Formatter = JsonFormatter() if config.json_format else UtcTextFormatter()
    redactor = RedactingFilter(secrets)
    repeats = (
        RepeatFilter(config.repeat_limit, config.repeat_window_s) if config.repeat_limit else None
    )

    def rotating(name: str, level: int) -> logging.Handler:
        handler = OwnerOnlyRotatingFileHandler(
            log_dir / name,
            maxBytes=config.max_bytes,
            backupCount=config.backups,
            encoding="utf-8",
        )
        handler.setLevel(level)
        return handler

    handlers: list[logging.Handler] = []
    try:
        _make_log_dir(log_dir)
        daemon_log = rotating("daemon.log", config.level_number)
        handlers.append(daemon_log)
        daemon_log.addFilter(_ExcludeFilter(ACCESS_LOGGERS))
        api = rotating("api.log", config.level_number)
        handlers.append(api)
        api.addFilter(_NameFilter(API_LOGGERS))
        handlers.append(rotating("error.log", max(logging.ERROR, config.level_number)))
    except OSError as exc:
        for handler in handlers:
            handler.close()
        where = exc.filename or log_dir
        raise LogSetupError(
            f"cannot create log file {where}: {exc.strerror or exc} "
            "(expected a writable folder; daemon.data_dir)"
        ) from None
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(config.level_number)
        console.addFilter(_ExcludeFilter(ACCESS_LOGGERS))
        handlers.append(console)

    root = logging.getLogger()
    for handler in handlers:
        # The redactor goes first: a filter added later (like _NameFilter) already sees the
        # masked record, and no handler can format an unmasked one. Only the repeat filter
        # comes before it: it needs the message template, and it formats nothing.
        handler.filters.insert(0, redactor)
        if repeats is not None:
            handler.filters.insert(0, repeats)
        handler.setFormatter(formatter)
        handler._algotrade_installed = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    _set_levels(config.level_number)
    return LoggingHandles(log_dir=log_dir, handlers=handlers, repeats=repeats, redactor=redactor)


def _set_levels(level_number: int) -> None:
    logging.getLogger().setLevel(level_number)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, level_number))


def _make_log_dir(log_dir: Path) -> None:
    if log_dir.is_dir():
        return
    if log_dir.exists() or log_dir.is_symlink():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(log_dir))
    log_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def _remove_installed() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_algotrade_installed", False):
            root.removeHandler(handler)
            handler.close()


def _iso_utc(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
