"""A venue's code loads off the event loop: before the daemon first connects to a venue (or
watches an account on it), ``registry.load_runtime`` imports the factory's ``runtime_modules``
in a worker thread. Imported on the loop, they held every bot's bars for 0.5 - 1 s.

Each check runs in a fresh interpreter that has imported what a running daemon has, so the
venue's modules are really loaded during the measurement."""

from __future__ import annotations

import ast
import compileall
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import algotrade
from algotrade.venues.registry import BUILTIN_VENUES

VENUES = Path(algotrade.__file__).parent / "venues"
PACKAGE_OF = {"hyperliquid": "hyperliquid", "bybit": "ccxt", "projectx": "projectx"}
# Functions that run only for a download (``fetch-data``), never in the daemon's trading path.
DOWNLOAD_ONLY = frozenset({"history", "_history", "open_history"})

MEASURE = r"""
import asyncio, json, sys, time
import algotrade.daemon.service  # what a running daemon has imported already
from algotrade.venues.registry import get_venue, load_runtime

async def main(name):
    factory = get_venue(name)
    gaps = []

    async def beat():
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(beat())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await load_runtime(factory)
    took = time.perf_counter() - started
    await asyncio.sleep(0.01)
    ticker.cancel()
    return {"took": took, "max_gap": max(gaps), "loaded": sorted(sys.modules)}

print(json.dumps(asyncio.run(main(sys.argv[1]))))
"""


def measure(name: str) -> dict[str, Any]:
    # A first import also compiles the sources (one long call holding the interpreter lock);
    # a daemon that ran once has them compiled, as pip compiles the libraries at install.
    compileall.compile_dir(VENUES, quiet=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, name],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def lazy_imports(package: Path) -> set[str]:
    """Modules imported inside functions of ``package`` (not those of downloads only)."""
    found: set[str] = set()
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if function.name in DOWNLOAD_ONLY:
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                elif isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("name", sorted(BUILTIN_VENUES))
def test_a_venue_loads_in_a_worker_thread_with_everything_its_trading_path_imports_later(
    name: str,
) -> None:
    result = measure(name)
    # The import must be worth measuring: what a daemon has imported does not include it.
    assert result["took"] > 0.1, f"{name}: its runtime modules were already loaded"
    # The loop kept turning while the modules loaded (on the loop, the gap was the whole load).
    assert result["max_gap"] < result["took"] / 3, result["max_gap"]
    missing = lazy_imports(VENUES / PACKAGE_OF[name]) - set(result["loaded"])
    assert not missing, f"{name}: imported later on the event loop: {sorted(missing)}"
