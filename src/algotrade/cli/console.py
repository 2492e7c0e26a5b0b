"""Consoles for the commands' output, built when they print.

rich reads ``COLUMNS`` once, when a ``Console`` is built: a console made at import time keeps
the width of whatever environment imported the module first (an embedding program, a test
that set a narrow ``COLUMNS``), and later tables fold where nothing asked for it. Building one
costs microseconds, and a command prints a handful of times; a progress display keeps the one
it was given for as long as it runs.
"""

from __future__ import annotations

from rich.console import Console


def out_console(*, highlight: bool = True) -> Console:
    """Standard output, as the terminal and ``COLUMNS`` are now."""
    return Console(highlight=highlight)


def err_console() -> Console:
    """Standard error, as the terminal and ``COLUMNS`` are now."""
    return Console(stderr=True)
