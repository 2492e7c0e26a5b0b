"""Acceptance: kill -9 while an account is locked → restart → still locked, orders rejected
with the rule named; a trader cannot unlock; an admin unlock lands in the audit log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess, wait_until

pytestmark = pytest.mark.slow

ACCOUNTS = """
daily_reset: {time: "17:00", timezone: America/Chicago}
accounts:
  - id: acct
    venue: paper
    starting_balance: 100000
"""
RULES = """
defaults:
  daily_realized_loss: {enabled: true, limit: 0.01}
  account_status_guard: {enabled: true}
"""


def write_config(tmp_path: Path) -> Path:
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    (tmp_path / "risk.yaml").write_text(RULES)
    config = tmp_path / "daemon.toml"
    config.write_text(
        f'[risk]\naccounts_file = "{tmp_path / "accounts.yaml"}"\n'
        f'rules_file = "{tmp_path / "risk.yaml"}"\ntick_interval_s = 0.2\n'
    )
    return config


def daemon(tmp_path: Path, config: Path, port: int | None = None) -> DaemonProcess:
    return DaemonProcess(
        tmp_path / "data",
        port,
        "--config",
        str(config),
        env={"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"},
        api_key=ADMIN_KEY,
    )


def active_lockouts(d: DaemonProcess) -> list[dict]:
    return d.ok("GET", "/api/risk/lockouts?account_id=acct&active_only=true")["items"]


def test_lockout_survives_kill_and_blocks_bot_orders(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = daemon(tmp_path, config).start()
    try:
        first.ok(
            "POST",
            "/api/bots",
            json={
                "bot_id": "loser",
                "symbol": "SIM-L",
                "strategy": "ma_crossover",
                "params": {"fast": 2, "slow": 4},
                "feed_options": {"seed": 9, "tick_seconds": 0.02, "volatility": 0.01},
                "account_id": "acct",
                "commission": "0.001",
                "initial_capital": "100000",
            },
        )
        first.ok("PUT", "/api/bots/loser/start")
        wait_until(lambda: bool(active_lockouts(first)), 60, "the daily loss lockout")
        (lock,) = active_lockouts(first)
        assert lock["rule"] == "daily_realized_loss"
        log = first.ok("GET", "/api/risk/enforcements?account_id=acct")["items"]
        assert {"breach", "lockout", "enforcement"} <= {line["kind"] for line in log}
    finally:
        first.kill()  # SIGKILL while locked

    second = daemon(tmp_path, config, first.port).start()
    try:
        (lock,) = active_lockouts(second)
        assert lock["rule"] == "daily_realized_loss"
        account = second.ok("GET", "/api/risk/accounts/acct")
        assert [item["rule"] for item in account["lockouts"]] == ["daily_realized_loss"]
        before = second.ok("GET", "/api/bots/loser/orders?limit=1")["total"]
        second.ok("PUT", "/api/bots/loser/start")

        def rejected_by_rule() -> bool:
            orders = second.all_pages("/api/bots/loser/orders")[before:]
            return any(
                o["status"] == "rejected" and "daily_realized_loss" in o["reason"] for o in orders
            )

        wait_until(rejected_by_rule, 60, "a bot order rejected by daily_realized_loss")
        new_orders = second.all_pages("/api/bots/loser/orders")[before:]
        opening = [o for o in new_orders if not o["reduce_only"]]
        assert opening
        assert all(o["status"] == "rejected" for o in opening)

        trader = httpx.post(
            f"{second.url}/api/risk/accounts/acct/unlock",
            headers={"X-API-Key": TRADER_KEY},
            json={"reason": "let me trade"},
            timeout=10,
        )
        assert trader.status_code == 403
        rules = httpx.put(
            f"{second.url}/api/risk/rules",
            headers={"X-API-Key": TRADER_KEY},
            json={"rules": {"daily_realized_loss": {"limit": 1000000}}},
            timeout=10,
        )
        assert rules.status_code == 403
        assert active_lockouts(second)

        done = second.ok("POST", "/api/risk/accounts/acct/unlock", json={"reason": "reviewed"})
        assert done["cleared"] == ["daily_realized_loss"]
        assert active_lockouts(second) == []
        audit = second.ok("GET", "/api/risk/audit")["items"]
        assert any(
            entry["action"] == "unlock"
            and entry["account_id"] == "acct"
            and entry["details"]["reason"] == "reviewed"
            for entry in audit
        )
    except BaseException:
        second.kill()
        raise
    code, _, stderr = second.terminate()
    assert code == 0, stderr
