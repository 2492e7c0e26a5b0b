"""Consoles for the commands' output, built when they print.

rich reads ``COLUMNS`` once, when a ``Console`` is built: a console made at import time keeps
the width of whatever environment imported the module first (an embedding program, a test
that set a narrow ``COLUMNS``), and later tables fold where nothing asked for it. Building one
costs microseconds, and a command prints a handful of times; a progress display keeps the one
it was given for as long as it runs.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Output read by a program or a pager (``| grep``, ``| less -S``, a file) has no terminal
# width; rich would assume 80 columns and fold numbers in the middle. Lines that wide are
# kept whole instead, unless ``COLUMNS`` asks for a width.
PIPED_WIDTH = 240


def out_console(*, highlight: bool = True) -> Console:
    """Standard output, as the terminal and ``COLUMNS`` are now."""
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=highlight, width=PIPED_WIDTH if piped else None)


def err_console() -> Console:
    """Standard error, as the terminal and ``COLUMNS`` are now."""
    return Console(stderr=True)
