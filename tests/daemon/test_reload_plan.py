"""``build_plan``: everything read and validated, compared with what runs, nothing applied."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from algotrade.api.keys import ApiKeys, Role
from algotrade.core.errors import ConfigError
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.reload_plan import Keys, ReloadPlan, Running, build_plan
from algotrade.daemon.reload_settings import settings_data
from algotrade.daemon.service_api import InvalidBotConfig
from algotrade.daemon.settings import load_settings
from algotrade.daemon.status import BotState, BotStatus

BOT = """
[[bots]]
bot_id = "{bot_id}"
symbol = "SIM-BTC"
strategy = "ma_crossover"
params = {{ fast = {fast}, slow = 20 }}
feed = "sim"
{extra}
"""
OLD_KEY = "old-admin-key-0123456789"
NEW_KEY = "new-admin-key-0123456789"


def bot_toml(bot_id: str = "a", fast: int = 5, extra: str = "") -> str:
    return BOT.format(bot_id=bot_id, fast=fast, extra=extra)


def refuse_unknown_strategy(config: BotConfig) -> None:
    if config.strategy != "ma_crossover":
        raise InvalidBotConfig(f"strategy: unknown strategy {config.strategy!r}")


class Daemon:
    """What the plan compares with: the settings at start and the bots now."""

    def __init__(self, tmp_path: Path, toml: str, keys: ApiKeys | None = None) -> None:
        self.config = tmp_path / "daemon.toml"
        self.config.write_text(toml, encoding="utf-8")
        settings = load_settings(self.config, {})
        assert settings.origin is not None
        self.origin = settings.origin
        self.keys = keys or ApiKeys([(Role.ADMIN, OLD_KEY)])
        self.running = Running(settings_data(settings), self.keys, None)
        self.bots: dict[str, tuple[BotConfig, BotStatus]] = {}
        for raw in settings.bots:
            self.add(BotConfig.model_validate(raw))

    def add(self, config: BotConfig, state: BotState = BotState.RUNNING, **status: Any) -> None:
        self.bots[config.bot_id] = (
            config,
            BotStatus(bot_id=config.bot_id, state=state, simulated=True, **status),
        )

    def plan(self, toml: str, env: Mapping[str, str] | None = None) -> ReloadPlan:
        self.config.write_text(toml, encoding="utf-8")

        async def read_bots() -> dict[str, tuple[BotConfig, BotStatus]]:
            return self.bots

        def load_keys(env: Mapping[str, str], keys_file: Path | None) -> Keys:
            return ApiKeys.from_sources(env, keys_file)

        def check_keys(keys: Keys) -> None:
            if not keys.enabled:
                raise ConfigError("api.host: refusing to listen without API keys")

        environment = {"ALGOTRADE_API_KEYS": f"admin:{OLD_KEY}", **(env or {})}
        return asyncio.run(
            build_plan(
                self.origin,
                environment,
                self.running,
                read_bots,
                refuse_unknown_strategy,
                load_keys,
                check_keys,
            )
        )


def test_the_same_file_plans_nothing(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, bot_toml())
    plan = daemon.plan(bot_toml())
    assert (plan.live, plan.restart, plan.create, plan.update, plan.keys) == ([], [], [], [], None)


def test_a_changed_parameter_is_an_update_of_that_field_only(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, bot_toml(fast=5))
    plan = daemon.plan(bot_toml(fast=7))
    [update] = plan.update
    assert update.bot_id == "a"
    assert update.changes == {"params": {"fast": 7, "slow": 20}}


def test_a_new_entry_is_created_and_a_restart_setting_reported(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, "[api]\nport = 8080\n" + bot_toml())
    plan = daemon.plan("[api]\nport = 8081\n" + bot_toml() + bot_toml("b"))
    assert [config.bot_id for config in plan.create] == ["b"]
    assert [change.text for change in plan.restart] == ["api.port (8080 → 8081)"]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[api\nport = 1\n", "daemon.toml line 1"),
        (bot_toml(extra="colour = 'red'"), "bots[0] (bot_id 'a'): unknown field 'colour'"),
        (
            bot_toml() + bot_toml("b").replace("ma_crossover", "nope"),
            "daemon.toml: bots[1] (bot_id 'b'): strategy: unknown strategy 'nope'",
        ),
        (
            bot_toml(extra="interval = 'soon'"),
            "bots[0] (bot_id 'a'): interval",
        ),
    ],
)
def test_an_invalid_source_is_one_line_naming_file_and_field(
    tmp_path: Path, toml: str, expected: str
) -> None:
    daemon = Daemon(tmp_path, bot_toml())
    with pytest.raises(ConfigError) as error:
        daemon.plan(toml)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_an_invalid_update_of_an_existing_bot_is_refused(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, bot_toml())
    with pytest.raises(ConfigError, match=r"bots\[0\] \(bot_id 'a'\): strategy: unknown"):
        daemon.plan(bot_toml().replace("ma_crossover", "nope"))


def test_without_prune_bots_missing_from_the_file_are_left_alone(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, bot_toml() + bot_toml("b"))
    plan = daemon.plan(bot_toml())
    assert (plan.prune, plan.keep) == ([], {})


def test_prune_deletes_flat_bots_and_keeps_exposed_or_live_running_ones(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, bot_toml())
    base = {"symbol": "SIM-BTC", "strategy": "ma_crossover", "feed": "sim"}
    daemon.add(BotConfig.model_validate({**base, "bot_id": "flat"}), BotState.RUNNING)
    daemon.add(
        BotConfig.model_validate({**base, "bot_id": "holding"}),
        BotState.STOPPED,
        position={"SIM-BTC": "0.5"},
    )
    live = {**base, "bot_id": "live", "mode": "live", "venue": "bybit", "feed": "bybit"}
    daemon.add(BotConfig.model_validate(live), BotState.RUNNING)
    plan = daemon.plan("[reload]\nprune = true\n" + bot_toml())
    assert plan.prune == ["flat"]
    assert set(plan.keep) == {"holding", "live"}
    assert "open position" in plan.keep["holding"]
    assert "live bot is running" in plan.keep["live"]


def test_rotated_keys_are_counted_never_shown(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"admin:{NEW_KEY}\n", encoding="utf-8")
    daemon = Daemon(tmp_path, bot_toml())
    toml = f'[api]\nkeys_file = "{keys_file}"\n' + bot_toml()
    plan = daemon.plan(toml, env={"ALGOTRADE_API_KEYS": ""})
    assert plan.keys is not None
    assert plan.keys.authenticate(NEW_KEY) is Role.ADMIN
    assert plan.keys.authenticate(OLD_KEY) is None
    assert plan.keys_text is not None
    assert plan.keys_text.startswith("API keys: 1 added, 1 removed, 0 changed role")
    assert NEW_KEY not in plan.keys_text
    assert OLD_KEY not in plan.keys_text


def test_keys_the_running_api_cannot_take_are_refused(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, bot_toml())
    with pytest.raises(ConfigError, match="without API keys"):
        daemon.plan(bot_toml(), env={"ALGOTRADE_API_KEYS": ""})


ACCOUNTS = "accounts:\n  - id: acc1\n    starting_balance: {balance}\n"
RULES = "defaults:\n  max_contracts:\n    limit: {limit}\n"


def test_risk_rules_apply_and_an_account_change_needs_a_restart(tmp_path: Path) -> None:
    accounts, rules = tmp_path / "accounts.yaml", tmp_path / "risk.yaml"
    accounts.write_text(ACCOUNTS.format(balance=1000), encoding="utf-8")
    rules.write_text(RULES.format(limit=5), encoding="utf-8")
    risk = f'[risk]\naccounts_file = "{accounts}"\nrules_file = "{rules}"\n'
    daemon = Daemon(tmp_path, risk)
    from algotrade.risk.config_loader import load_risk_config

    daemon.running = Running(
        daemon.running.settings, daemon.keys, load_risk_config(accounts, rules)
    )
    rules.write_text(RULES.format(limit=3), encoding="utf-8")
    plan = daemon.plan(risk)
    assert set(plan.rules) == {"acc1"}
    assert plan.rules["acc1"].max_contracts.limit == 3
    assert plan.restart == []
    accounts.write_text(ACCOUNTS.format(balance=2000), encoding="utf-8")
    plan = daemon.plan(risk)
    assert [change.text for change in plan.restart] == ["accounts.yaml: acc1 (changed)"]
    rules.write_text("defaults:\n  max_contracts:\n    limit: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"risk\.yaml"):
        daemon.plan(risk)
