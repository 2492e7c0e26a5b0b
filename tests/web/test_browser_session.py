"""Browser: sign-in through the page's form, sign-out, wrong keys and the sign-in throttle.

A real daemon process (admin and trader keys) and Debian's Chromium. The throttle test starts
its own daemon: the limiter counts failures per client address and every test is 127.0.0.1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from testkit.browser import SIGNED_OUT_PROBE
from testkit.daemon_process import DaemonProcess


def _submit(page: Any, key: str) -> Any:
    """Type ``key`` into the sign-in form, submit it, and return the POST /api/session answer."""
    page.get_by_test_id("signin-key").fill(key)
    with page.expect_response(
        lambda r: r.url.endswith("/api/session") and r.request.method == "POST"
    ) as answer:
        page.get_by_test_id("signin-submit").click()
    return answer.value


def test_admin_signs_in_through_the_form_and_lands_on_the_overview_with_the_summary(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    dash.add_bot(daemon, "sess-overview", seed=11, start=True)
    page, watch = new_page()
    page.goto(f"{daemon.url}/")
    expect(page).to_have_url(re.compile(r"#/signin$"))  # not signed in: the sign-in page
    expect(page.get_by_test_id("nav")).to_be_empty()  # no page links before sign-in

    response = _submit(page, dash.admin_key)

    assert response.status == 200
    expect(page.get_by_test_id("role")).to_have_text(re.compile("admin", re.IGNORECASE))
    expect(page).to_have_url(re.compile(r"#/$"))
    expect(page.get_by_test_id("page")).to_have_attribute("data-page", "overview")
    summary = daemon.ok("GET", "/api/summary")
    expect(page.get_by_test_id("sum-bots")).to_have_text(str(summary["bots"]))
    expect(page.get_by_test_id("sum-state-running")).to_have_text(
        f"running {summary['states']['running']}"
    )
    expect(page.get_by_test_id("sum-equity")).to_have_text(re.compile(r"^\d[\d,]*\.\d{2}$"))
    expect(page.get_by_test_id("sum-pnl-today")).to_have_text(re.compile(r"^-?\d[\d,]*\.\d+$"))
    # The key was exchanged for an HttpOnly, SameSite=Strict cookie: nothing a script can read
    # holds it.
    cookie = dash.session_cookie(page.context)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert dash.admin_key not in cookie["value"]
    storage = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert dash.admin_key not in storage
    assert page.evaluate("document.cookie") == ""
    assert page.get_by_test_id("signin-key").count() == 0
    watch.assert_clean()


def test_a_deep_link_opened_before_sign_in_is_shown_after_it(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    page, watch = new_page()
    page.goto(f"{daemon.url}/#/bots")
    expect(page).to_have_url(re.compile(r"#/signin$"))
    assert _submit(page, dash.trader_key).status == 200
    expect(page).to_have_url(re.compile(r"#/bots$"))
    expect(page.get_by_test_id("role")).to_have_text(re.compile("trader", re.IGNORECASE))
    expect(page.get_by_test_id("bots-table")).to_be_visible()
    watch.assert_clean()


def test_sign_out_returns_to_sign_in_and_the_old_cookie_no_longer_works(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    cookie = dash.session_cookie(page.context)
    jar = {dash.cookie_name: cookie["value"]}
    assert httpx.get(f"{daemon.url}/api/bots", cookies=jar).status_code == 200

    with page.expect_response(
        lambda r: r.url.endswith("/api/session") and r.request.method == "DELETE"
    ) as answer:
        page.get_by_test_id("signout").click()

    assert answer.value.status == 204
    expect(page).to_have_url(re.compile(r"#/signin$"))
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_count(0)
    # Revoked on the server, not just forgotten by the browser.
    assert httpx.get(f"{daemon.url}/api/bots", cookies=jar).status_code == 401
    assert httpx.get(f"{daemon.url}/api/session", cookies=jar).status_code == 401
    assert not [c for c in page.context.cookies() if c["name"] == dash.cookie_name]
    # A reload stays signed out, and the pages behind sign-in send back to it.
    page.reload()
    page.goto(f"{daemon.url}/#/bots")
    expect(page).to_have_url(re.compile(r"#/signin$"))
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    watch.assert_clean()


def test_a_wrong_key_is_refused_with_a_message_and_repeated_wrong_keys_are_slowed_down(
    dash: Any, new_page: Any, tmp_path: Path
) -> None:
    daemon = dash.start_daemon(tmp_path)
    try:
        page, watch = new_page()
        page.goto(f"{daemon.url}/#/signin")
        message = page.get_by_test_id("signin-message")

        assert _submit(page, "not-the-key-0123456789").status == 401
        expect(message).to_have_text("Wrong API key: no key of this daemon matches it.")
        expect(message).to_be_visible()
        expect(page).to_have_url(re.compile(r"#/signin$"))
        assert not [c for c in page.context.cookies() if c["name"] == dash.cookie_name]

        statuses = [401]
        while statuses[-1] != 429:
            assert len(statuses) < 12, f"no 429 after {len(statuses)} wrong keys: {statuses}"
            expect(page.get_by_test_id("signin-submit")).to_be_enabled()
            last = _submit(page, f"wrong-key-{len(statuses):02d}-0123456789")
            statuses.append(last.status)
        assert set(statuses[:-1]) == {401}
        assert int(last.headers["retry-after"]) >= 1
        # The page says how long to wait and holds the button until then.
        expect(message).to_have_text(re.compile(r"too many attempts.*retry in \d+ s", re.I))
        expect(page.get_by_test_id("signin-submit")).to_be_disabled()
        wrong = ("POST /api/session 401", "POST /api/session 429")
        watch.assert_clean(allowed_failures=(SIGNED_OUT_PROBE, *wrong))
    finally:
        daemon.kill()


def test_a_daemon_restart_shows_the_disconnection_then_asks_to_sign_in_again(
    dash: Any, new_page: Any, tmp_path: Path
) -> None:
    daemon = dash.start_daemon(tmp_path)
    try:
        page, watch = new_page()
        dash.sign_in(page, daemon.url, dash.admin_key, "admin")
        page.goto(f"{daemon.url}/#/bots")
        expect(page.get_by_test_id("bots-empty")).to_have_text("No bots yet.")

        daemon.kill()
        banner = page.get_by_test_id("conn-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Disconnected from the daemon")

        retry = page.get_by_role("button", name="Retry now")
        expect(retry).to_be_visible()
        retry.evaluate("button => { button.dataset.seen = 'yes'; }")
        page.wait_for_timeout(2500)  # reconnect attempts fail meanwhile (the daemon is down)
        # The same button through those attempts, not one rebuilt under the pointer each time.
        expect(banner.locator("button[data-seen='yes']")).to_have_count(1)
        daemon.start()  # same port and data; sessions lived in the old process's memory
        signin = re.compile(r"#/signin$")
        try:
            retry.click(timeout=10_000)
        except PlaywrightTimeoutError:
            # Only acceptable when the automatic reconnect got there first.
            assert signin.search(page.url), "Retry now could not be clicked"
        expect(page).to_have_url(signin)
        expect(page.get_by_test_id("toasts")).to_contain_text("sign in again")
        dash.sign_in(page, daemon.url, dash.admin_key, "admin")
        page.goto(f"{daemon.url}/#/bots")  # back where it was, connected again
        expect(page.get_by_test_id("bots-empty")).to_have_text("No bots yet.")
        expect(banner).to_be_hidden()
        watch.assert_clean("ERR_CONNECTION_REFUSED")  # the reconnect attempts while it was down
    finally:
        daemon.kill()
