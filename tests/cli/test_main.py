"""The root ``algotrade`` command: lazy subcommands, ``--version``, flags shown as flags."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from algotrade import __version__
from algotrade.cli.main import AlgotradeGroup, app, load_command

RunMain = Callable[..., Any]
RUNNER = CliRunner()
# What the subcommands import and ``--help``/``--version`` must not (1.7 s before).
HEAVY_MODULES = (
    "fastapi",
    "sqlalchemy",
    "polars",
    "plotly",
    "httpx",
    "uvicorn",
    "numpy",
    "pydantic",
    "websockets",
    "yaml",
    "algotrade.core.strategy",
)
_IMPORTED_AFTER = """
import json, sys
from algotrade.cli.main import main
sys.argv = ["algotrade", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], []])
def test_help_and_version_import_no_subcommand(args: list[str]) -> None:
    script = _IMPORTED_AFTER.format(heavy=HEAVY_MODULES)
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.splitlines()[-1]) == []
    if args == ["--version"]:
        assert done.stdout == f"{__version__}\n"
    else:
        assert "Usage: algotrade" in done.stdout


def test_version_option_and_command(run_main: RunMain) -> None:
    assert run_main("--version").ok() == f"{__version__}\n"
    assert run_main("version").ok() == f"{__version__}\n"


def _command_paths() -> Iterator[list[str]]:
    """Every command and group, as the arguments that reach it."""
    yield []
    root = typer.main.get_command(app)
    ctx = root.make_context("algotrade", ["--help"], resilient_parsing=True)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        yield [name]
        for sub in getattr(command, "commands", {}):
            yield [name, sub]


@pytest.mark.parametrize("path", list(_command_paths()), ids=" ".join)
def test_help_shows_flags_without_a_type(path: list[str]) -> None:
    result = RUNNER.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout  # was on every flag: "--help <bool>"


def test_root_help_lines_match_the_loaded_commands() -> None:
    # The root lists lazy commands from their one-line help kept in main.py: it must say
    # what the command itself says.
    for name, spec in AlgotradeGroup.lazy_commands.items():
        command = load_command(name, spec)
        assert command.name == name
        own_help = (command.short_help or command.help or "").split("\n\n")[0]
        assert " ".join(own_help.split()) == spec.help, name


def test_subcommands_still_parse_their_options(run_main: RunMain) -> None:
    bad = run_main("generate-data", "--bars", "x", "--out", "o.csv")
    bad.one_line_error(2, "algotrade generate-data", "Invalid value for '--bars'")
    run_main("no-such").one_line_error(2, "No such command 'no-such'")
    run_main("bots", "lst").one_line_error(2, "No such command 'lst'", "'list'")


@pytest.mark.parametrize("path", list(_command_paths()), ids=" ".join)
def test_no_command_offers_shell_completion(path: list[str]) -> None:
    # Lazily loaded commands were built as one-command Typer apps, each adding
    # --install-completion/--show-completion to its help; the root disables completion.
    result = RUNNER.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert "--install-completion" not in result.stdout
