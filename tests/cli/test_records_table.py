"""Record tables fit the terminal: optional columns are left out and named, instead of every
cell folded mid-word (at 80 columns the bots table showed "runni" over "ng")."""

from __future__ import annotations

import pytest
from rich.console import Console

from algotrade.cli import bots_render
from algotrade.cli.bots_render import bots_table

BOTS = [
    {
        "bot_id": f"demo-{name}",
        "state": "running",
        "simulated": True,
        "position": {f"SIM-{name.upper()}": "-0.01"},
        "equity": "10013.8312",
        "pnl": "13.83",
        "order_count": 26,
        "fill_count": 26,
        "heartbeat": "2026-12-07T03:55:18.968Z",
        "last_error": None,
    }
    for name in ("btc", "eth", "grid")
]


def rendered(monkeypatch: pytest.MonkeyPatch, width: int, bots: list[dict[str, object]]) -> str:
    console = Console(width=width, record=True, highlight=False)
    monkeypatch.setattr(bots_render, "_console", lambda: console)
    bots_table(bots)
    return console.export_text()


def test_at_80_columns_whole_values_and_the_left_out_columns_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = rendered(monkeypatch, 80, BOTS)
    assert max(len(line) for line in text.splitlines()) <= 80
    for whole in ("demo-grid", "running", "SIM-GRID -0.01", "10013.83", "POSITION", "EQUITY"):
        assert whole in text, text
    assert "not shown to fit the terminal: LAST ERROR, HEARTBEAT, ORDERS" in text
    assert "FILLS" in text


def test_a_wide_terminal_shows_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    text = rendered(monkeypatch, 160, BOTS)
    for header in ("ORDERS", "FILLS", "HEARTBEAT", "LAST ERROR"):
        assert header in text
    assert "not shown" not in text


def test_an_error_is_kept_longer_than_the_columns_left_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = [{**BOTS[0], "last_error": "venue refused"}, *BOTS[1:]]
    text = rendered(monkeypatch, 100, failing)
    assert "venue refused" in text
    assert "LAST ERROR" in text.split("not shown")[0]
