"""Browser: the bots table live over the WebSocket, the bot chart, start/stop as admin, and the
whole dashboard with the network to anything but the daemon blocked.

A real daemon process with sim bots on the paper venue (a bar every 50 ms: fills within
seconds) and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from testkit.browser import only_daemon, same_origin
from testkit.daemon_process import DaemonProcess

# What Plotly drew in the price chart: points per trace (Plotly keeps the figure on the element).
_PRICE_TRACES = """() => {
  const el = document.querySelector('[data-testid="price-chart"]');
  if (!el || !Array.isArray(el.data)) return null;
  return el.data.map((t) => ({type: t.type, name: t.name, points: (t.x || []).length,
                              drawn: el.querySelectorAll(".main-svg").length}));
}"""


def _poll(check: Any, timeout: float, what: str) -> Any:
    """Call ``check`` until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {value!r}")
        time.sleep(0.1)


def _price_chart_ready(page: Any) -> Any:
    traces = page.evaluate(_PRICE_TRACES)
    if not traces:
        return None
    by_name = {t["name"]: t for t in traces}
    candles = [t for t in traces if t["type"] == "candlestick"]
    if not (candles and candles[0]["points"] > 0 and candles[0]["drawn"] > 0):
        return None
    if by_name.get("buy", {}).get("points", 0) > 0 and by_name.get("sell", {}).get("points", 0) > 0:
        return traces
    return None


def test_bots_table_updates_live_from_the_websocket_without_reload_or_polling(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    dash.add_bot(daemon, "live-a", seed=21)
    page, watch = new_page()
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.get_by_test_id("nav-bots").click()
    row = dash.bot_row(page, "live-a")
    expect(row.get_by_test_id("bot-state")).to_have_text("stopped")
    expect(row.get_by_test_id("bot-fills")).to_have_text("0")
    expect(row.get_by_test_id("bot-last-fill")).to_have_text("—")
    page.evaluate("window.__sameDocument = 'still here'")
    requests = dash.record_requests(page)  # from here on: the table is loaded

    daemon.ok("PUT", "/api/bots/live-a/start")  # behind the page's back

    expect(row.get_by_test_id("bot-state")).to_have_text("running")
    expect(row.get_by_test_id("bot-last-fill")).not_to_have_text("—")
    seen_fills = {row.get_by_test_id("bot-fills").inner_text()}
    equity = {row.get_by_test_id("bot-equity").inner_text()}
    _poll(
        lambda: (
            seen_fills.add(row.get_by_test_id("bot-fills").inner_text()),
            equity.add(row.get_by_test_id("bot-equity").inner_text()),
            len(seen_fills - {"0"}) >= 3 and len(equity) >= 2,
        )[-1],
        timeout=15,
        what="three different fill counts and a changed equity in the row",
    )
    assert page.evaluate("window.__sameDocument") == "still here"  # no reload
    assert all(url.startswith(f"{daemon.url}/#/bots") for url in navigations), navigations
    # Every change came over the WebSocket: not one HTTP request since the table loaded.
    assert not [r for r in requests if "/api/" in r], requests
    assert any('"topic":"status"' in f and '"live-a"' in f and '"event"' in f for f in frames)
    watch.assert_clean()


def test_bot_page_chart_shows_bars_and_buy_and_sell_markers(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    dash.add_bot(daemon, "chart-a", seed=22, start=True)
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/bots/chart-a")
    expect(page.get_by_test_id("bot-title")).to_have_text("chart-a")

    traces = _poll(lambda: _price_chart_ready(page), 15, "candles with buy and sell markers")

    names = [t["name"] for t in traces]
    assert names[0] == "SIM-22", names
    assert {"buy", "sell"} <= set(names), names
    # The tables under the chart show the same trading.
    expect(page.get_by_test_id("fills-table-body").locator("tr").first).to_be_visible()
    expect(page.get_by_test_id("orders-table-body").locator("tr").first).to_be_visible()
    expect(page.get_by_test_id("bot-card-equity")).to_have_text(re.compile(r"^\d[\d,]*\.\d{2}$"))
    watch.assert_clean()


def test_admin_starts_and_stops_a_bot_from_the_table_and_from_its_page(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    dash.add_bot(daemon, "ctl-a", seed=23)
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/bots")
    row = dash.bot_row(page, "ctl-a")
    state = row.get_by_test_id("bot-state")
    expect(state).to_have_text("stopped")
    expect(row.get_by_test_id("bot-action-stop")).to_be_hidden()

    row.get_by_test_id("bot-action-start").click()
    expect(state).to_have_text("running")
    assert daemon.ok("GET", "/api/bots/ctl-a")["status"]["state"] == "running"
    expect(row.get_by_test_id("bot-action-start")).to_be_hidden()

    row.get_by_test_id("bot-action-stop").click()
    expect(state).to_have_text("stopped")
    assert daemon.ok("GET", "/api/bots/ctl-a")["status"]["state"] == "stopped"

    row.get_by_test_id("bot-link").click()
    expect(page).to_have_url(re.compile(r"#/bots/ctl-a$"))
    # The URL changes before the router swaps the page (hashchange comes later): the bots
    # table, with its own state cells, is still there for a moment. Look inside the bot page.
    detail = page.locator('#page[data-page="bot"]')
    expect(detail.get_by_test_id("bot-title")).to_have_text("ctl-a")
    detail_state = detail.get_by_test_id("bot-state")
    expect(detail_state).to_have_text("stopped")
    detail.get_by_test_id("bot-action-start").click()
    expect(detail_state).to_have_text("running")
    detail.get_by_test_id("bot-action-stop").click()
    expect(detail_state).to_have_text("stopped")
    assert daemon.ok("GET", "/api/bots/ctl-a")["status"]["state"] == "stopped"
    watch.assert_clean()


def test_the_bot_pages_log_shows_new_lines_live_newest_first(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    """Defect: live log lines carry no row id yet; the page keyed and sorted its log by id, so
    each live line replaced the one before and sank to the bottom."""
    dash.add_bot(daemon, "log-a", seed=29)
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/bots/log-a")
    detail = page.locator('#page[data-page="bot"]')
    state = detail.get_by_test_id("bot-state")
    expect(state).to_have_text("stopped")
    body = detail.get_by_test_id("logs-table-body")
    detail.get_by_test_id("bot-action-start").click()
    expect(state).to_have_text("running")
    detail.get_by_test_id("bot-action-pause").click()
    expect(state).to_have_text("paused")
    detail.get_by_test_id("bot-action-stop").click()
    expect(state).to_have_text("stopped")
    expect(body.locator("tr").first).to_contain_text("bot stopped")
    messages = body.locator("tr").all_inner_texts()
    for line in ("bot stopped", "bot paused", "bot running"):
        assert sum(line in m for m in messages) == 1, messages
    order = [next(i for i, m in enumerate(messages) if line in m) for line in
             ("bot stopped", "bot paused", "bot running")]  # fmt: skip
    assert order == sorted(order), messages
    watch.assert_clean()


def test_money_is_shown_to_the_cent_and_prices_keep_their_decimals(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    """Defect: amounts under 1 kept up to 8 decimals (PnL today 0.567639 in one row, -18.51
    in the next), unlike the terminal and the TUI, which show money to the cent."""
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    shown = page.evaluate(
        """async () => {
          const { fmt } = await import('/ui/lib/dom.js');
          return [fmt.money('0.567639'), fmt.money('-0.0049999'), fmt.money('10003.2'),
                  fmt.money('0.0006'), fmt.price('0.12345678'), fmt.price('57933.2')];
        }"""
    )
    assert shown == ["0.57", "0.00", "10,003.20", "0.00", "0.12345678", "57,933.20"]
    watch.assert_clean(allowed_failures=("GET /api/session 401",))


def test_the_dashboard_works_with_every_host_but_the_daemon_blocked(
    daemon: DaemonProcess, dash: Any, browser: Any
) -> None:
    dash.add_bot(daemon, "offline-a", seed=24, start=True)
    context = browser.new_context()
    try:
        refused = only_daemon(context, daemon.url)
        page = context.new_page()
        from testkit.browser import PageWatch

        watch = PageWatch(page)
        requests = dash.record_requests(page)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))

        dash.sign_in(page, daemon.url, dash.admin_key, "admin")
        expect(page.get_by_test_id("sum-bots")).to_have_text(re.compile(r"^\d+$"))
        page.get_by_test_id("nav-bots").click()
        expect(dash.bot_row(page, "offline-a").get_by_test_id("bot-state")).to_have_text("running")
        dash.bot_row(page, "offline-a").get_by_test_id("bot-link").click()
        _poll(lambda: _price_chart_ready(page), 15, "the chart, drawn offline")

        assert refused == []  # the page asked for nothing outside the daemon
        foreign = [r for r in requests if not same_origin(r.split(" ", 1)[1], daemon.url)]
        assert foreign == []
        assert sockets, "the page opened no WebSocket"
        assert all(same_origin(url, daemon.url) for url in sockets), sockets
        paths = {urlsplit(r.split(" ", 1)[1]).path for r in requests}
        assert "/ui/vendor/plotly.min.js" in paths  # the chart library, from the daemon
        watch.assert_clean()  # and no CSP violation: nothing was even tried elsewhere

        # The blocking is real: a request to another host is refused and recorded.
        probe = context.new_page()
        with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
            probe.goto("http://example.com/")
        assert refused == ["http://example.com/"]
    finally:
        context.close()


def test_admin_creates_a_bot_from_the_generated_form_and_sees_field_errors(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/bots")
    page.get_by_test_id("bot-create").click()
    form = page.get_by_test_id("create-form")
    expect(form).to_be_visible()
    form.get_by_test_id("field-bot_id").fill("made-in-page")
    form.get_by_test_id("field-symbol").fill("SIM-41")
    form.get_by_test_id("field-strategy").select_option("ma_crossover")
    expect(form.get_by_test_id("field-params.fast")).to_be_visible()  # the strategy's schema
    form.get_by_test_id("field-params.fast").fill("0")  # the API wants >= 1

    form.get_by_test_id("create-submit").click()
    expect(form.get_by_test_id("field-error-params.fast")).not_to_be_empty()
    assert daemon.call("GET", "/api/bots/made-in-page").status_code == 404

    form.get_by_test_id("field-params.fast").fill("2")
    form.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("create-form")).to_have_count(0)
    row = dash.bot_row(page, "made-in-page")
    expect(row.get_by_test_id("bot-state")).to_have_text("stopped")
    created = daemon.ok("GET", "/api/bots/made-in-page")
    assert created["config"]["symbol"] == "SIM-41"
    assert created["config"]["params"]["fast"] == 2
    watch.assert_clean(allowed_failures=("GET /api/session 401", "POST /api/bots 422"))


def test_a_grid_bot_is_created_with_its_defaults_and_a_word_or_a_price_for_its_reference(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    """Defect: grid's ``reference`` ("first_close" or a price) was read as a decimal field,
    so its own default was refused in the page and no grid bot could be created or saved."""
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/bots")
    page.get_by_test_id("bot-create").click()
    form = page.get_by_test_id("create-form")
    form.get_by_test_id("field-bot_id").fill("grid-in-page")
    form.get_by_test_id("field-symbol").fill("SIM-42")
    form.get_by_test_id("field-strategy").select_option("grid")
    reference = form.get_by_test_id("field-params.reference")
    expect(reference).to_have_value("first_close")
    reference.fill("soon")
    form.get_by_test_id("create-submit").click()
    expect(form.get_by_test_id("field-error-params.reference")).to_contain_text(
        '"first_close" or a decimal number'
    )
    reference.fill("first_close")
    form.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("create-form")).to_have_count(0)
    created = daemon.ok("GET", "/api/bots/grid-in-page")
    assert created["config"]["params"]["reference"] == "first_close"
    watch.assert_clean(allowed_failures=("GET /api/session 401",))


def test_admin_edits_a_stopped_bots_config_with_errors_on_their_fields(
    daemon: DaemonProcess, dash: Any, new_page: Any
) -> None:
    dash.add_bot(daemon, "edit-me", 77)
    page, watch = new_page()
    dash.sign_in(page, daemon.url, dash.admin_key, "admin")
    page.goto(f"{daemon.url}/#/bots/edit-me")
    form = page.get_by_test_id("config-form")
    expect(form.get_by_test_id("field-params.fast")).to_be_visible()

    form.get_by_test_id("field-params.fast").fill("0")  # the strategy wants >= 1
    form.get_by_test_id("config-save").click()
    expect(form.get_by_test_id("field-error-params.fast")).not_to_be_empty()
    assert daemon.ok("GET", "/api/bots/edit-me")["config"]["params"].get("fast") != 0

    form.get_by_test_id("field-params.fast").fill("4")
    form.get_by_test_id("config-save").click()
    _poll(
        lambda: daemon.ok("GET", "/api/bots/edit-me")["config"]["params"].get("fast") == 4,
        10,
        "the saved config",
    )
    expect(form.get_by_test_id("field-error-params.fast")).to_be_empty()
    watch.assert_clean(
        allowed_failures=("GET /api/session 401", "PATCH /api/bots/edit-me/config 422")
    )


@pytest.mark.parametrize("route", ["#/", "#/bots", "#/bots/phone-a", "#/risk", "#/backtest"])
def test_pages_fit_a_phone_screen(
    daemon: DaemonProcess, dash: Any, browser: Any, route: str
) -> None:
    """Defect: at 390 px every page was 570 px wide and scrolled sideways (no narrow-screen
    rules): sign-out half off-screen, panels and the config form wider than the screen."""
    if daemon.call("GET", "/api/bots/phone-a").status_code == 404:
        dash.add_bot(daemon, "phone-a", seed=31)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        dash.sign_in(page, daemon.url, dash.admin_key, "admin")
        page.goto(f"{daemon.url}/{route}")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{route}: the page is {width}px wide"
        signout = page.get_by_role("button", name=re.compile("sign out", re.IGNORECASE))
        box = signout.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 390
    finally:
        context.close()
