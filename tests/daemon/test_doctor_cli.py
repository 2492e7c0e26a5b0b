"""``algotrade doctor`` as a process: the report's lines, the summary and the exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testkit.daemon_process import free_port


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # No ALGOTRADE_* variable of the developer's shell: only what the test gives.
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("ALGOTRADE")}
    return subprocess.run(
        [sys.executable, "-m", "algotrade", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        check=False,
    )


def test_a_healthy_install_exits_0_and_warnings_do_not_fail_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[api]\nport = {free_port()}\n")
    data = tmp_path / "data"
    done = doctor("--config", str(config), "--data-dir", str(data))
    assert done.returncode == 0, done
    report = done.stdout.splitlines()
    assert [line.split()[0] for line in report[:-1]] == ["ok"] * 8
    assert [line.split(":")[0].split(None, 1)[1] for line in report[:-1]] == [
        "config",
        "secrets",
        "data dir",
        "log dir",
        "disk",
        "database",
        "port",
        "venues",
    ]
    assert report[-1] == "all 8 checks ok"
    assert not data.exists()  # doctor only looks

    data.mkdir(mode=0o755)
    data.chmod(0o755)
    warned = doctor("--config", str(config), "--data-dir", str(data))
    assert warned.returncode == 0, warned
    assert f"warn  data dir: {data} is open to group/others" in warned.stdout
    assert warned.stdout.splitlines()[-1] == "0 FAIL, 1 warn, 7 ok"


def test_failures_exit_1_with_what_to_fix(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("admin:" + "k" * 32)
    keys.chmod(0o644)
    config = tmp_path / "config.toml"
    closed = f"http://127.0.0.1:{free_port()}"
    config.write_text(f'[api]\nport = {free_port()}\n[venues.bybit]\nrest_url = "{closed}"\n')
    done = doctor(
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        "--timeout",
        "1",
        env={"ALGOTRADE_API_KEYS_FILE": str(keys)},
    )
    assert done.returncode == 1, done
    # A world-readable secret stops the daemon's own loading: the config check says so.
    assert done.stdout.splitlines()[0].startswith(
        f"FAIL  config: ALGOTRADE_API_KEYS_FILE: {keys} is readable by others"
    )
    assert f"FAIL  secrets: ALGOTRADE_API_KEYS_FILE: {keys} is readable by group/others" in (
        done.stdout
    )
    assert "k" * 32 not in done.stdout + done.stderr

    keys.chmod(0o600)
    done = doctor(
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        "--timeout",
        "1",
        env={"ALGOTRADE_API_KEYS_FILE": str(keys)},
    )
    assert done.returncode == 1, done
    assert f"FAIL  venue bybit: {closed} unreachable" in done.stdout
    assert done.stdout.splitlines()[-1] == "1 FAIL, 0 warn, 7 ok"  # no clock line without an answer


def test_a_bad_config_is_its_error_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api]\nport = 70000\n")
    done = doctor("--config", str(config))
    assert done.returncode == 1, done
    assert done.stdout.splitlines() == [
        f"FAIL  config: {config}: api.port: Input should be less than or equal to 65535 "
        "(got 70000); fix: correct the setting named above (docs/configuration.md); the other "
        "checks need a valid configuration",
        "ok    secrets: no secret files configured",
        "1 FAIL, 0 warn, 1 ok",
    ]


def test_a_config_the_daemon_would_refuse_at_start_fails_the_config_check(
    tmp_path: Path,
) -> None:
    # The settings load, but a [[bots]] entry names an account accounts.yaml does not have:
    # the daemon refuses this at start, so doctor must not call it valid.
    repo = Path(__file__).resolve().parents[2]
    config = tmp_path / "config.toml"
    config.write_text(
        "[risk]\n"
        f'accounts_file = "{repo / "examples/risk/accounts.yaml"}"\n'
        f'rules_file = "{repo / "examples/risk/risk.yaml"}"\n'
        "[[bots]]\n"
        'bot_id = "b"\nsymbol = "SIM-BTC"\nstrategy = "ma_crossover"\n'
    )
    done = doctor("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1, done
    assert done.stdout.splitlines()[0] == (
        f"FAIL  config: {config}: bots[0] (bot_id 'b'): account_id: unknown account 'paper' "
        "(accounts.yaml has: acct-1, acct-2); fix: correct the setting named above "
        "(docs/configuration.md); the other checks need a valid configuration"
    )


def test_a_public_address_without_api_keys_fails_the_config_check(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[api]\nhost = "0.0.0.0"\n')
    done = doctor("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1, done
    assert done.stdout.startswith(
        "FAIL  config: api.host: refusing to listen on 0.0.0.0 without API keys"
    )
