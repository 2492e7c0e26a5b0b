"""The CLI imports heavy libraries only when a command that needs them runs: ``algotrade
--help`` and each command's ``--help`` (which imports the command's module) stay fast."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from algotrade.cli import bots_cmd, sweep_cmd
from algotrade.cli.main import AlgotradeGroup
from algotrade.cli.risk_cmd import LOG_KINDS
from algotrade.cli.screen_cmd import SORT_NAMES

# Not pydantic: typer itself (typer._adapters) imports it when it parses a command line.
HEAVY = (
    "polars",
    "numpy",
    "pyarrow",
    "plotly",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "optuna",
    "httpx",
    "websockets",
    "algotrade.core.engine",
    "algotrade.store",
    "algotrade.api",
)
# Commands whose module imports none of HEAVY: loading it is what their --help does.
LIGHT_COMMANDS = (
    "backtest",
    "daemon",
    "run",
    "demo",
    "generate-data",
    "data",
    "fetch-data",
    "screen",
    "strategies",
    "health",
    "doctor",
    "db",
    "deploy",
    "service",
    "tui",
    "risk",
    "venues",
    "bots",
    "sweep",
    "optimize",
)
LIGHT_DATA_COMMANDS = ("download", "sync")


def heavy_modules_after(code: str) -> list[str]:
    """The HEAVY modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    report = f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert heavy_modules_after("import algotrade.cli.main") == []


def test_root_help_loads_no_heavy_library() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from algotrade.cli.main import main\n"
        "sys.argv = ['algotrade', '--help']\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main()"
    )
    assert heavy_modules_after(code) == []


@pytest.mark.parametrize("name", LIGHT_COMMANDS)
def test_loading_a_command_loads_no_heavy_library(name: str) -> None:
    assert name in AlgotradeGroup.lazy_commands
    code = (
        "import algotrade.cli.main as m\n"
        f"m.load_command({name!r}, m.AlgotradeGroup.lazy_commands[{name!r}])"
    )
    assert heavy_modules_after(code) == []


@pytest.mark.parametrize("name", LIGHT_DATA_COMMANDS)
def test_loading_a_data_subcommand_loads_no_heavy_library(name: str) -> None:
    code = (
        "import algotrade.cli.main as m\n"
        "from algotrade.cli.data_cmd import DataGroup\n"
        f"m.load_command({name!r}, DataGroup.lazy_commands[{name!r}])"
    )
    assert heavy_modules_after(code) == []


def test_backtest_help_runs_without_heavy_libraries() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from algotrade.cli.main import main\n"
        "sys.argv = ['algotrade', 'backtest', '--help']\n"
        "out = io.StringIO()\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(out):\n"
        "    main()\n"
        "assert '--report' in out.getvalue(), out.getvalue()"
    )
    assert heavy_modules_after(code) == []


def test_screen_sort_names_are_the_screeners() -> None:
    from algotrade.research.screen import SORTS

    assert tuple(SORTS) == SORT_NAMES


def test_risk_log_kinds_are_the_stores() -> None:
    from algotrade.store.records_risk import LOG_KINDS as STORED_KINDS  # SQLAlchemy: only here

    assert STORED_KINDS == LOG_KINDS


def test_bots_id_pattern_and_modes_are_the_daemons() -> None:
    from algotrade.daemon import bot_config  # pydantic, the venue registry: only here

    assert bot_config.BOT_ID_PATTERN == bots_cmd.BOT_ID_PATTERN
    assert [m.value for m in bot_config.ExecutionMode] == [m.value for m in bots_cmd.ExecutionMode]


def test_sweep_default_batch_size_is_the_sweeps() -> None:
    from algotrade.research.sweep import DEFAULT_BATCH_SIZE  # polars: only here

    assert DEFAULT_BATCH_SIZE == sweep_cmd.DEFAULT_BATCH_SIZE
