"""Screenshots of every dashboard page and TUI screen for the docs (``docs/img/``).

Starts a real daemon with the bundled example bots (``algotrade daemon --example``: three
SIMULATED bots, sim feed, paper venue) and the example risk files (``examples/risk/``, with
made-up credentials in the environment, the bots' account ``paper`` added and the session
hours rule off so that they trade at any hour, and their trade frequency raised) plus one bot
trading on the risk account ``acct-1``, lets them trade until each has fills (and at least
30 s, for the charts), then with Debian's Chromium (Playwright, headless):

- every dashboard page → ``docs/img/dashboard-<page>.png`` (signin, overview, bots, bot,
  risk, venues, backtest);
- the TUI served in the browser (``algotrade tui --serve``) → ``docs/img/tui-<screen>.png``
  (bots, bot, risk, venues).

A page or screen that does not come up within its deadline is reported and skipped; the exit
code is then 1. Run: ``scripts/screenshots`` (or ``.venv/bin/python scripts/screenshots.py``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from testkit.browser import launch_chromium  # noqa: E402
from testkit.daemon_process import DaemonProcess, free_port, wait_until  # noqa: E402

ADMIN_KEY = "screenshots-admin-key-0123456789"
TRADER_KEY = "screenshots-trader-key-0123456789"
EXAMPLE_BOTS = ("demo-btc", "demo-eth", "demo-grid")
RISK_BOT = {
    "bot_id": "acct1-ma",
    "symbol": "SIM-ES",
    "strategy": "ma_crossover",
    "params": {"fast": 3, "slow": 8, "qty": 1},
    "feed": "sim",
    "feed_options": {"seed": 11, "start_price": 5000, "volatility": 0.001, "tick_seconds": 0.2},
    "venue": "paper",
    "account_id": "acct-1",
    "initial_capital": "50000",
    "risk_per_trade_pct": 20,  # one contract (~5,000) is 10 % of the capital
}
DASHBOARD = {
    # page: (hash route, what to wait for)
    "overview": ("#/", "[data-testid=summary-cards]"),
    "bots": ("#/bots", "[data-testid=bot-row]"),
    "bot": ("#/bots/demo-btc", "[data-testid=price-chart]"),
    "risk": ("#/risk", "[data-testid=risk-account]"),
    "venues": ("#/venues", "[data-testid=venues-list], [data-testid=venues-empty]"),
    "backtest": ("#/backtest", "[data-testid=bt-form]"),
}
VIEWPORT = {"width": 1360, "height": 860}


def start_daemon(work: Path) -> DaemonProcess:
    # With a risk engine every bot's account must be in accounts.yaml: the example bots trade
    # on the default account "paper", added here to the example accounts.
    accounts = yaml.safe_load((ROOT / "examples/risk/accounts.yaml").read_text())
    accounts["accounts"].append({"id": "paper", "venue": "paper", "starting_balance": 30000})
    (work / "accounts.yaml").write_text(yaml.safe_dump(accounts))
    # The example rules allow trading 08:30-15:00 Chicago time on weekdays only; off those
    # hours every order would be refused and the pictures would show no fills.
    rules = yaml.safe_load((ROOT / "examples/risk/risk.yaml").read_text())
    rules["defaults"]["session_hours"]["enabled"] = False
    for overrides in (rules.get("accounts") or {}).values():
        if "session_hours" in overrides:
            overrides["session_hours"]["enabled"] = False
    # The three example bots share the account "paper": under the example's 3 trades a minute
    # it would be locked out after their first trades. acct-1 keeps the example's rules.
    rules.setdefault("accounts", {})["paper"] = {
        "trade_frequency": {"per_minute": 60, "per_hour": 3000, "per_session": 10000}
    }
    (work / "risk.yaml").write_text(yaml.safe_dump(rules))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE")},
        "ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}",
        "ALGOTRADE__RISK__ACCOUNTS_FILE": str(work / "accounts.yaml"),
        "ALGOTRADE__RISK__RULES_FILE": str(work / "risk.yaml"),
        # The example accounts name these variables for their (paper) credentials.
        "ACCT1_API_KEY": "example-only",
        "ACCT1_API_SECRET": "example-only",
        "ACCT2_API_KEY": "example-only",
        "ACCT2_API_SECRET": "example-only",
    }
    daemon = DaemonProcess(work / "data", None, "--example", env=env, api_key=ADMIN_KEY)
    return daemon.start(60)


def let_them_trade(daemon: DaemonProcess, seconds: float) -> None:
    daemon.ok("POST", "/api/bots", json=RISK_BOT)
    for bot_id in (*EXAMPLE_BOTS, RISK_BOT["bot_id"]):
        daemon.call("PUT", f"/api/bots/{bot_id}/start")  # 409 when already running: fine

    def traded() -> bool:
        return all(
            daemon.ok("GET", f"/api/bots/{bot_id}/fills?limit=1")["items"]
            for bot_id in (*EXAMPLE_BOTS, RISK_BOT["bot_id"])
        )

    try:
        wait_until(traded, seconds, "every bot to have a fill")
    except AssertionError as error:
        print(f"note: {error}; screenshots taken anyway", file=sys.stderr)


def dashboard(browser: Any, url: str, out: Path, missing: list[str]) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{url}/#/signin")
    page.get_by_test_id("signin-key").wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=out / "dashboard-signin.png")
    page.get_by_test_id("signin-key").fill(ADMIN_KEY)
    page.get_by_test_id("signin-submit").click()
    page.get_by_test_id("role").wait_for()
    for name, (route, selector) in DASHBOARD.items():
        page.goto(f"{url}/{route}")
        try:
            page.locator(selector).first.wait_for()
        except Exception as error:  # a page not there yet: say so, take the others
            missing.append(f"dashboard {name}: no {selector} ({type(error).__name__})")
            continue
        page.wait_for_timeout(1500)  # live data and charts settle
        page.screenshot(path=out / f"dashboard-{name}.png")
    context.close()


class TuiServer:
    def __init__(self, daemon_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "algotrade", "tui", "--serve", "--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE")}
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [*command, "--daemon-url", daemon_url],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )

        def answers() -> bool:
            try:
                return httpx.get(f"{self.url}/signin", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 20, "the TUI server")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)
        self.log.close()


def tui(browser: Any, daemon_url: str, work: Path, out: Path, missing: list[str]) -> None:
    server = TuiServer(daemon_url, work / "tui-serve.log")
    try:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(f"{server.url}/signin")
        page.fill("[data-testid=api-key]", ADMIN_KEY)
        page.click("[data-testid=signin-submit]")
        page.wait_for_selector("body.-first-byte")
        page.focus(".xterm-helper-textarea")
        steps = [  # screen and the keys that lead to it (app bindings: 1 bots, 2 risk, 3 venues)
            ("bots", []),
            ("bot", ["Enter"]),
            ("risk", ["Escape", "2"]),
            ("venues", ["Escape", "3"]),
        ]
        for name, keys in steps:
            for key in keys:
                page.keyboard.press(key)
                page.wait_for_timeout(300)
            page.wait_for_timeout(3000)  # the screen loads over the API and paints
            page.screenshot(path=out / f"tui-{name}.png")
        context.close()
    except Exception as error:
        missing.append(f"TUI: {type(error).__name__}: {error}")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--trade-seconds", type=float, default=90.0, help="wait for fills")
    parser.add_argument("--min-seconds", type=float, default=30.0, help="bars for the charts")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    missing: list[str] = []
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        work = Path(tmp)
        daemon = start_daemon(work)
        try:
            started = time.monotonic()
            let_them_trade(daemon, args.trade_seconds)
            time.sleep(max(0.0, args.min_seconds - (time.monotonic() - started)))
            print(f"bots traded for {time.monotonic() - started:.0f} s")
            with launch_chromium() as browser:
                dashboard(browser, daemon.url, args.out, missing)
                tui(browser, daemon.url, work, args.out, missing)
        finally:
            daemon.kill()
    for path in sorted(args.out.glob("*.png")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")
    for line in missing:
        print(f"MISSING {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
