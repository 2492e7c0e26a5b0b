"""Browser: the backtest, risk and venues pages against a real daemon.

- backtest: an admin runs a synthetic backtest from the generated form (a bad parameter is shown
  on its field first); the job list follows it to done and the report opens in a sandboxed
  iframe, labelled SIMULATED, its plotly charts drawn from the inline bundle (nothing fetched
  from anywhere but the daemon); a trader sees jobs and reports but no form and no control;
- risk: a losing bot locks its account; the page shows the rule locked, the lockout and the
  enforcement log live (no reload); a trader has no unlock; an admin unlocks with a reason and
  a confirmation;
- venues: with no live venue the page says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from testkit.browser import SIGNED_OUT_PROBE, only_daemon, require_chromium
from testkit.daemon_process import DaemonProcess, wait_until

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
"""
LOSER = {
    "bot_id": "loser",
    "symbol": "SIM-L",
    "strategy": "ma_crossover",
    "params": {"fast": 2, "slow": 4},
    "feed_options": {"seed": 9, "tick_seconds": 0.02, "volatility": 0.01},
    "account_id": "acct",
    "commission": "0.001",
    "initial_capital": "100000",
}


def job_row(page: Any, job_id: str) -> Any:
    return page.locator(f'[data-testid="bt-job"][data-job-id="{job_id}"]')


def test_admin_runs_a_synthetic_backtest_and_reads_its_report(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    page, watch = new_page()
    refused = only_daemon(page.context, daemon.url)
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/backtest")
    expect(page.get_by_test_id("bt-form")).to_be_visible()
    page.get_by_test_id("bt-strategy").select_option("ma_crossover")
    expect(page.get_by_test_id("bt-source-synthetic")).to_be_checked()

    # A bad parameter comes back as a 422 shown on its own field.
    page.get_by_test_id("field-params.fast").fill("0")
    page.get_by_test_id("bt-submit").click()
    expect(page.get_by_test_id("field-error-params.fast")).to_contain_text("greater than")

    page.get_by_test_id("field-params.fast").fill("3")
    page.get_by_test_id("field-params.slow").fill("8")
    page.get_by_test_id("field-synthetic.bars").fill("800")
    page.get_by_test_id("field-synthetic.seed").fill("7")
    requests = dash.record_requests(page)  # from here on: the job list is loaded
    page.get_by_test_id("bt-submit").click()

    row = page.locator('[data-testid="bt-job"]').first
    expect(row).to_be_visible()
    job_id = row.get_attribute("data-job-id")
    assert job_id
    expect(job_row(page, job_id)).to_have_attribute("data-state", "done", timeout=60_000)
    expect(job_row(page, job_id).get_by_test_id("bt-job-synthetic")).to_have_text("SYNTHETIC")
    expect(job_row(page, job_id).get_by_test_id("bt-job-return")).to_have_text(re.compile(r"%$"))
    # Job states came over the WebSocket: one GET of the list when the page opened, no polling.
    expect(page.get_by_test_id("bt-live")).to_have_text("")
    assert not [r for r in requests if r.startswith("GET") and "/api/backtests?" in r], requests

    # The report of the job this page submitted opens by itself, in a sandbox.
    frame = page.get_by_test_id("bt-report")
    expect(frame).to_be_visible()
    assert frame.get_attribute("sandbox") == "allow-scripts allow-downloads"
    assert frame.get_attribute("src") == f"/api/backtests/{job_id}/report"
    report = page.frame_locator('[data-testid="bt-report"]')
    expect(report.get_by_text("SIMULATED DATA — generated prices")).to_be_visible()
    # Plotly ran from the inline bundle inside the sandbox and drew the charts.
    expect(report.locator(".main-svg").first).to_be_visible()

    job = daemon.ok("GET", f"/api/backtests/{job_id}")
    assert job["params"] == {"fast": 3, "slow": 8, "qty": "1", "long_only": False}
    assert job["synthetic"] is True
    assert refused == []
    watch.assert_clean(allowed_failures=(SIGNED_OUT_PROBE, "POST /api/backtests 422"))


def test_admin_runs_a_backtest_on_a_dataset_file(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    datasets = daemon.data_dir / "datasets"
    datasets.mkdir(exist_ok=True)
    rows = "".join(
        f"2024-02-01T{m // 60:02d}:{m % 60:02d}:00Z,{100 + m % 5},106,95,{100 + (m + 1) % 5},10\n"
        for m in range(240)
    )
    (datasets / "ETH-1m.csv").write_text("timestamp,open,high,low,close,volume\n" + rows)
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/backtest")
    expect(page.get_by_test_id("bt-dataset")).to_contain_text("ETH-1m.csv (240 rows)")
    page.get_by_test_id("bt-strategy").select_option("rsi")
    page.get_by_test_id("bt-source-dataset").check()
    page.get_by_test_id("bt-dataset").select_option("ETH-1m.csv")
    expect(page.get_by_test_id("bt-synthetic")).to_be_hidden()
    page.get_by_test_id("bt-submit").click()
    report = page.frame_locator('[data-testid="bt-report"]')
    expect(report.get_by_text("dataset ETH-1m.csv")).to_be_visible(timeout=60_000)
    assert report.get_by_text("SIMULATED DATA").count() == 0
    row = page.locator('[data-testid="bt-job"]').first
    expect(row).to_contain_text("ETH-1m.csv")
    assert row.get_by_test_id("bt-job-synthetic").count() == 0
    watch.assert_clean()


def test_a_trader_sees_jobs_and_reports_but_no_control(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    job_id = daemon.ok(
        "POST", "/api/backtests", json={"strategy": "rsi", "synthetic": {"bars": 400}}
    )["job_id"]
    wait_until(lambda: daemon.ok("GET", f"/api/backtests/{job_id}")["state"] == "done", 60, "done")
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.trader_key, "trader")
    page.goto(f"{daemon.url}/#/backtest")
    expect(job_row(page, job_id)).to_have_attribute("data-state", "done")
    assert page.get_by_test_id("bt-form").count() == 0
    assert page.get_by_test_id("bt-job-delete").count() == 0
    assert page.get_by_test_id("bt-job-cancel").count() == 0
    job_row(page, job_id).get_by_test_id("bt-job-report").click()
    report = page.frame_locator('[data-testid="bt-report"]')
    expect(report.get_by_text("SIMULATED DATA — generated prices")).to_be_visible()
    watch.assert_clean()


def test_admin_cancels_a_running_backtest_from_the_page(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    big = {"strategy": "ma_crossover", "synthetic": {"bars": 4_000_000}}
    job_id = daemon.ok("POST", "/api/backtests", json=big)["job_id"]
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/backtest")
    expect(job_row(page, job_id)).to_have_attribute("data-state", re.compile("queued|running"))
    expect(page.get_by_test_id("bt-live")).to_contain_text("updates live")
    job_row(page, job_id).get_by_test_id("bt-job-cancel").click()
    page.get_by_test_id("confirm-ok").click()
    expect(job_row(page, job_id)).to_have_attribute("data-state", "cancelled")
    expect(page.get_by_test_id("bt-live")).to_have_text("")
    job_row(page, job_id).get_by_test_id("bt-job-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(job_row(page, job_id)).to_have_count(0)
    watch.assert_clean()


def test_venues_page_without_a_live_venue(daemon: DaemonProcess, dash: Any, new_page: Any) -> None:
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/venues")
    expect(page.get_by_test_id("venues-empty")).to_contain_text("No live venue")
    watch.assert_clean()


@pytest.fixture
def risk_daemon(tmp_path: Path, dash: Any) -> Iterator[DaemonProcess]:
    require_chromium()
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    (tmp_path / "risk.yaml").write_text(RULES)
    config = tmp_path / "daemon.toml"
    config.write_text(
        f'[risk]\naccounts_file = "{tmp_path / "accounts.yaml"}"\n'
        f'rules_file = "{tmp_path / "risk.yaml"}"\ntick_interval_s = 0.2\n'
    )
    process = DaemonProcess(
        tmp_path / "data", None, "--config", str(config), env=dash.keys_env, api_key=dash.admin_key
    ).start()
    try:
        yield process
    finally:
        process.kill()


def test_risk_page_follows_a_lockout_live_and_an_admin_unlocks(
    risk_daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    daemon = risk_daemon
    admin, admin_watch = new_page()
    dash.sign_in(admin, daemon.url, dash.admin_key, "admin")
    admin.goto(f"{daemon.url}/#/risk")
    account = admin.locator('[data-testid="risk-account"][data-account-id="acct"]')
    rule = account.locator('[data-testid="risk-rule"][data-rule="daily_realized_loss"]')
    expect(rule).to_have_attribute("data-state", "ok")
    expect(account.locator('[data-rule="max_contracts"]')).to_have_attribute("data-state", "off")

    # The losing bot breaches the daily loss limit: the open page shows it (WS "risk" event).
    daemon.ok("POST", "/api/bots", json=LOSER)
    daemon.ok("PUT", "/api/bots/loser/start")
    expect(rule).to_have_attribute("data-state", "locked", timeout=60_000)
    expect(account.get_by_test_id("risk-can-trade")).to_have_text("locked")
    expect(admin.get_by_test_id("risk-lockout")).to_have_count(1)
    expect(admin.get_by_test_id("risk-lockout")).to_contain_text("daily_realized_loss")
    expect(admin.locator('[data-testid="risk-log-line"][data-kind="lockout"]')).to_have_count(1)
    # The locked bot's orders keep being rejected, each a "risk" event that repaints the page:
    # a reason typed meanwhile keeps every key (a repaint used to take the focus away).
    reason = account.get_by_test_id("risk-unlock-reason")
    account.evaluate("panel => { panel.dataset.painted = 'before typing' }")
    reason.press_sequentially("checked the losing bot", delay=120)
    assert account.evaluate("panel => panel.dataset.painted || null") is None, "no repaint"
    expect(reason).to_have_value("checked the losing bot")
    daemon.ok("PUT", "/api/bots/loser/stop")

    trader, trader_watch = new_page()
    dash.sign_in(trader, daemon.url, dash.trader_key, "trader")
    trader.goto(f"{daemon.url}/#/risk")
    expect(trader.get_by_test_id("risk-lockout")).to_have_count(1)
    assert trader.get_by_test_id("risk-unlock").count() == 0

    # No reason, no unlock (the audit log keeps why): nothing is asked, nothing is sent.
    account.get_by_test_id("risk-unlock-reason").fill("   ")
    account.get_by_test_id("risk-unlock").click()
    expect(account.get_by_test_id("risk-unlock-reason")).to_have_class(re.compile("invalid"))
    assert admin.get_by_test_id("confirm-ok").count() == 0
    expect(rule).to_have_attribute("data-state", "locked")
    # Cancelling the confirmation changes nothing; confirming unlocks with the reason given.
    account.get_by_test_id("risk-unlock-reason").fill("checked the losing bot")
    account.get_by_test_id("risk-unlock").click()
    admin.get_by_test_id("confirm-cancel").click()
    expect(rule).to_have_attribute("data-state", "locked")
    account.get_by_test_id("risk-unlock").click()
    expect(admin.get_by_test_id("confirm-message")).to_contain_text("checked the losing bot")
    admin.get_by_test_id("confirm-ok").click()
    expect(rule).to_have_attribute("data-state", "ok")
    expect(admin.get_by_test_id("risk-lockout")).to_have_count(0)
    expect(admin.locator('[data-testid="risk-log-line"][data-kind="unlock"]')).to_have_count(1)
    audit = daemon.ok("GET", "/api/risk/audit")["items"]
    assert any("checked the losing bot" in str(entry) for entry in audit)
    admin_watch.assert_clean()
    trader_watch.assert_clean()


def test_venues_page_shows_a_live_venue_and_an_admin_reconciles(
    tmp_path: Path, dash: Any, new_page: Any
) -> None:
    require_chromium()
    from eth_account import Account

    from testkit.fake_hyperliquid import FakeHyperliquid

    with FakeHyperliquid() as venue:
        user, agent = Account.create(), Account.create()
        venue.add_account(user.address, [agent.address], balance=100_000)
        config = tmp_path / "daemon.toml"
        config.write_text(
            f'[hyperliquid]\nnetwork = "testnet"\napi_url = "{venue.base_url}"\n'
            f'ws_url = "{venue.ws_url}"\nrequest_timeout_s = 1.0\nreconcile_interval_s = 30\n'
        )
        env = {
            **dash.keys_env,
            "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS": user.address,
            "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY": agent.key.hex(),
        }
        daemon = DaemonProcess(
            tmp_path / "data", None, "--config", str(config), env=env, api_key=dash.admin_key
        ).start()
        try:
            scripted = Path(__file__).parents[1] / "testkit" / "strategies" / "scripted.py"
            daemon.ok(
                "POST",
                "/api/bots",
                json={
                    "bot_id": "hl",
                    "symbol": "BTC",
                    "strategy": str(scripted),
                    "params": {"steps": []},
                    "interval": "1m",
                    "feed": "hyperliquid",
                    "venue": "hyperliquid",
                    "mode": "live",
                },
            )
            daemon.ok("PUT", "/api/bots/hl/start")
            wait_until(lambda: bool(daemon.ok("GET", "/api/venues")), 20, "the live venue")

            trader, trader_watch = new_page()
            dash.sign_in(trader, daemon.url, dash.trader_key, "trader")
            trader.goto(f"{daemon.url}/#/venues")
            panel = trader.locator('[data-testid="venue"][data-venue="hyperliquid"]')
            expect(panel.get_by_test_id("venue-connected")).to_have_text("connected")
            assert trader.get_by_test_id("venue-reconcile-now").count() == 0

            admin, admin_watch = new_page()
            dash.sign_in(admin, daemon.url, dash.admin_key, "admin")
            admin.goto(f"{daemon.url}/#/venues")
            panel = admin.locator('[data-testid="venue"][data-venue="hyperliquid"]')
            expect(panel.get_by_test_id("venue-connected")).to_have_text("connected")
            before = int(panel.get_by_test_id("venue-reconciles").inner_text())
            panel.get_by_test_id("venue-reconcile-now").click()
            admin.get_by_test_id("confirm-ok").click()
            expect(panel.get_by_test_id("venue-reconciles")).not_to_have_text(str(before))
            expect(panel.get_by_test_id("venue-last-reconcile")).to_contain_text("Z")
            trader_watch.assert_clean()
            admin_watch.assert_clean()
        finally:
            daemon.kill()
