"""The ``algotrade`` command.

Subcommands are imported when they are run, not when the root command is built: ``algotrade
--help`` and ``--version`` used to import polars, SQLAlchemy, FastAPI, plotly and the rest
(1.7 s). ``LazyGroup`` lists every subcommand with a one-line help kept here, and imports its
module only when the subcommand itself is resolved.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.exceptions import TyperException

from algotrade import __version__
from algotrade.cli.errors import EXIT_INTERRUPTED, fail, run_guarded

HELP = "algo-trade: backtest, paper-trade and run trading bots."


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A subcommand imported on first use.

    ``target`` is ``module:attribute``: a ``typer.Typer`` (a command group) or a command
    function. ``help`` is its line in the root's command list; a test checks it against the
    loaded command's own help. ``alias`` replaces the function's docstring (``run``).
    """

    target: str
    help: str
    alias: bool = False


# -- flags shown as flags ---------------------------------------------------------------------


def _untyped_flags(params: list[Any]) -> list[Any]:
    # typer's rich help prints a type after every option, ``<bool>`` even after a flag
    # (``--help <bool>``), as if it took a value. A flag takes none: no type column.
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class FlagCommand(TyperCommand):
    """A typer command whose help shows flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class FlagGroup(TyperGroup):
    """A typer group whose help shows flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


def _use_flag_classes(app: typer.Typer) -> None:
    """Build ``app``'s commands and groups (and those of its sub-apps) with the classes above,
    unless one chose its own class."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):  # typer's default
            command.cls = FlagCommand
    if not isinstance(app.info.cls, type):  # typer's "not given" placeholder
        app.info.cls = FlagGroup
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _use_flag_classes(group.typer_instance)


# -- lazy subcommands -------------------------------------------------------------------------


class _NotLoaded(TyperCommand):
    """Stands for a lazy subcommand in the root's help listing; never invoked."""


class LazyGroup(FlagGroup):
    """A root group whose ``lazy_commands`` are imported only when resolved."""

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        eager = dict(self.commands)
        self.commands = {
            name: _NotLoaded(name=name, help=spec.help) for name, spec in self.lazy_commands.items()
        }
        self.commands.update(eager)
        self._listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # The command list needs names and one-line helps only: nothing is imported for it.
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if isinstance(command, _NotLoaded) and not self._listing:
            command = self.commands[cmd_name] = load_command(cmd_name, self.lazy_commands[cmd_name])
        return command


def load_command(name: str, spec: LazyCommand) -> Any:
    """Import ``spec.target`` and build its click command (a group for a ``typer.Typer``)."""
    module_name, _, attribute = spec.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        _use_flag_classes(target)
        command: Any = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)  # only the root could offer completion
        single.command(name, help=spec.help if spec.alias else None, cls=FlagCommand)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class AlgotradeGroup(LazyGroup):
    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {
        "backtest": LazyCommand(
            "algotrade.cli.backtest_cmd:backtest",
            "Backtest a strategy on historical bars with the paper venue.",
        ),
        "daemon": LazyCommand(
            "algotrade.cli.daemon_cmd:daemon",
            "Run the bot daemon in the foreground (for systemd, Docker or a terminal).",
        ),
        "run": LazyCommand("algotrade.cli.daemon_cmd:daemon", "Alias of 'daemon'.", alias=True),
        "demo": LazyCommand(
            "algotrade.cli.demo_cmd:demo",
            "Backtest ma_crossover on SIMULATED prices and write out/demo-report.html.",
        ),
        "generate-data": LazyCommand(
            "algotrade.cli.demo_cmd:generate_data",
            "Write SIMULATED 1-minute OHLCV bars (seeded random walk) to a file.",
        ),
        "fetch-data": LazyCommand(
            "algotrade.cli.fetch_data_cmd:fetch_data",
            "Download historical bars (resumable: rerun the same command to continue).",
        ),
        "data": LazyCommand(
            "algotrade.cli.data_cmd:data_app",
            "The bar catalog: download, list, show, gaps, import, resample, export, sync.",
        ),
        "screen": LazyCommand(
            "algotrade.cli.screen_cmd:screen_command",
            "Rank a venue's symbols by liquidity, volatility and trend over a lookback window.",
        ),
        "strategies": LazyCommand(
            "algotrade.cli.strategies_cmd:strategies_app",
            "Built-in strategies and their parameters: list, show.",
        ),
        "bots": LazyCommand(
            "algotrade.cli.bots_cmd:bots_app",
            "Manage the bots of a running daemon over its API: list, create, start, watch, ...",
        ),
        "risk": LazyCommand(
            "algotrade.cli.risk_cmd:risk_app",
            "Account risk: replay rules over an event file; status, lockouts, log, unlock.",
        ),
        "tui": LazyCommand(
            "algotrade.cli.tui_cmd:tui", "Terminal UI of a running daemon (--serve: in a browser)."
        ),
        "sweep": LazyCommand(
            "algotrade.cli.sweep_cmd:sweep",
            "Sweep a strategy's parameters (grid or random) over symbols; stored and resumable.",
        ),
        "optimize": LazyCommand(
            "algotrade.cli.optimize_cmd:optimize",
            "Optimize a strategy's parameters with Optuna (TPE, NSGA-II, pruning); resumable.",
        ),
        "health": LazyCommand(
            "algotrade.cli.health_cmd:health",
            "Exit 0 when the daemon answers healthy, 1 otherwise (for probes).",
        ),
        "doctor": LazyCommand(
            "algotrade.cli.doctor_cmd:doctor",
            "Check config, permissions, database, venues, clock and disk; print what to fix.",
        ),
        "db": LazyCommand(
            "algotrade.cli.db_cmd:db_app",
            "The daemon's database: backup, restore, upgrade, current, check.",
        ),
        "deploy": LazyCommand(
            "algotrade.cli.deploy_cmd:deploy_app",
            "Deployment files for this install: systemd unit.",
        ),
        "service": LazyCommand(
            "algotrade.cli.service_cmd:service_app",
            "Windows service of the daemon: install, start, stop, remove, status.",
        ),
        "venues": LazyCommand(
            "algotrade.cli.venues_cmd:venues_app",
            "Live venues of a running daemon: connection, reconciliation, blocks, alerts.",
        ),
    }


app = typer.Typer(
    name="algotrade",
    cls=AlgotradeGroup,
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            expose_value=False,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """algo-trade: backtest, paper-trade and run trading bots."""


@app.command(cls=FlagCommand)
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    run_guarded(_invoke)


def _invoke() -> None:
    # standalone_mode=False hands usage errors to us, so they print as one line like every
    # other input error instead of click's multi-line box.
    try:
        code = app(prog_name="algotrade", standalone_mode=False)
    except TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())  # bare ``algotrade``: help, not an error
            raise SystemExit(0) from None
        command = ctx.command_path if ctx is not None else "algotrade"
        fail(f"{command}: {exc.format_message()} (see --help)")
    except typer.Abort:
        fail("aborted", 1)
    if code == EXIT_INTERRUPTED:
        # Typer turns a KeyboardInterrupt into this exit code without a word; commands that
        # report an interruption themselves exit with SystemExit instead (errors.exit_interrupted).
        fail("interrupted", EXIT_INTERRUPTED)
    if isinstance(code, int) and code:
        raise SystemExit(code)
