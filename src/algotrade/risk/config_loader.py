"""Load ``accounts.yaml`` (accounts, daily reset) and ``risk.yaml`` (rule defaults, overrides).

Every problem is a :class:`~algotrade.core.errors.ConfigError` of one line naming the file,
the account (if any), the rule and the field, e.g.
``risk.yaml: account 'acct-1': rule 'daily_realized_loss': field 'limit': Input should be
greater than 0 (got -5)``. ``docs/risk-config.md`` documents both formats.

YAML is read with two changes from PyYAML's YAML 1.1 defaults: ``17:00`` is the text
``"17:00"`` (not the base-60 integer 1020) and decimals such as ``0.1`` become exact
``Decimal`` values. Duplicate mapping keys are errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from algotrade.core.errors import ConfigError
from algotrade.risk.errors import UnknownAccount
from algotrade.risk.rules_config import AccountConfig, DailyReset, RiskRules

__all__ = [
    "RULE_NAMES",
    "RiskConfig",
    "load_risk_config",
    "resolve_credentials",
    "rules_from_dict",
]

RULE_NAMES: tuple[str, ...] = tuple(RiskRules.model_fields)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_ACCOUNTS_KEYS = ("accounts", "daily_reset")
_RISK_KEYS = ("accounts", "defaults")


@dataclass(frozen=True)
class RiskConfig:
    """Accounts and the effective rules of each (defaults deep-merged with its overrides)."""

    accounts: dict[str, AccountConfig]
    rules: dict[str, RiskRules]
    defaults: RiskRules
    daily_reset: DailyReset  # the global default; an account's own ``daily_reset`` wins

    def account(self, account_id: str) -> AccountConfig:
        try:
            return self.accounts[account_id]
        except KeyError:
            known = ", ".join(self.accounts)
            raise UnknownAccount(
                f"unknown account {account_id!r}; accounts in the config: {known}"
            ) from None

    def rules_for(self, account_id: str) -> RiskRules:
        self.account(account_id)
        return self.rules[account_id]

    def reset_for(self, account_id: str) -> DailyReset:
        """The account's own daily reset, else the global one."""
        return self.account(account_id).daily_reset or self.daily_reset

    def timezone_for(self, account_id: str) -> ZoneInfo:
        """The account's ``timezone`` (reporting); its trading day ends at ``reset_for``."""
        return ZoneInfo(self.account(account_id).timezone)


# ---------------------------------------------------------------------------------------------
# public entry points


def load_risk_config(accounts_path: Path, rules_path: Path) -> RiskConfig:
    """Read and validate both files; see ``docs/risk-config.md``."""
    accounts, daily_reset = _parse_accounts(_read_yaml(accounts_path), accounts_path.name)
    source = rules_path.name
    data = _read_yaml(rules_path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with {_keys(_RISK_KEYS)}")
    _check_keys(data, _RISK_KEYS, source, "key")
    defaults = rules_from_dict(data.get("defaults"), source)
    overrides = data.get("accounts")
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise ConfigError(
            f"{source}: 'accounts' must map account ids to rules (got {_show(overrides)})"
        )
    for account_id in overrides:
        if not isinstance(account_id, str):
            raise ConfigError(f"{source}: account id {account_id!r} must be text; quote it")
        if account_id not in accounts:
            raise ConfigError(
                f"{source}: account {account_id!r} is not in {accounts_path.name}; "
                f"known accounts: {', '.join(accounts) or '(none)'}"
            )
    rules = {
        account_id: rules_from_dict(
            overrides.get(account_id), source, base=defaults, account=account_id
        )
        for account_id in accounts
    }
    return RiskConfig(accounts=accounts, rules=rules, defaults=defaults, daily_reset=daily_reset)


def rules_from_dict(
    data: object,
    source: str,
    *,
    base: RiskRules | None = None,
    account: str | None = None,
) -> RiskRules:
    """``{rule: {param: value}}`` merged over ``base`` (built-in defaults when None).

    The merge is per parameter: a rule's parameters not given keep ``base``'s values; a
    parameter given replaces ``base``'s value whole (maps and lists are not merged).
    ``source`` starts every error message ("risk.yaml", "request").
    """
    where = f"{source}: account {account!r}" if account is not None else source
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of rule names (got {_show(data)})")
    merged = (base or RiskRules()).model_dump()
    for rule, params in data.items():
        if rule not in RULE_NAMES:
            raise ConfigError(
                f"{where}: unknown rule {_show(rule)}; valid rules: {', '.join(RULE_NAMES)}"
            )
        if params is None:
            continue
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"{where}: rule {rule!r}: expected a mapping of fields (got {_show(params)})"
            )
        merged[rule] = {**merged[rule], **params}
    try:
        return RiskRules.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc, RiskRules, rule_level=True)}") from None


def resolve_credentials(account: AccountConfig, env: Mapping[str, str]) -> dict[str, str]:
    """``{credential: value}`` read from the environment variables the account names.

    A variable that is unset or empty is a ConfigError naming the account and the
    variable; values never appear in messages.
    """
    missing = [
        f"{name} (credential {key!r})"
        for key, name in account.credentials_env.items()
        if not env.get(name)
    ]
    if missing:
        raise ConfigError(
            f"account {account.id!r}: environment variable not set or empty: {', '.join(missing)}"
        )
    return {key: env[name] for key, name in account.credentials_env.items()}


# ---------------------------------------------------------------------------------------------
# accounts.yaml


def _parse_accounts(data: object, source: str) -> tuple[dict[str, AccountConfig], DailyReset]:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with {_keys(_ACCOUNTS_KEYS)}")
    _check_keys(data, _ACCOUNTS_KEYS, source, "key")
    raw_reset = data.get("daily_reset")
    try:
        daily_reset = DailyReset.model_validate({} if raw_reset is None else raw_reset)
    except ValidationError as exc:
        raise ConfigError(f"{source}: daily_reset: {_describe(exc, DailyReset)}") from None
    entries = data.get("accounts")
    if entries is None:
        raise ConfigError(f"{source}: field 'accounts': Field required")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{source}: field 'accounts': expected a non-empty list of accounts "
            f"(got {_show(entries)})"
        )
    accounts: dict[str, AccountConfig] = {}
    for index, entry in enumerate(entries):
        account = _parse_account(entry, f"{source}: accounts[{index}]", source)
        if account.id in accounts:
            raise ConfigError(f"{source}: accounts[{index}]: duplicate account id {account.id!r}")
        accounts[account.id] = account
    return accounts, daily_reset


def _parse_account(entry: object, where: str, source: str) -> AccountConfig:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping (got {_show(entry)})")
    account_id = entry.get("id")
    if isinstance(account_id, str) and _ACCOUNT_ID.fullmatch(account_id):
        where = f"{source}: account {account_id!r}"  # else the error names the index
    _check_credentials(entry.get("credentials_env"), where)
    try:
        account = AccountConfig.model_validate(entry)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc, AccountConfig)}") from None
    try:
        ZoneInfo(account.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: field 'timezone': unknown timezone {account.timezone!r}"
        ) from None
    return account


def _check_credentials(value: object, where: str) -> None:
    """Checked before pydantic so that no message can echo a secret pasted by mistake."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: field 'credentials_env': expected a mapping of credential name to "
            "environment variable NAME"
        )
    for key, name in value.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: field 'credentials_env.{key}': must be the NAME of an environment "
                "variable (A-Z, 0-9, _), never the secret itself"
            )


# ---------------------------------------------------------------------------------------------
# YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader without base-60 numbers and with exact decimals; duplicate keys fail; only
    ``true``/``false`` are booleans (YAML 1.2): a bare ``yes``, ``no``, ``on`` or ``off`` stays
    text, so ``enabled: yes`` is refused as the docs say and ``symbols: [ON, NO]`` are symbols."""


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regex) for tag, regex in resolvers if tag not in (_INT_TAG, _FLOAT_TAG, _BOOL_TAG)
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?[0-9][0-9_]*$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    return int(str(loader.construct_scalar(node)).replace("_", ""))  # type: ignore[arg-type]


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))  # type: ignore[arg-type]


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.Node) -> dict[Any, Any]:
    assert isinstance(node, yaml.MappingNode)
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor(_INT_TAG, _construct_int)
_Loader.add_constructor(_FLOAT_TAG, _construct_decimal)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"risk config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"risk config file {path} is a directory") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"risk config file {path} cannot be read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ": ".join(part for part in (exc.context, exc.problem) if part)
        line = f" line {mark.line + 1}" if mark is not None else ""
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(_one_line(f"{path.name}{line}: {problem}{column}")) from None
    except yaml.YAMLError as exc:
        raise ConfigError(_one_line(f"{path.name}: {exc}")) from None


# ---------------------------------------------------------------------------------------------
# messages


def _describe(exc: ValidationError, model: type[BaseModel], *, rule_level: bool = False) -> str:
    """The first error (unknown fields first) as ``rule 'r': field 'f': message (got x)``."""
    errors = sorted(exc.errors(include_url=False), key=lambda err: err["type"] != "extra_forbidden")
    first = errors[0]
    loc = list(first["loc"])
    prefix = ""
    owner: type[BaseModel] = model
    if rule_level and loc:
        rule = str(loc.pop(0))
        prefix = f"rule {rule!r}: "
        annotation = RiskRules.model_fields[rule].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            owner = annotation
    field = _path(loc)
    if first["type"] == "extra_forbidden":
        owner = _nested(owner, loc[:-1])
        text = f"unknown field {field!r}; valid fields: {', '.join(owner.model_fields)}"
    else:
        message = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        secret = bool(loc) and loc[0] == "credentials_env"
        shown = first["type"] not in ("missing", "value_error") and loc and not secret
        text = f"{message} (got {_show(first['input'])})" if shown else message
        if field:
            text = f"field {field!r}: {text}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return _one_line(prefix + text)


def _nested(model: type[BaseModel], loc: list[int | str]) -> type[BaseModel]:
    """The model a nested field belongs to (``watch.acount`` → the ``watch`` model)."""
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return model
        inner = [field.annotation, *get_args(field.annotation)]
        found = [t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)]
        if not found:
            return model
        model = found[0]
    return model


def _path(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check_keys(data: dict[Any, Any], valid: tuple[str, ...], source: str, what: str) -> None:
    for key in data:
        if key not in valid:
            raise ConfigError(
                f"{source}: unknown {what} {_show(key)}; valid {what}s: {_keys(valid)}"
            )


def _keys(keys: tuple[str, ...]) -> str:
    return ", ".join(keys)


def _show(value: object) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())
