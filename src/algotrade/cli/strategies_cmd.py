"""``algotrade strategies``: which strategies there are and which parameters each one takes.

``show`` reads the strategy's parameter model (types, defaults, bounds, descriptions), for a
built-in name or the path of a user ``.py`` file; ``--json`` adds the model's JSON schema. An
unknown name or a file that does not load is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from algotrade.strategies.catalog import ParameterInfo

DASH = "–"

strategies_app = typer.Typer(
    name="strategies",
    help="Built-in strategies and their parameters: list, show.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _print(renderable: Table | Text) -> None:
    Console(highlight=False).print(renderable)


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@strategies_app.command("list")
def list_strategies(json_flag: JsonFlag = False) -> None:
    """The built-in strategies, one line each."""
    from algotrade.strategies.catalog import builtin_summaries  # noqa: PLC0415 (pydantic: lazy)

    summaries = builtin_summaries()
    if json_flag:
        _print_json([{"name": name, "summary": text} for name, text in summaries])
        return
    table = Table(header_style="bold", caption="parameters: algotrade strategies show NAME")
    table.add_column("NAME")
    table.add_column("DESCRIPTION", overflow="fold")
    for name, text in summaries:
        table.add_row(Text(name), Text(text or DASH))
    _print(table)


@strategies_app.command()
def show(
    strategy: Annotated[
        str,
        typer.Argument(metavar="NAME_OR_FILE", help="a built-in name or the path of a .py file"),
    ],
    json_flag: JsonFlag = False,
) -> None:
    """A strategy's parameters: type, default, bounds and description."""
    from algotrade.strategies.catalog import describe  # noqa: PLC0415 (pydantic: lazy)

    info = describe(strategy)
    if json_flag:
        _print_json(info.to_json())
        return
    heading = f"{info.name} ({info.source})" + (f": {info.summary}" if info.summary else "")
    _print(Text(heading, style="bold"))
    if not info.parameters:
        _print(Text("no parameters"))
        return
    table = Table(header_style="bold", caption="set one with --param NAME=VALUE")
    for header in ("PARAMETER", "TYPE", "DEFAULT", "BOUNDS", "DESCRIPTION"):
        table.add_column(header, overflow="fold")
    for parameter in info.parameters:
        table.add_row(
            Text(parameter.name),
            Text(parameter.type),
            Text(_default_text(parameter)),
            Text(", ".join(parameter.bounds) or DASH),
            Text(parameter.description or DASH),
        )
    _print(table)


def _default_text(parameter: ParameterInfo) -> str:
    if parameter.required:
        return "(required)"
    if parameter.default is None:
        return "none"
    if isinstance(parameter.default, bool):
        return "true" if parameter.default else "false"
    return str(parameter.default)
