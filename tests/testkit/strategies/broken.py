"""A user strategy file whose ``on_bar`` always raises: how a bot fails with a strategy bug."""

from __future__ import annotations

from pathlib import Path

SOURCE = (
    "from algotrade.core.strategy import Strategy\n"
    "class Broken(Strategy):\n"
    "    name = 'broken'\n"
    "    def on_bar(self, bar):\n"
    "        raise RuntimeError('boom at ' + bar.symbol)\n"
)
RAISING_LINE = 5  # of SOURCE


def broken_strategy_file(folder: Path) -> Path:
    path = folder / "broken.py"
    path.write_text(SOURCE)
    return path
