"""What a daemon loads: polars, pyarrow and psycopg only when something needs them.

Every start paid ~0.4 s for polars and numpy (the backtest job's module) and psycopg on
SQLite; a backtest job imports them in its own worker process, a dataset listing in a thread.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testkit.daemon_process import DaemonProcess, wait_until

HEAVY = ("polars", "pyarrow", "duckdb", "psycopg", "plotly")


def test_the_daemon_and_its_api_import_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import algotrade.daemon.runtime, algotrade.api.app\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
def test_a_running_daemon_maps_polars_only_once_a_dataset_is_listed(tmp_path: Path) -> None:
    """A real daemon on SQLite with a running sim bot and its backtest routes answering has
    neither polars' nor psycopg's native code mapped; listing a Parquet dataset loads polars
    (in a thread) and works."""
    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        assert daemon.proc is not None
        bot = {
            "bot_id": "sim1",
            "symbol": "SIM-1",
            "strategy": "ma_crossover",
            "params": {"fast": 2, "slow": 5, "qty": 1},
            "feed": "sim",
            "feed_options": {"seed": 1, "tick_seconds": 0.02},
        }
        daemon.ok("POST", "/api/bots", json=bot)
        daemon.ok("PUT", "/api/bots/sim1/start")
        wait_until(
            lambda: daemon.ok("GET", "/api/bots/sim1/fills?limit=1")["total"] >= 1,
            timeout=30,
            what="a fill of the sim bot",
        )
        assert daemon.ok("GET", "/api/backtests") == []
        maps = mapped_libraries(daemon.proc.pid)
        assert "polars" not in maps
        assert "psycopg" not in maps
        assert "libpq" not in maps

        import polars as pl

        datasets = tmp_path / "data" / "datasets"
        datasets.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"timestamp": [1, 2, 3]}).write_parquet(datasets / "three.parquet")
        listed = daemon.ok("GET", "/api/datasets")
        assert [(d["name"], d["rows"]) for d in listed if d["name"] == "three.parquet"] == [
            ("three.parquet", 3)
        ]
        assert "polars" in mapped_libraries(daemon.proc.pid)
    finally:
        daemon.kill()
