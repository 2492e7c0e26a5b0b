"""What the daemon checks before it takes its data directory: the settings' consequences that
``load_settings`` alone cannot see.

The API keys (their sources and their format), the risk files, every ``[[bots]]`` entry (as a
create would check it, against the accounts of ``accounts.yaml``) and the bind address (no
public address without keys). ``algotrade daemon`` stops on the first error here, and
``algotrade doctor`` runs the same function, so a config that doctor calls valid is one the
daemon starts with.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from algotrade.api.auth import ApiKeys
from algotrade.core.errors import ConfigError
from algotrade.daemon.bot_checks import check_configured_bots
from algotrade.daemon.settings import DaemonSettings
from algotrade.risk.config_loader import RiskConfig, load_risk_config


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the checks loaded, for the daemon to run with."""

    keys: ApiKeys
    risk: RiskConfig | None


def preflight(settings: DaemonSettings, env: Mapping[str, str]) -> Preflight:
    """Every start-up check that needs no data directory; ``AlgoTradeError`` (one line) on the
    first problem. ``env`` has its ``*_FILE`` variables expanded already."""
    keys = ApiKeys.from_sources(env, settings.api.keys_file)
    risk = load_risk(settings)
    check_configured_bots(settings, risk.accounts if risk is not None else None)
    check_bind(settings.api.host, keys)
    return Preflight(keys, risk)


def load_risk(settings: DaemonSettings) -> RiskConfig | None:
    risk = settings.risk
    if risk.accounts_file is None or risk.rules_file is None:
        return None
    return load_risk_config(risk.accounts_file, risk.rules_file)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: ApiKeys) -> None:
    if not keys.enabled and not is_loopback(host):
        raise ConfigError(
            f"api.host: refusing to listen on {host} without API keys; configure keys "
            "(ALGOTRADE_API_KEYS or api.keys_file) or bind to 127.0.0.1"
        )
