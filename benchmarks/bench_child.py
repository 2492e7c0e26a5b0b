"""Measurements in fresh child processes, shared by the daemon benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def clean_env() -> dict[str, str]:
    """The environment without algotrade settings or API keys: an open loopback daemon."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE")}


def run_script_child(script: str, *argv: str) -> dict[str, Any]:
    """Run ``script`` with ``argv`` in a fresh interpreter; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, script, *argv],
        check=False,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    if out.returncode:
        raise RuntimeError(f"child {argv} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
