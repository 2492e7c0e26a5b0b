"""NAME_FILE variables stand for the daemon's settings variables and ALGOTRADE_API_KEYS."""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrade.core.errors import ConfigError
from algotrade.daemon.secret_env import with_secret_files


def secret(path: Path, text: str, mode: int = 0o600) -> str:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return str(path)


def test_settings_and_api_key_files_become_their_variables(tmp_path: Path) -> None:
    env = {
        "ALGOTRADE__DATABASE__URL_FILE": secret(tmp_path / "db", "postgresql://u:pw@h/db\n"),
        "ALGOTRADE_API_KEYS_FILE": secret(tmp_path / "keys", "admin:0123456789abcdef0123\n"),
        "PATH": "/usr/bin",
    }
    expanded = with_secret_files(env)
    assert expanded == {
        "ALGOTRADE__DATABASE__URL": "postgresql://u:pw@h/db",
        "ALGOTRADE_API_KEYS": "admin:0123456789abcdef0123",
        "PATH": "/usr/bin",
    }


def test_other_file_variables_are_left_to_their_owners(tmp_path: Path) -> None:
    env = {"ALGOTRADE_BYBIT_API_SECRET_FILE": "/nowhere", "ALGOTRADE___FILE": "/x", "X_FILE": "y"}
    assert with_secret_files(env) == env


def test_a_rotated_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    env = {"ALGOTRADE_API_KEYS_FILE": secret(path, "admin:first-key-0123456789")}
    assert with_secret_files(env)["ALGOTRADE_API_KEYS"] == "admin:first-key-0123456789"
    secret(path, "admin:second-key-0123456789")
    assert with_secret_files(env)["ALGOTRADE_API_KEYS"] == "admin:second-key-0123456789"


@pytest.mark.parametrize(
    ("make_env", "expected"),
    [
        (
            lambda p: {
                "ALGOTRADE_API_KEYS": "admin:0123456789abcdef",
                "ALGOTRADE_API_KEYS_FILE": secret(p / "k", "admin:0123456789abcdef"),
            },
            "both ALGOTRADE_API_KEYS and ALGOTRADE_API_KEYS_FILE are set; use one",
        ),
        (
            lambda p: {"ALGOTRADE__DATABASE__URL_FILE": str(p / "missing")},
            "ALGOTRADE__DATABASE__URL_FILE: ",
        ),
        (
            lambda p: {"ALGOTRADE__DATABASE__URL_FILE": secret(p / "db", "sqlite://", 0o644)},
            "is readable by others (mode 644); chmod 600 it",
        ),
        (
            lambda p: {"ALGOTRADE__DATABASE__URL_FILE": secret(p / "db", "  \n")},
            "is empty",
        ),
    ],
)
def test_bad_secret_files_are_one_line_errors_without_the_value(
    tmp_path: Path, make_env, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        with_secret_files(make_env(tmp_path))
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message
    assert "0123456789abcdef" not in message
