"""Browser: a trader's dashboard is read-only, and forged mutating requests get 403.

A trader sees no control that changes anything (start, stop, pause, resume, delete, create,
edit, save, unlock, reconcile, run or cancel a backtest) on any page. A mutating request
carrying a session cookie is refused with 403 when it comes from another origin (admin or
trader cookie), and a trader's own page cannot mutate either (role).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from algotrade import web
from testkit.browser import SIGNED_OUT_PROBE
from testkit.daemon_process import DaemonProcess

PAGES = Path(web.__file__).parent / "static" / "pages"
MUTATING_WORDS = re.compile(
    r"\b(start|stop|pause|resume|delete|remove|create|new bot|add bot|edit|save|unlock|apply"
    r"|reconcile|run|cancel)\b",
    re.IGNORECASE,
)
# Every control on the page: buttons, submit inputs, links and anything clickable by role.
_CONTROLS = """() => [...document.querySelectorAll(
    'button, input[type=submit], input[type=button], [role=button], a, [data-action]')]
  .filter((el) => el.offsetParent !== null || el.getClientRects().length)
  .map((el) => ({tag: el.tagName, text: (el.innerText || el.value || '').trim(),
                 testid: el.dataset.testid || '', action: el.dataset.action || ''}))"""


def _settled_controls(page: Any) -> list[dict[str, str]]:
    """The page's controls once they stop changing (REST answers and WS snapshots are in; a
    live page keeps changing its numbers, not its set of controls)."""
    last: list[dict[str, str]] | None = None
    steady = 0
    deadline = time.monotonic() + 10
    while steady < 3:
        controls = page.evaluate(_CONTROLS)
        steady = steady + 1 if controls == last else 0
        last = controls
        assert time.monotonic() < deadline, "the page's controls kept changing for 10 s"
        time.sleep(0.15)
    return controls


def _mutating_controls(page: Any) -> list[dict[str, str]]:
    controls = _settled_controls(page)
    return [
        c
        for c in controls
        if c["action"]
        or re.search(r"action|save|create|delete|unlock", c["testid"])
        or (c["tag"] != "A" and MUTATING_WORDS.search(c["text"]))
    ]


def test_a_trader_sees_no_mutating_control_anywhere(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    dash.add_bot(daemon, "ro-running", seed=31, start=True)
    dash.add_bot(daemon, "ro-stopped", seed=32)
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.trader_key, "trader")

    visited = []
    for hash_, ready in [
        ("#/", "sum-bots"),
        ("#/bots", "bots-table"),
        ("#/bots/ro-running", "price-chart"),
        ("#/bots/ro-stopped", "config-readonly"),
        ("#/risk", None),
        ("#/venues", None),
        ("#/backtest", "bt-read-only"),
    ]:
        name = hash_.strip("#/").split("/")[0] or "overview"
        if ready is None and not (PAGES / f"{name}.js").is_file():
            continue  # a page another part of the work has not delivered yet
        page.goto(f"{daemon.url}/{hash_}")
        if ready:
            expect(page.get_by_test_id(ready)).to_be_visible()
        assert page.get_by_test_id("page-error").count() == 0, hash_
        assert _mutating_controls(page) == [], hash_
        # No stray "null" (a missing panel handed to append) where a panel would be.
        assert "null" not in page.locator("#page").inner_text().split(), hash_
        visited.append(hash_)
    assert len(visited) >= 4

    # The bots table has no actions column and the config is a read-only table, not a form.
    page.goto(f"{daemon.url}/#/bots")
    expect(dash.bot_row(page, "ro-running")).to_be_visible()
    assert page.locator("[data-testid=bots-table] th", has_text="Actions").count() == 0
    page.goto(f"{daemon.url}/#/bots/ro-stopped")
    expect(page.get_by_test_id("config-readonly")).to_be_visible()
    assert page.get_by_test_id("config-form").count() == 0
    assert page.locator("[data-testid=config-panel] input").count() == 0
    # This daemon runs no account risk engine: the risk page is told so with a 404 and says it.
    watch.assert_clean(allowed_failures=(SIGNED_OUT_PROBE, "GET /api/risk/accounts 404"))

    # The same look finds an admin's controls: an empty list above means none, not blindness.
    admin, _ = new_page()
    dash.sign_in(admin, daemon.url, dash.admin_key, "admin")
    admin.goto(f"{daemon.url}/#/bots/ro-stopped")
    expect(admin.get_by_test_id("config-save")).to_be_visible()
    found = {c["testid"] for c in _mutating_controls(admin)}
    assert {"bot-action-start", "bot-action-delete", "config-save"} <= found, found


def test_forged_mutating_requests_get_403(daemon: DaemonProcess, dash: Any, new_page: Any) -> None:
    dash.add_bot(daemon, "forged-a", seed=33, start=True)
    trader_page, trader_watch = new_page()
    dash.sign_in(trader_page, daemon.url, dash.trader_key, "trader")
    admin_page, admin_watch = new_page()
    dash.sign_in(admin_page, daemon.url, dash.admin_key, "admin")
    trader = {dash.cookie_name: dash.session_cookie(trader_page.context)["value"]}
    admin = {dash.cookie_name: dash.session_cookie(admin_page.context)["value"]}
    stop = f"{daemon.url}/api/bots/forged-a/stop"
    evil = {"Origin": "https://evil.example"}

    # From another site, with either cookie: refused before anything happens.
    for jar in (admin, trader):
        refused = httpx.put(stop, cookies=jar, headers=evil)
        assert refused.status_code == 403, refused.text
        assert "cross-origin" in refused.text
    created = httpx.post(
        f"{daemon.url}/api/bots", cookies=admin, headers=evil, json=dash.sim_bot("forged-b", 34)
    )
    assert created.status_code == 403
    deleted = httpx.delete(f"{daemon.url}/api/bots/forged-a", cookies=admin, headers=evil)
    assert deleted.status_code == 403
    # No Origin and no Referer at all is refused too (a cookie alone proves nothing).
    assert httpx.put(stop, cookies=admin).status_code == 403
    assert daemon.ok("GET", "/api/bots/forged-a")["status"]["state"] == "running"
    assert daemon.call("GET", "/api/bots/forged-b").status_code == 404

    # A trader's own page (same origin) cannot mutate either: the role is read-only.
    statuses = trader_page.evaluate(
        """async (bot) => {
          const put = await fetch(`/api/bots/${bot}/stop`, {method: "PUT"});
          const post = await fetch("/api/bots", {method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({bot_id: "forged-c", symbol: "S", strategy: "rsi"})});
          const del = await fetch(`/api/bots/${bot}`, {method: "DELETE"});
          return [put.status, post.status, del.status];
        }""",
        "forged-a",
    )
    assert statuses == [403, 403, 403]
    assert daemon.ok("GET", "/api/bots/forged-a")["status"]["state"] == "running"

    # The same admin cookie from the daemon's own origin works: the 403s were the origin check.
    same_site = {"Origin": daemon.url}
    assert httpx.put(stop, cookies=admin, headers=same_site).status_code == 200
    assert daemon.ok("GET", "/api/bots/forged-a")["status"]["state"] == "stopped"
    refused = (
        "PUT /api/bots/forged-a/stop 403",
        "POST /api/bots 403",
        "DELETE /api/bots/forged-a 403",
    )
    trader_watch.assert_clean(allowed_failures=(SIGNED_OUT_PROBE, *refused))
    admin_watch.assert_clean()
