"""The line on top of every screen: the link to the daemon, the role, the summary and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

from algotrade.tui.format import LEVEL_STYLES, money, one_line, pnl_style
from algotrade.tui.live import LinkState

MAX_ALERTS_SHOWN = 3


def summary_text(
    link: LinkState, role: str | None, summary: Mapping[str, Any] | None, url: str
) -> Text:
    text = Text()
    if link.connected:
        text.append("● connected ", style="bold green")
    else:
        retry = f" in {link.retry_in:.0f}s" if link.retry_in >= 1 else ""
        text.append(f"● disconnected — reconnecting{retry} ", style="bold white on red")
        if link.reason:
            text.append(one_line(link.reason, 90) + " ", style="red")
    text.append(f"{url} ", style="dim")
    text.append(f"[{role or '…'}]", style="bold" if role == "admin" else "")
    if summary:
        states = summary.get("states") or {}
        text.append(f"  bots {summary.get('bots', 0)}: ")
        for state, style in (("running", "green"), ("paused", "yellow"), ("error", "red")):
            text.append(f"{states.get(state, 0)} {state} ", style=style)
        text.append(f"{states.get('stopped', 0)} stopped", style="dim")
        text.append(f"  equity {money(summary.get('equity'))}")
        pnl = summary.get("pnl_today")
        text.append("  today ")
        text.append(money(pnl, signed=True), style=pnl_style(pnl))
        text.append(f"  positions {summary.get('open_positions', 0)}")
        lockouts = summary.get("lockouts") or []
        if lockouts:
            text.append(f"  lockouts {len(lockouts)}", style="bold red")
        alerts = summary.get("alerts") or []
        for alert in alerts[:MAX_ALERTS_SHOWN]:
            style = LEVEL_STYLES.get(str(alert.get("level")), "") or "yellow"
            subject = alert.get("subject", "")
            text.append(f"\n⚠ {subject}: {one_line(alert.get('message', ''), 120)}", style=style)
        if len(alerts) > MAX_ALERTS_SHOWN:
            text.append(f"\n… {len(alerts) - MAX_ALERTS_SHOWN} more alerts (venues screen)")
    return text


class SummaryBar(Static):
    """Redrawn by the app whenever the link, the role or the summary changes."""

    DEFAULT_CSS = "SummaryBar { dock: top; height: auto; max-height: 5; background: $panel; }"

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        app: Any = self.app
        self.update(summary_text(app.link, app.role, app.summary, app.daemon_url))
