"""The ``algotrade`` command."""

from __future__ import annotations

import typer
from typer.exceptions import TyperException

from algotrade import __version__
from algotrade.cli.backtest_cmd import backtest
from algotrade.cli.bots_cmd import bots_app
from algotrade.cli.daemon_cmd import daemon
from algotrade.cli.demo_cmd import demo, generate_data
from algotrade.cli.errors import fail, run_guarded
from algotrade.cli.fetch_data_cmd import fetch_data
from algotrade.cli.risk_cmd import risk_app
from algotrade.cli.venues_cmd import venues_app

app = typer.Typer(
    name="algotrade",
    help="algo-trade: backtest, paper-trade and run trading bots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(backtest)
app.command()(daemon)
app.command("run", help="Alias of 'daemon'.")(daemon)
app.command()(demo)
app.command("generate-data")(generate_data)
app.command("fetch-data")(fetch_data)
app.add_typer(bots_app, name="bots")
app.add_typer(risk_app, name="risk")
app.add_typer(venues_app, name="venues")


@app.command()
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
    if isinstance(code, int) and code:
        raise SystemExit(code)
