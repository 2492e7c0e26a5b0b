"""The ``algotrade`` command."""

from __future__ import annotations

import typer

from algotrade import __version__
from algotrade.cli.backtest_cmd import backtest
from algotrade.cli.demo_cmd import demo, generate_data
from algotrade.cli.errors import run_guarded

app = typer.Typer(
    name="algotrade",
    help="algo-trade: backtest, paper-trade and run trading bots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(backtest)
app.command()(demo)
app.command("generate-data")(generate_data)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    run_guarded(lambda: app(prog_name="algotrade"))
