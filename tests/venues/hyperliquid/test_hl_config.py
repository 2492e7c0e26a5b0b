"""Hyperliquid settings and credentials: URLs per network, credentials only from the
environment or a private secrets file, clear errors that never echo the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_account import Account

from algotrade.core.errors import ConfigError
from algotrade.venues.hyperliquid.config import (
    ENV_ACCOUNT_ADDRESS,
    ENV_PRIVATE_KEY,
    ENV_SECRETS_FILE,
    HlNetwork,
    HyperliquidConfig,
    load_credentials,
)

KEY = Account.create()
ADDRESS = "0x" + "ab" * 20


def test_urls_follow_the_network_unless_given() -> None:
    assert HyperliquidConfig().base_url == "https://api.hyperliquid.xyz"
    assert HyperliquidConfig().websocket_url == "wss://api.hyperliquid.xyz/ws"
    testnet = HyperliquidConfig(network=HlNetwork.TESTNET)
    assert testnet.base_url == "https://api.hyperliquid-testnet.xyz"
    assert not testnet.is_mainnet
    local = HyperliquidConfig(api_url="http://127.0.0.1:9/")
    assert (local.base_url, local.websocket_url) == ("http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    assert HyperliquidConfig(ws_url="ws://x/ws").websocket_url == "ws://x/ws"


def test_ping_interval_stays_under_the_servers_idle_limit() -> None:
    with pytest.raises(ValueError, match="ping_interval_s"):
        HyperliquidConfig(ping_interval_s=55)


def test_no_credentials_means_market_data_only() -> None:
    assert load_credentials(HyperliquidConfig(), {}) is None


def test_credentials_from_the_environment() -> None:
    env = {ENV_ACCOUNT_ADDRESS: ADDRESS.upper().replace("0X", "0x"), ENV_PRIVATE_KEY: KEY.key.hex()}
    credentials = load_credentials(HyperliquidConfig(), env)
    assert credentials is not None
    assert credentials.account_address == ADDRESS
    assert credentials.signer_address == KEY.address
    assert KEY.key.hex() not in repr(credentials)
    assert KEY.key.hex() not in str(credentials)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({ENV_ACCOUNT_ADDRESS: ADDRESS}, ENV_PRIVATE_KEY),
        ({ENV_PRIVATE_KEY: "0x" + "11" * 32}, ENV_ACCOUNT_ADDRESS),
        ({ENV_ACCOUNT_ADDRESS: "0x1234", ENV_PRIVATE_KEY: "0x" + "11" * 32}, "account_address"),
        ({ENV_ACCOUNT_ADDRESS: ADDRESS, ENV_PRIVATE_KEY: "0xnothex-secret"}, "private_key"),
    ],
)
def test_bad_environment_credentials_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        load_credentials(HyperliquidConfig(), env)
    assert "nothex-secret" not in str(caught.value)


def test_credentials_from_a_private_secrets_file(tmp_path: Path) -> None:
    path = tmp_path / "hl.toml"
    path.write_text(f'account_address = "{ADDRESS}"\nprivate_key = "{KEY.key.hex()}"\n')
    path.chmod(0o600)
    from_setting = load_credentials(HyperliquidConfig(secrets_file=path), {})
    from_env = load_credentials(HyperliquidConfig(), {ENV_SECRETS_FILE: str(path)})
    assert from_setting == from_env
    assert from_setting is not None
    assert from_setting.signer_address == KEY.address


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_secrets_files_readable_by_others_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "hl.toml"
    path.write_text(f'account_address = "{ADDRESS}"\nprivate_key = "{KEY.key.hex()}"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by others .*chmod 600"):
        load_credentials(HyperliquidConfig(secrets_file=path), {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("account_address = [", "not valid TOML"),
        (f'account_address = "{ADDRESS}"\n', "'private_key' is missing"),
    ],
)
def test_bad_secrets_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hl.toml"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=message) as caught:
        load_credentials(HyperliquidConfig(secrets_file=path), {})
    assert str(path) in str(caught.value)
    with pytest.raises(ConfigError, match="not found"):
        load_credentials(HyperliquidConfig(secrets_file=tmp_path / "missing.toml"), {})
