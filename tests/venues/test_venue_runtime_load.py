"""A venue's code loads off the event loop: before the daemon first connects to a venue (or
watches an account on it), ``registry.load_runtime`` imports the factory's ``runtime_modules``
in a worker thread. Imported on the loop, they held every bot's bars for 0.3 - 1 s
(docs/benchmarks.md).

Each check runs in a fresh interpreter that has imported what a running daemon has, so the
venue's modules are really loaded during the check; an audit hook records which thread
imports each module."""

from __future__ import annotations

import ast
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
import asyncio, json, sys, threading
import algotrade.daemon.service  # what a running daemon has imported already
from algotrade.venues.registry import get_venue, load_runtime

imports = []  # (module, thread) of every module imported while the venue loads

def audit(event, args):
    if event == "import" and loading:
        imports.append((args[0], threading.current_thread() is threading.main_thread()))

loading = False
sys.addaudithook(audit)

async def main(name):
    global loading
    factory = get_venue(name)
    loading = True
    await load_runtime(factory)
    loading = False
    on_loop = sorted({module for module, main in imports if main})
    return {"imported": len(imports), "on_loop": on_loop, "loaded": sorted(sys.modules)}

print(json.dumps(asyncio.run(main(sys.argv[1]))))
"""


def measure(name: str) -> dict[str, Any]:
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
    # What a daemon has imported does not include the venue's code: it is loaded here, and
    # by a worker thread, never by the event loop's (the main) thread. (Not a timing check:
    # how long the loop pauses depends on the machine's load, as a CI run showed.)
    assert result["imported"] > 0, f"{name}: its runtime modules were already loaded"
    assert result["on_loop"] == [], result["on_loop"]
    missing = lazy_imports(VENUES / PACKAGE_OF[name]) - set(result["loaded"])
    assert not missing, f"{name}: imported later on the event loop: {sorted(missing)}"
