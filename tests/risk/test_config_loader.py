"""accounts.yaml + risk.yaml → RiskConfig: merging, daily reset, credentials, one-line errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
import yaml

from algotrade.core.errors import AlgoTradeError, ConfigError, InputError
from algotrade.risk.config_loader import (
    RULE_NAMES,
    RiskConfig,
    load_risk_config,
    resolve_credentials,
    rules_from_dict,
)
from algotrade.risk.errors import UnknownAccount
from algotrade.risk.rules_config import AccountConfig, DailyReset, RiskRules

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "risk"

ACCOUNTS = """\
accounts:
  - id: acct-1
    credentials_env: {api_key: ACCT1_KEY}
  - id: acct-2
    timezone: America/New_York
    daily_reset: {time: "16:00", timezone: America/New_York}
"""

RULES = """\
defaults:
  daily_realized_loss: {enabled: true, limit: 1000}
  max_contracts: {limit: 4}
accounts:
  acct-1:
    daily_realized_loss: {limit: 500}
"""


def load(tmp_path: Path, accounts: str = ACCOUNTS, rules: str = RULES) -> RiskConfig:
    (tmp_path / "accounts.yaml").write_text(dedent(accounts), encoding="utf-8")
    (tmp_path / "risk.yaml").write_text(dedent(rules), encoding="utf-8")
    return load_risk_config(tmp_path / "accounts.yaml", tmp_path / "risk.yaml")


def error(tmp_path: Path, accounts: str = ACCOUNTS, rules: str = RULES) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, accounts, rules)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- happy paths


def test_examples_load() -> None:
    config = load_risk_config(EXAMPLES / "accounts.yaml", EXAMPLES / "risk.yaml")
    assert list(config.accounts) == ["acct-1", "acct-2"]
    raw = yaml.safe_load((EXAMPLES / "risk.yaml").read_text(encoding="utf-8"))
    assert tuple(raw["defaults"]) == RULE_NAMES  # every rule is spelt out
    assert len(RULE_NAMES) == 13
    one, two = config.rules["acct-1"], config.rules["acct-2"]
    assert one.daily_realized_loss.enabled
    assert one.daily_realized_loss.limit == Decimal(1000)
    assert one.daily_realized_profit.enabled  # override
    assert one.daily_realized_profit.target == Decimal(1500)
    assert one.cooldown_after_loss.loss_threshold == Decimal(300)
    assert two.max_contracts.limit == Decimal(10)
    assert two.max_contracts.mode == "gross"  # kept from defaults
    assert two.session_hours.windows["mon"] == ["09:30-16:00"]
    assert two.session_hours.holidays == config.defaults.session_hours.holidays  # kept
    assert date(2024, 12, 25) in two.session_hours.holidays
    assert config.reset_for("acct-1") == DailyReset(time="17:00", timezone="America/Chicago")
    assert config.reset_for("acct-2") == DailyReset(time="16:15", timezone="America/New_York")
    assert config.timezone_for("acct-2") == ZoneInfo("America/New_York")
    assert config.accounts["acct-1"].credentials_env == {
        "api_key": "ACCT1_API_KEY",
        "api_secret": "ACCT1_API_SECRET",
    }
    assert config.accounts["acct-2"].starting_balance == Decimal(100000)


def test_override_keeps_unset_params_of_the_default(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.defaults.daily_realized_loss.limit == Decimal(1000)
    assert config.rules["acct-1"].daily_realized_loss.enabled  # from defaults
    assert config.rules["acct-1"].daily_realized_loss.limit == Decimal(500)
    assert config.rules["acct-2"] == config.defaults  # no overrides
    assert config.rules["acct-1"].max_contracts.limit == Decimal(4)
    assert config.rules_for("acct-1") is config.rules["acct-1"]


def test_override_replaces_a_map_parameter_whole(tmp_path: Path) -> None:
    rules = """\
    defaults:
      max_contracts_per_instrument: {limits: {ES: 3, NQ: 2}}
    accounts:
      acct-1:
        max_contracts_per_instrument: {limits: {NQ: 1}}
    """
    config = load(tmp_path, rules=rules)
    assert config.rules["acct-1"].max_contracts_per_instrument.limits == {"NQ": Decimal(1)}
    assert config.rules["acct-2"].max_contracts_per_instrument.limits == {
        "ES": Decimal(3),
        "NQ": Decimal(2),
    }


def test_daily_reset_global_default_and_account_own(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.daily_reset == DailyReset()  # 17:00 America/Chicago when not given
    assert config.reset_for("acct-1") == DailyReset()
    assert config.reset_for("acct-2").time == "16:00"
    assert config.timezone_for("acct-1") == ZoneInfo("America/Chicago")
    accounts = "daily_reset: {time: 16:30, timezone: Europe/London}\n" + ACCOUNTS
    config = load(tmp_path, accounts=accounts)  # unquoted 16:30 is text, not base-60 990
    assert config.reset_for("acct-1") == DailyReset(time="16:30", timezone="Europe/London")
    assert config.reset_for("acct-2").timezone == "America/New_York"


def test_unknown_account_lookup_is_an_input_error(tmp_path: Path) -> None:
    config = load(tmp_path)
    for lookup in (config.reset_for, config.timezone_for, config.rules_for, config.account):
        with pytest.raises(UnknownAccount) as info:
            lookup("acct-9")
        assert str(info.value) == "unknown account 'acct-9'; accounts in the config: acct-1, acct-2"
        assert isinstance(info.value, InputError)
        assert isinstance(info.value, AlgoTradeError)


def test_empty_rules_file_means_built_in_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, rules="")
    assert config.defaults == RiskRules()
    assert config.rules == {"acct-1": RiskRules(), "acct-2": RiskRules()}
    config = load(tmp_path, rules="defaults:\n  max_contracts:\naccounts:\n")
    assert config.defaults == RiskRules()


def test_decimals_are_exact_and_ints_are_not_octal(tmp_path: Path) -> None:
    rules = (
        "defaults:\n  daily_realized_loss: {limit: 1000.10}\n  trade_frequency: {per_minute: 010}\n"
    )
    config = load(tmp_path, rules=rules)
    assert config.defaults.daily_realized_loss.limit == Decimal("1000.10")
    assert config.defaults.trade_frequency.per_minute == 10


# --------------------------------------------------------------------------- risk.yaml errors


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            "accounts:\n  acct-1:\n    daily_realized_loss: {limit: -5}\n",
            "risk.yaml: account 'acct-1': rule 'daily_realized_loss': field 'limit': "
            "Input should be greater than 0 (got -5)",
        ),
        (
            "defaults:\n  max_contracts: {mode: both}\n",
            "risk.yaml: rule 'max_contracts': field 'mode': Input should be 'net' or 'gross' "
            "(got 'both')",
        ),
        (
            "defaults:\n  max_contracts: {limt: 3}\n",
            "risk.yaml: rule 'max_contracts': unknown field 'limt'; "
            "valid fields: enabled, limit, mode",
        ),
        (
            "defaults:\n  max_contracts: {limt: 3, mode: both}\n",  # the unknown name first
            "risk.yaml: rule 'max_contracts': unknown field 'limt'; "
            "valid fields: enabled, limit, mode (and 1 more)",
        ),
        (
            "defaults:\n  max_contracts_per_instrument: {limits: {ES: lots}}\n",
            "risk.yaml: rule 'max_contracts_per_instrument': field 'limits.ES': "
            "Input should be a valid decimal number, e.g. 12.5 or \"12.5\" (got 'lots')",
        ),
        (
            "defaults:\n  session_hours: {holidays: [2024-12-25, xmas]}\n",
            "risk.yaml: rule 'session_hours': field 'holidays[1]': "
            "Input should be a valid date or datetime, input is too short (got 'xmas')",
        ),
        (
            "defaults:\n  session_hours: {windows: {mon: ['9-5']}}\n",
            "risk.yaml: rule 'session_hours': field 'windows': "
            "mon: window '9-5' is not HH:MM-HH:MM",
        ),
        (
            "defaults:\n  daily_realized_loss: 500\n",
            "risk.yaml: rule 'daily_realized_loss': expected a mapping of fields (got 500)",
        ),
        (
            "defaults: [max_contracts]\n",
            "risk.yaml: expected a mapping of rule names (got ['max_contracts'])",
        ),
        (
            "accounts:\n  acct-9:\n    max_contracts: {limit: 1}\n",
            "risk.yaml: account 'acct-9' is not in accounts.yaml; known accounts: acct-1, acct-2",
        ),
        (
            "accounts: [acct-1]\n",
            "risk.yaml: 'accounts' must map account ids to rules (got ['acct-1'])",
        ),
        ("accounts:\n  7: {}\n", "risk.yaml: account id 7 must be text; quote it"),
        ("defualts: {}\n", "risk.yaml: unknown key 'defualts'; valid keys: accounts, defaults"),
        ("- 1\n", "risk.yaml: expected a mapping with accounts, defaults"),
        # A bool is not a number, text is not a bool, an integer is not a date.
        (
            "defaults:\n  trade_frequency: {enabled: true, per_minute: true}\n",
            "risk.yaml: rule 'trade_frequency': field 'per_minute': "
            "Input should be a valid integer (got True)",
        ),
        (
            "accounts:\n  acct-2:\n    daily_realized_loss: {enabled: 'yes'}\n",
            "risk.yaml: account 'acct-2': rule 'daily_realized_loss': field 'enabled': "
            "Input should be a valid boolean (got 'yes')",
        ),
        # Defect: YAML 1.1 read a bare yes/on as true, so these passed as booleans.
        (
            "accounts:\n  acct-2:\n    daily_realized_loss: {enabled: yes}\n",
            "risk.yaml: account 'acct-2': rule 'daily_realized_loss': field 'enabled': "
            "Input should be a valid boolean (got 'yes')",
        ),
        (
            "defaults:\n  session_hours: {flatten_at_end: on}\n",
            "risk.yaml: rule 'session_hours': field 'flatten_at_end': "
            "Input should be a valid boolean (got 'on')",
        ),
        (
            "defaults:\n  session_hours: {flatten_at_end: 1}\n",
            "risk.yaml: rule 'session_hours': field 'flatten_at_end': "
            "Input should be a valid boolean (got 1)",
        ),
        (
            "defaults:\n  trade_frequency: {per_hour: 3.0}\n",
            "risk.yaml: rule 'trade_frequency': field 'per_hour': "
            "Input should be a valid integer (got 3.0)",
        ),
        (
            "defaults:\n  cooldown_after_loss: {cooldown_minutes: true}\n",
            "risk.yaml: rule 'cooldown_after_loss': field 'cooldown_minutes': "
            "Input should be a valid number (got True)",
        ),
        (
            "defaults:\n  no_stop_loss_grace: {grace_seconds: .inf}\n",
            "risk.yaml: rule 'no_stop_loss_grace': field 'grace_seconds': "
            "Input should be a valid number (got '.inf')",
        ),
        (
            "defaults:\n  session_hours: {holidays: [20240704]}\n",
            "risk.yaml: rule 'session_hours': field 'holidays[0]': "
            "Input should be a valid date (YYYY-MM-DD) (got 20240704)",
        ),
        # Numbers are bounded.
        (
            "defaults:\n  daily_realized_loss: {limit: 1e999999}\n",
            "risk.yaml: rule 'daily_realized_loss': field 'limit': "
            "expected a magnitude below 1e15, got 1E+999999",
        ),
        (
            "defaults:\n  max_contracts_per_instrument: {limits: {ES: 0.0000000000001}}\n",
            "risk.yaml: rule 'max_contracts_per_instrument': field 'limits.ES': "
            "expected at most 12 decimal places, got 1E-13",
        ),
        (
            "defaults:\n  cooldown_after_loss: {cooldown_minutes: 1e300}\n",
            "risk.yaml: rule 'cooldown_after_loss': field 'cooldown_minutes': "
            "Input should be less than or equal to 527040 (got 1e+300)",
        ),
        (
            "defaults:\n  trade_frequency: {per_session: 10000000000}\n",
            "risk.yaml: rule 'trade_frequency': field 'per_session': "
            "Input should be less than or equal to 1000000000 (got 10000000000)",
        ),
    ],
)
def test_rules_file_errors(tmp_path: Path, rules: str, expected: str) -> None:
    assert error(tmp_path, rules=rules) == expected


@pytest.mark.parametrize("where", ["defaults", "accounts.acct-2"])
def test_unknown_rule_lists_valid_rules(tmp_path: Path, where: str) -> None:
    if where == "defaults":
        rules = "defaults:\n  max_contract: {limit: 1}\n"
        prefix = "risk.yaml"
    else:
        rules = "accounts:\n  acct-2:\n    max_contract: {limit: 1}\n"
        prefix = "risk.yaml: account 'acct-2'"
    assert error(tmp_path, rules=rules) == (
        f"{prefix}: unknown rule 'max_contract'; valid rules: {', '.join(RULE_NAMES)}"
    )


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    rules = "defaults:\n  max_contracts:\n    enabled: true\n    limit: [3\n  x: 1\n"
    message = error(tmp_path, rules=rules)
    assert message.startswith("risk.yaml line 5: ")
    message = error(tmp_path, rules="defaults:\n  a: 1\n  b: c: d\n")
    assert message.startswith("risk.yaml line 3: mapping values are not allowed here")


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    rules = "accounts:\n  acct-1: {}\n  acct-2: {}\n  acct-1: {}\n"
    assert error(tmp_path, rules=rules).startswith("risk.yaml line 4: ")
    assert "duplicate key 'acct-1'" in error(tmp_path, rules=rules)


def test_missing_files(tmp_path: Path) -> None:
    (tmp_path / "risk.yaml").write_text(RULES, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^risk config file not found: .*x\.yaml$"):
        load_risk_config(tmp_path / "x.yaml", tmp_path / "risk.yaml")
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^risk config file not found: .*nope\.yaml$"):
        load_risk_config(tmp_path / "accounts.yaml", tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_risk_config(tmp_path, tmp_path / "risk.yaml")


def test_config_error_is_an_input_error() -> None:
    assert issubclass(ConfigError, InputError)  # the CLI prints it and exits 2


# --------------------------------------------------------------------------- accounts.yaml errors


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        (
            ACCOUNTS + "  - venue: paper\n",
            "accounts.yaml: accounts[2]: field 'id': Field required",
        ),
        (
            ACCOUNTS + "  - id: 'bad id'\n",
            "accounts.yaml: accounts[2]: field 'id': String should match pattern "
            "'^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' (got 'bad id')",
        ),
        (
            ACCOUNTS + "  - id: acct-1\n",
            "accounts.yaml: accounts[2]: duplicate account id 'acct-1'",
        ),
        (
            "accounts:\n  - {id: acct-1, starting_balance: -1}\n",
            "accounts.yaml: account 'acct-1': field 'starting_balance': "
            "Input should be greater than or equal to 0 (got -1)",
        ),
        (
            "accounts:\n  - {id: acct-1, timezone: Mars/Olympus}\n",
            "accounts.yaml: account 'acct-1': field 'timezone': unknown timezone 'Mars/Olympus'",
        ),
        (
            "accounts:\n  - {id: acct-1, brokr: x}\n",
            "accounts.yaml: account 'acct-1': unknown field 'brokr'; valid fields: id, venue, "
            "timezone, credentials_env, starting_balance, daily_reset, multipliers, watch",
        ),
        (
            "accounts:\n  - {id: acct-1, daily_reset: {time: '25:00'}}\n",
            "accounts.yaml: account 'acct-1': field 'daily_reset': "
            "time '25:00' is not a valid HH:MM",
        ),
        (
            "daily_reset: {time: '5pm'}\naccounts:\n  - {id: acct-1}\n",
            "accounts.yaml: daily_reset: field 'time': String should match pattern "
            "'^\\d{2}:\\d{2}$' (got '5pm')",
        ),
        (
            "daily_reset: {time: '17:00', timezone: Nowhere/Land}\naccounts:\n  - {id: a}\n",
            "accounts.yaml: daily_reset: unknown timezone 'Nowhere/Land'",
        ),
        ("daily_reset: {}\n", "accounts.yaml: field 'accounts': Field required"),
        (
            "accounts: []\n",
            "accounts.yaml: field 'accounts': expected a non-empty list of accounts (got [])",
        ),
        (
            "accounts:\n  - acct-1\n",
            "accounts.yaml: accounts[0]: expected a mapping (got 'acct-1')",
        ),
        (
            "acounts: []\n",
            "accounts.yaml: unknown key 'acounts'; valid keys: accounts, daily_reset",
        ),
        ("", "accounts.yaml: expected a mapping with accounts, daily_reset"),
        (
            "accounts:\n  - {id: acct-1, starting_balance: 1e20}\n",
            "accounts.yaml: account 'acct-1': field 'starting_balance': "
            "expected a magnitude below 1e15, got 1E+20",
        ),
        (
            "accounts:\n  - {id: acct-1, multipliers: {ES: true}}\n",
            "accounts.yaml: account 'acct-1': field 'multipliers.ES': "
            "Decimal input should be an integer, float, string or Decimal object (got True)",
        ),
    ],
)
def test_accounts_file_errors(tmp_path: Path, accounts: str, expected: str) -> None:
    assert error(tmp_path, accounts=accounts) == expected


@pytest.mark.parametrize(
    "credentials",
    ["{api_key: sk-live-9f8e7d6c5b4a}", "{api_key: 12345}", "sk-live-9f8e7d6c5b4a"],
)
def test_a_pasted_secret_is_refused_and_never_echoed(tmp_path: Path, credentials: str) -> None:
    accounts = f"accounts:\n  - id: acct-1\n    credentials_env: {credentials}\n"
    message = error(tmp_path, accounts=accounts)
    assert message.startswith("accounts.yaml: account 'acct-1': field 'credentials_env")
    assert "environment variable" in message
    assert "9f8e7d6c5b4a" not in message
    assert "12345" not in message


# --------------------------------------------------------------------------- rules_from_dict


def test_rules_from_dict_for_an_api_request() -> None:
    base = RiskRules.model_validate({"daily_realized_loss": {"enabled": True}})
    rules = rules_from_dict({"daily_realized_loss": {"limit": "750.50"}}, "request", base=base)
    assert rules.daily_realized_loss.enabled
    assert rules.daily_realized_loss.limit == Decimal("750.50")
    assert rules_from_dict(None, "request") == RiskRules()
    assert rules_from_dict({"max_contracts": None}, "request", base=base) == base


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"daily_realized_loss": {"limit": -5}},
            "request: rule 'daily_realized_loss': field 'limit': "
            "Input should be greater than 0 (got -5)",
        ),
        ({"nope": {}}, f"request: unknown rule 'nope'; valid rules: {', '.join(RULE_NAMES)}"),
        ("limit=5", "request: expected a mapping of rule names (got 'limit=5')"),
        (
            {"trade_frequency": {"per_minute": 0}},
            "request: rule 'trade_frequency': field 'per_minute': "
            "Input should be greater than or equal to 1 (got 0)",
        ),
    ],
)
def test_rules_from_dict_errors(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        rules_from_dict(data, "request")
    assert str(info.value) == expected


def test_rules_from_dict_names_the_account() -> None:
    with pytest.raises(ConfigError, match=r"^request: account 'acct-1': rule 'max_contracts'"):
        rules_from_dict({"max_contracts": {"limit": 0}}, "request", account="acct-1")


# --------------------------------------------------------------------------- credentials


def test_resolve_credentials_reads_named_variables() -> None:
    account = AccountConfig(id="acct-1", credentials_env={"key": "A_KEY", "secret": "A_SECRET"})
    env = {"A_KEY": "k-123", "A_SECRET": "s-456", "OTHER": "x"}
    assert resolve_credentials(account, env) == {"key": "k-123", "secret": "s-456"}
    assert resolve_credentials(AccountConfig(id="acct-2"), {}) == {}


def test_missing_credentials_name_the_variables_never_values() -> None:
    account = AccountConfig(id="acct-1", credentials_env={"key": "A_KEY", "secret": "A_SECRET"})
    with pytest.raises(ConfigError) as info:
        resolve_credentials(account, {"A_KEY": "k-123", "A_SECRET": ""})
    assert str(info.value) == (
        "account 'acct-1': environment variable not set or empty: A_SECRET (credential 'secret')"
    )
    with pytest.raises(ConfigError) as info:
        resolve_credentials(account, {})
    assert "A_KEY (credential 'key'), A_SECRET (credential 'secret')" in str(info.value)
    assert "k-123" not in str(info.value)


@pytest.mark.parametrize(
    ("rule", "body"),
    [
        ("max_contracts_per_instrument", {"limits": {"\u0000": 1}}),
        ("max_contracts_per_instrument", {"limits": {"E S": 1}}),
        ("symbol_blocklist", {"symbols": ["BTC\n"]}),
    ],
)
def test_rule_symbols_are_printable_names(rule: str, body: dict[str, object]) -> None:
    """A NUL in a rule's symbol was accepted by PUT /api/risk/rules (and would fail the audit
    write on PostgreSQL)."""
    from pydantic import ValidationError

    from algotrade.risk.rules_config import MaxContractsPerInstrument, SymbolBlocklist

    model = {"max_contracts_per_instrument": MaxContractsPerInstrument}.get(rule, SymbolBlocklist)
    with pytest.raises(ValidationError, match="expected letters, digits"):
        model.model_validate(body)
