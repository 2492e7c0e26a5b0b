"""A reload's plan: every source read and validated again, nothing running touched yet.

``build_plan`` reads the settings from where the start read them (the same config file and
command-line overrides, the environment as it is now with its ``*_FILE`` secrets), the API keys,
``risk.yaml``/``accounts.yaml`` and the ``[[bots]]`` list, validates all of it (each new or
changed bot as ``POST /api/bots`` / ``PATCH /api/bots/{id}/config`` would), and compares it
with what runs. Any error is a ``ConfigError`` (one line naming the file and field): the caller
then changes nothing. The plan is what ``reload_apply.apply_plan`` carries out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from algotrade.core.errors import AlgoTradeError, ConfigError
from algotrade.daemon.bot_checks import bot_entry
from algotrade.daemon.bot_config import BotConfig, ExecutionMode
from algotrade.daemon.reload_settings import (
    Change,
    change_of,
    changed_fields,
    settings_data,
)
from algotrade.daemon.settings import DaemonSettings, SettingsOrigin, load_settings, redact_url
from algotrade.daemon.settings_sources import one_line
from algotrade.daemon.status import BotState, BotStatus
from algotrade.risk.config_loader import RiskConfig, load_risk_config
from algotrade.risk.rules_config import RiskRules

# Settings whose values may hold a password: shown with it masked.
_URL_SETTINGS = frozenset({"database.url", "market_data.url"})


class Keys(Protocol):
    """The API keys as the plan sees them (``api.keys.ApiKeys``; the API layer sits above this
    one, so the runtime hands in how to load them)."""

    @property
    def enabled(self) -> bool: ...

    def secrets(self) -> tuple[str, ...]: ...

    def authenticate(self, presented: str | None) -> Any: ...


KeyLoader = Callable[[Mapping[str, str], Path | None], Keys]


@dataclass(frozen=True, slots=True)
class SettingChange:
    name: str
    text: str  # "api.port (8080 → 8081)": never a secret

    @classmethod
    def of(cls, name: str, before: Any, after: Any) -> SettingChange:
        if isinstance(before, dict) or isinstance(after, dict):
            keys = sorted(
                key
                for key in {*(before or {}), *(after or {})}
                if (before or {}).get(key) != (after or {}).get(key)
            )
            return cls(name, f"{name} (changed: {', '.join(map(str, keys))})")
        return cls(name, f"{name} ({_show(name, before)} → {_show(name, after)})")


@dataclass(frozen=True, slots=True)
class BotChange:
    bot_id: str
    changes: dict[str, Any]  # only the fields that differ, with their new values


@dataclass(frozen=True, slots=True)
class Running:
    """What the daemon runs with now (the plan is a difference from it)."""

    settings: dict[str, Any]  # reload_settings.settings_data of the settings in force
    keys: Keys
    risk: RiskConfig | None


@dataclass
class ReloadPlan:
    settings: DaemonSettings
    live: list[SettingChange] = field(default_factory=list)
    restart: list[SettingChange] = field(default_factory=list)
    keys: Keys | None = None  # the new keys when they differ
    keys_text: str | None = None  # what changed, counts only
    risk: RiskConfig | None = None
    rules: dict[str, RiskRules] = field(default_factory=dict)  # accounts whose rules change
    create: list[BotConfig] = field(default_factory=list)
    update: list[BotChange] = field(default_factory=list)
    prune: list[str] = field(default_factory=list)
    keep: dict[str, str] = field(default_factory=dict)  # bot id → why prune left it

    def level_change(self) -> int | None:
        """The new logging level number, when it changes."""
        if any(change.name == "logging.level" for change in self.live):
            return self.settings.logging.level_number
        return None


BotValidator = Callable[[BotConfig], None]  # raises the service's InvalidBotConfig
BotReader = Callable[[], Awaitable[dict[str, tuple[BotConfig, BotStatus]]]]


async def build_plan(
    origin: SettingsOrigin,
    env: Mapping[str, str],
    running: Running,
    read_bots: BotReader,
    validate_bot: BotValidator,
    load_keys: KeyLoader,
    check_keys: Callable[[Keys], None],
) -> ReloadPlan:
    """Read and validate everything; ``ConfigError`` (one line) on the first problem.

    ``env`` has its ``*_FILE`` variables expanded already; ``check_keys`` refuses keys the
    running API cannot take (none at all on a public address)."""
    settings = load_settings(origin.config_file, env, origin.overrides)
    plan = ReloadPlan(settings)
    new_data = settings_data(settings)
    for name, (before, after) in changed_fields(running.settings, new_data).items():
        change = SettingChange.of(name, before, after)
        (plan.live if change_of(name) is Change.LIVE else plan.restart).append(change)
    _plan_keys(plan, load_keys(env, settings.api.keys_file), running.keys, check_keys)
    _plan_risk(plan, running.risk)
    await _plan_bots(plan, origin, await read_bots(), validate_bot)
    return plan


def _plan_keys(plan: ReloadPlan, keys: Keys, old: Keys, check: Callable[[Keys], None]) -> None:
    before, after = _key_roles(old), _key_roles(keys)
    if before == after:
        return
    check(keys)
    plan.keys = keys
    added = len(after.keys() - before.keys())
    removed = len(before.keys() - after.keys())
    moved = sum(1 for key in after.keys() & before.keys() if after[key] != before[key])
    plan.keys_text = f"API keys: {added} added, {removed} removed, {moved} changed role ({keys!r})"


def _key_roles(keys: Keys) -> dict[str, str]:
    # Kept in memory only for the comparison; nothing built from it names a key.
    return {key: str(keys.authenticate(key)) for key in keys.secrets()}


def _plan_risk(plan: ReloadPlan, running: RiskConfig | None) -> None:
    risk_files = plan.settings.risk
    if risk_files.accounts_file is None or risk_files.rules_file is None:
        if running is not None:
            plan.restart.append(SettingChange("risk", "risk (enabled → disabled)"))
        return
    risk = load_risk_config(risk_files.accounts_file, risk_files.rules_file)
    plan.risk = risk
    if running is None:
        plan.restart.append(SettingChange("risk", "risk (disabled → enabled)"))
        return
    source = risk_files.accounts_file.name
    for account_id in sorted({*running.accounts, *risk.accounts}):
        before, after = running.accounts.get(account_id), risk.accounts.get(account_id)
        if before == after:
            continue
        what = "added" if before is None else "removed" if after is None else "changed"
        plan.restart.append(
            SettingChange(f"accounts.{account_id}", f"{source}: {account_id} ({what})")
        )
    if running.daily_reset != risk.daily_reset:
        plan.restart.append(SettingChange("accounts.daily_reset", f"{source}: daily_reset"))
    for account_id, rules in risk.rules.items():
        if account_id in running.rules and running.rules[account_id] != rules:
            plan.rules[account_id] = rules


async def _plan_bots(
    plan: ReloadPlan,
    origin: SettingsOrigin,
    current: dict[str, tuple[BotConfig, BotStatus]],
    validate: BotValidator,
) -> None:
    source = str(origin.config_file) if origin.config_file is not None else "settings"
    listed: set[str] = set()
    for index, raw in enumerate(plan.settings.bots):
        config = BotConfig.model_validate(raw)  # load_settings has checked it
        listed.add(config.bot_id)
        where = bot_entry(source, index, config.bot_id)
        existing = current.get(config.bot_id)
        if existing is None:
            _check(validate, config, where)
            plan.create.append(config)
            continue
        old = existing[0].model_dump()
        new = config.model_dump()
        changes = {key: value for key, value in new.items() if old.get(key) != value}
        if not changes:
            continue
        try:
            candidate = existing[0].with_changes(changes)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise ConfigError(f"{where}: {one_line(str(exc))}") from None
        _check(validate, candidate, where)
        plan.update.append(BotChange(config.bot_id, changes))
    if not plan.settings.reload.prune:
        return
    for bot_id, (config, status) in current.items():
        if bot_id in listed:
            continue
        reason = _keep_reason(config, status)
        if reason is None:
            plan.prune.append(bot_id)
        else:
            plan.keep[bot_id] = reason


def _keep_reason(config: BotConfig, status: BotStatus) -> str | None:
    """Why prune must not delete this bot, or None. Deleting a bot abandons what it holds, and
    stopping a live bot because its entry vanished from a file (a bad merge, a typo) would halt
    real trading without anyone asking: both are left to an operator."""
    if any(Decimal(qty) != 0 for qty in status.position.values()):
        return "holds an open position (close it and stop the bot, then reload)"
    if config.mode is ExecutionMode.LIVE and status.state in (BotState.RUNNING, BotState.PAUSED):
        return f"live bot is {status.state.value} (stop it, then reload)"
    return None


def _check(validate: BotValidator, config: BotConfig, where: str) -> None:
    try:
        validate(config)
    except AlgoTradeError as exc:
        raise ConfigError(f"{where}: {one_line(str(exc))}") from None


def _show(name: str, value: Any) -> str:
    if value is None:
        return "unset"
    if name in _URL_SETTINGS and isinstance(value, str):
        return redact_url(value)
    return str(value)
