"""The commands' consoles follow COLUMNS when they print, not when their module was imported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.table import Table

from algotrade.cli.console import PIPED_WIDTH, err_console, out_console

CLI = Path(__file__).resolve().parents[2] / "src" / "algotrade" / "cli"


def test_a_console_takes_the_width_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert out_console().width == 40
    assert err_console().width == 40
    monkeypatch.setenv("COLUMNS", "200")
    assert out_console(highlight=False).width == 200
    assert err_console().width == 200


def test_no_command_module_builds_a_console_when_imported() -> None:
    """rich fixes a console's width from COLUMNS when it is built: one built at import would
    keep the width of whoever imported the module first (tables folded at 80 columns in a
    wide terminal)."""
    at_import = re.compile(r"^\w+\s*(?::[^=]+)?=\s*Console\(", re.MULTILINE)
    offenders = [p.name for p in sorted(CLI.glob("*.py")) if at_import.search(p.read_text())]
    assert offenders == []


def test_output_to_a_pipe_keeps_table_rows_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: piped or redirected output was laid out for 80 columns, and tables folded
    numbers in the middle (``48948.0`` over ``0``)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    console = out_console()
    assert console.width == PIPED_WIDTH
    table = Table()
    for header in ("account", "day", "equity", "day start", "pnl", "trades", "state", "lock"):
        table.add_column(header, overflow="fold")
    table.add_row("acct-1", "2024-06-05", "48948.00", "48948.00", "0.00", "0", "flat", "-")
    with console.capture() as captured:
        console.print(table)
    assert "48948.00" in captured.get()
    monkeypatch.setenv("COLUMNS", "50")  # asked for: the table folds to it
    assert out_console().width == 50
