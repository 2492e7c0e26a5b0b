"""The daemon's settings: defaults < TOML config file < environment < command-line overrides.

``load_settings`` is the one entry point. It parses the TOML file itself (so a syntax error can
name the line), then lets pydantic-settings merge three sources in priority order (see
``DaemonSettings.settings_customise_sources``). Every failure is a one-line ``ConfigError`` that
names where the bad value came from and which key it is, e.g.
``config.toml: api.port: Input should be less than or equal to 65535 (got 70000)``.
"""

from __future__ import annotations

import logging
import re
import sys
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from algotrade.core.errors import ConfigError
from algotrade.daemon.recorder_settings import RecordingSection, check_watch_venues
from algotrade.daemon.reload_settings import ReloadSection
from algotrade.daemon.settings_sources import (
    ENV_DELIMITER,
    ENV_PREFIX,
    describe_settings_error,
    describe_validation,
    error_text,
    one_line,
    short_repr,
    source_of,
)

MASK = "***"

# scheme://user:password@host → the password part; the user name stays visible for debugging.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]*(?=@)")
_TOML_POSITION = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``postgresql://u:***@host/db``)."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, url)


class _Section(BaseModel):
    # A typo in a setting must fail loudly, not silently fall back to a default.
    model_config = ConfigDict(extra="forbid")


class DaemonSection(_Section):
    data_dir: Path = Field(default=Path("./data"), description="state, logs and signals live here")
    max_bots: int = Field(default=10_000, ge=1)
    resume_all: bool = Field(default=False, description="start every bot, not only auto_resume")
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    bot_workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="worker processes that run paper bots on sim prices (one per core pays "
        "when many bots trade on the same bar); 0: every bot in the daemon's process",
    )

    @field_validator("bot_workers")
    @classmethod
    def _workers_need_posix(cls, value: int) -> int:
        # The daemon hands each worker one end of a socket pair by file descriptor.
        if value and sys.platform == "win32":
            raise ValueError("bot worker processes run on Linux and macOS only; use 0")
        return value


class ApiSection(_Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    keys_file: Path | None = None
    ws_queue_size: int = Field(default=1000, ge=1)
    # Off by default: one log line per request halves the API's throughput, and Prometheus
    # (/metrics) already counts and times every request by route and status.
    access_log: bool = Field(default=False, description="one line per request in api.log")


class DatabaseSection(_Section):
    url: str | None = Field(default=None, description="default: sqlite:///<data_dir>/algotrade.db")


class MarketDataSection(_Section):
    url: str | None = Field(
        default=None,
        description="the warm tier, postgresql://…: backtests of warm:VENUE:SYMBOL:INTERVAL "
        "datasets read their bars there (the catalog needs no setting)",
    )

    @field_validator("url")
    @classmethod
    def _postgresql(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+")):
            raise ValueError("expected a postgresql://… URL")
        return value


class LoggingSection(_Section):
    level: str = "INFO"
    # Named json_format because a field called "json" would shadow BaseModel.json(); the
    # alias keeps the setting's name "json" in files, the environment and dumps.
    json_format: bool = Field(default=False, alias="json", description="JSON lines instead of text")
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=0, description="rotate at; 0 = never")
    backups: int = Field(default=5, ge=0)
    repeat_limit: int = Field(
        default=10,
        ge=0,
        le=1_000_000,
        description="warnings/errors of one kind written per window, then one summary; 0 = all",
    )
    repeat_window_s: float = Field(default=60.0, gt=0, le=86_400)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("level", mode="before")
    @classmethod
    def _known_level(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        level = value.strip().upper()
        known = logging.getLevelNamesMapping()
        if level not in known or level == "NOTSET":
            names = ", ".join(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
            raise ValueError(f"unknown logging level {value!r}; expected one of {names}")
        return level

    @property
    def level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.level]


@dataclass(frozen=True, slots=True)
class _LoadInputs:
    """What one ``load_settings`` call feeds to the sources (see ``_INPUTS``)."""

    env: Mapping[str, str]
    file_data: dict[str, Any] = field(default_factory=dict)


# pydantic-settings builds its sources inside the model constructor from class-level hooks; a
# context variable is how one call's environment and parsed file reach those hooks without
# touching os.environ or creating a settings class per call. Plain DaemonSettings() reads the
# real environment and no file.
_INPUTS: ContextVar[_LoadInputs | None] = ContextVar("algotrade_settings_inputs", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """The standard environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Same normalisation as the base class applies to os.environ (names are matched
        # case-insensitively; empty values are ignored only if configured).
        return {
            (name if self.case_sensitive else name.lower()): value
            for name, value in self._mapping.items()
            if value or not self.env_ignore_empty
        }


class _TomlDataSource(InitSettingsSource):
    """The config file, already parsed by ``load_settings`` (pydantic-settings' own
    ``TomlConfigSettingsSource`` is also an ``InitSettingsSource`` over the parsed file; reading
    it ourselves lets a syntax error name the file and line)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls, init_kwargs=data)


class RiskSection(_Section):
    accounts_file: Path | None = Field(default=None, description="accounts.yaml; enables risk")
    rules_file: Path | None = Field(default=None, description="risk.yaml")
    tick_interval_s: float = Field(default=1.0, gt=0, le=60, description="expiry/reset checks")

    @model_validator(mode="after")
    def _both_or_neither(self) -> RiskSection:
        if (self.accounts_file is None) != (self.rules_file is None):
            raise ValueError("set both accounts_file and rules_file, or neither")
        return self


@dataclass(frozen=True, slots=True)
class SettingsOrigin:
    """Where ``load_settings`` read the settings from: a reload reads the same file with the
    same command-line overrides (and the environment as it is then)."""

    config_file: Path | None
    overrides: dict[str, Any] = field(default_factory=dict)


class DaemonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        extra="forbid",
    )

    daemon: DaemonSection = Field(default_factory=DaemonSection)
    api: ApiSection = Field(default_factory=ApiSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    market_data: MarketDataSection = Field(default_factory=MarketDataSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    risk: RiskSection = Field(default_factory=RiskSection)
    recording: RecordingSection = Field(default_factory=RecordingSection)
    reload: ReloadSection = Field(default_factory=ReloadSection)
    venues: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="[venues.<name>]: each live venue's section (network, URLs, limits; "
        "credentials only from env/secrets file), validated by the venue's registry entry",
    )
    bots: list[dict[str, Any]] = Field(
        default_factory=list,
        description="bots (BotConfig each): created at start when missing; a reload creates "
        "new ones and applies changed configs (docs/reload.md)",
    )
    # Set by load_settings; None for settings built in code (they cannot be reloaded).
    _origin: SettingsOrigin | None = PrivateAttr(default=None)

    @property
    def origin(self) -> SettingsOrigin | None:
        return self._origin

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: CLI overrides (constructor kwargs) > environment > file.
        # No .env or secrets-dir sources: secrets are read by the components that need them.
        inputs = _INPUTS.get()
        if inputs is None:
            return (init_settings, env_settings)
        return (
            init_settings,
            _MappingEnvSource(settings_cls, inputs.env),
            _TomlDataSource(settings_cls, inputs.file_data),
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database_url(self) -> str:
        """The configured URL, or SQLite in the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.daemon.data_dir / 'algotrade.db').as_posix()}"

    def redacted_dump(self) -> dict[str, Any]:
        """The effective settings as JSON-ready data, database passwords masked (for logs)."""
        data = self.model_dump(mode="json", by_alias=True)
        if data["database"]["url"]:
            data["database"]["url"] = redact_url(data["database"]["url"])
        data["database_url"] = redact_url(data["database_url"])
        if data["market_data"]["url"]:
            data["market_data"]["url"] = redact_url(data["market_data"]["url"])
        return data


def load_settings(
    config_file: Path | None,
    env: Mapping[str, str],
    overrides: dict[str, Any] | None = None,
) -> DaemonSettings:
    """Settings from defaults < ``config_file`` (TOML) < ``env`` < ``overrides``.

    ``env`` is usually ``os.environ``; only ``ALGOTRADE__SECTION__KEY`` variables are read
    (case-insensitive). ``overrides`` is a nested dict from CLI flags, e.g.
    ``{"api": {"port": 9000}}``; ``None`` values mean "flag not given" and are dropped.
    """
    file_label = str(config_file) if config_file is not None else "config file"
    file_data = _read_toml(config_file) if config_file is not None else {}
    file_data = _venue_section_aliases(file_data, file_label)
    env = _venue_env_aliases(env)
    cli = _drop_none(overrides or {})
    _reject_unknown_env_sections(env)
    token = _INPUTS.set(_LoadInputs(env=env, file_data=file_data))
    try:
        settings = DaemonSettings(**cli)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc, cli, env, file_data, file_label)) from None
    except SettingsError as exc:
        # Raised while decoding a section given as one JSON value, e.g. ALGOTRADE__API='{...'.
        raise ConfigError(describe_settings_error(exc, env)) from None
    finally:
        _INPUTS.reset(token)
    for index, raw in enumerate(settings.bots):
        _check_bot(index, raw, source_of(("bots", str(index)), cli, env, file_data, file_label))
    _check_unique_bot_ids(settings.bots, file_label)
    _check_venue_sections(settings, cli, env, file_data, file_label)
    if settings.recording.watch:
        where = source_of(("recording", "watch"), cli, env, file_data, file_label)
        check_watch_venues(settings.recording, where)
    settings._origin = SettingsOrigin(config_file, cli)
    return settings


def _legacy_venue(name: str) -> bool:
    """A top-level section named after a registered venue is read as ``[venues.<name>]``
    (a deprecated spelling, still accepted: the first venue's section predates the registry)."""
    if name in DaemonSettings.model_fields:
        return False
    from algotrade.venues.registry import venue_names  # noqa: PLC0415

    return name in venue_names()


def _venue_section_aliases(data: dict[str, Any], file_label: str) -> dict[str, Any]:
    legacy = [key for key in data if isinstance(data[key], dict) and _legacy_venue(key)]
    if not legacy:
        return data
    data = dict(data)
    venues = dict(data.get("venues") or {})
    for key in legacy:
        if key in venues:
            raise ConfigError(
                f"{file_label}: [{key}] and [venues.{key}] both given; keep [venues.{key}]"
            )
        venues[key] = data.pop(key)
    data["venues"] = venues
    return data


def _venue_env_aliases(env: Mapping[str, str]) -> Mapping[str, str]:
    """``ALGOTRADE__<VENUE>__KEY`` (deprecated) → ``ALGOTRADE__VENUES__<VENUE>__KEY``."""
    renamed: dict[str, str] | None = None
    for name in env:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        section = name[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0].lower()
        if section and _legacy_venue(section):
            renamed = renamed if renamed is not None else dict(env)
            renamed[f"{ENV_PREFIX}VENUES{ENV_DELIMITER}{name[len(ENV_PREFIX) :]}"] = renamed.pop(
                name
            )
    return env if renamed is None else renamed


def _check_venue_sections(
    settings: DaemonSettings,
    cli: dict[str, Any],
    env: Mapping[str, str],
    file_data: dict[str, Any],
    file_label: str,
) -> None:
    """Each ``[venues.<name>]`` names a registered venue and is valid for it, before anything
    starts (the venue's config module is imported; its heavy parts are not)."""
    from algotrade.venues.registry import get_venue, venue_names  # noqa: PLC0415

    venue_names()  # loads the venue plugins: one that cannot be imported stops the start here
    for name, section in settings.venues.items():
        loc: tuple[str, ...] = ("venues", name)
        try:
            model = get_venue(name).config_model()
        except LookupError:
            source = source_of(loc, cli, env, file_data, file_label)
            known = ", ".join(venue_names()) or "none"
            raise ConfigError(f"{source}: venues.{name}: unknown venue (known: {known})") from None
        try:
            model.model_validate(section)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            first = errors[0]
            where = (*loc, *(str(part) for part in first["loc"]))
            line = error_text(first, where, source_of(where, cli, env, file_data, file_label))
            if len(errors) > 1:
                line += f" (and {len(errors) - 1} more)"
            raise ConfigError(one_line(line)) from None


def _check_bot(index: int, raw: dict[str, Any], source: str) -> None:
    """A ``[[bots]]`` entry must be a valid bot config *before* anything starts: a bad one
    used to pass here and fail deep in the daemon's start-up, after the database was created.
    (That the strategy exists, and the feed options, is checked when the bot is created.)"""
    # Imported here: bot_config pulls in core.money; plain settings loads stay light.
    from algotrade.daemon.bot_config import BotConfig  # noqa: PLC0415

    try:
        BotConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        where = f"bots[{index}]"
        bot_id = raw.get("bot_id")
        if isinstance(bot_id, str) and bot_id:
            where += f" (bot_id {short_repr(bot_id)})"
        field = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            line = f"{source}: {where}: unknown field {field!r}"
        elif first["type"] == "missing":
            line = f"{source}: {where}: {field}: {message}"
        else:
            got = short_repr(first["input"])
            line = f"{source}: {where}: {field or 'entry'}: {message} (got {got})"
        if len(errors) > 1:
            line += f" (and {len(errors) - 1} more)"
        raise ConfigError(one_line(line)) from None


def _check_unique_bot_ids(bots: list[dict[str, Any]], file_label: str) -> None:
    # A second entry with the same id would be skipped without a word at start-up.
    first_index: dict[str, int] = {}
    for index, raw in enumerate(bots):
        bot_id = str(raw["bot_id"])
        if bot_id in first_index:
            raise ConfigError(
                f"{file_label}: bots[{index}]: bot_id {bot_id!r} is already used by "
                f"bots[{first_index[bot_id]}]; each bot needs its own id"
            )
        first_index[bot_id] = index


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        if position is None:
            raise ConfigError(f"{path}: {one_line(message)}") from None
        message = message[: position.start()]
        raise ConfigError(
            f"{path} line {position['line']}: {message} (column {position['column']})"
        ) from None


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            nested = _drop_none(value)
            if nested:
                cleaned[key] = nested
        elif value is not None:
            cleaned[key] = value
    return cleaned


def _reject_unknown_env_sections(env: Mapping[str, str]) -> None:
    """``ALGOTRADE__DATABSE__URL`` would be silently ignored by the env source; fail instead.

    (A misspelt key inside a known section, ``ALGOTRADE__API__PROT``, is caught by the
    sections' ``extra="forbid"``.)"""
    sections = set(DaemonSettings.model_fields)
    for name in env:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        section = name[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0].lower()
        if section not in sections:
            dotted = ".".join(name[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER))
            raise ConfigError(f"environment {name}: unknown setting {dotted!r}")
