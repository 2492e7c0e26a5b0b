"""What ``algotrade sweep`` and ``algotrade optimize`` share: where their bars come from
(``--symbols`` by reference or ``--data`` files), a stored run's options for ``--resume``, and
how values are shown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algotrade.cli.data_options import parse_range, reject_reference_options
from algotrade.core.errors import InputError

# Bars and the run store (polars, SQLAlchemy) are imported when a run needs them.
if TYPE_CHECKING:
    from algotrade.data.bars import BarData
    from algotrade.research.executors import Executor
    from algotrade.research.run_store import RunStore

# The options both commands take, spelled once.
StrategyOption = Annotated[
    str | None, typer.Option(help="built-in strategy name or a path to a .py file")
]
SymbolsOption = Annotated[
    str | None, typer.Option(help="VENUE:SYMBOL[,SYMBOL…] from the catalog (or --source)")
]
IntervalOption = Annotated[str | None, typer.Option(help="bar interval with --symbols")]
StartOption = Annotated[str | None, typer.Option(help="first bar time (ISO-8601 or date)")]
EndOption = Annotated[str | None, typer.Option(help="end of the range, exclusive")]
SourceOption = Annotated[
    str | None, typer.Option(help="catalog (default) or a postgresql://… warm tier")
]
DataFilesOption = Annotated[
    list[str] | None,
    typer.Option("--data", help="CSV/Parquet OHLCV file, or SYMBOL=FILE; repeat"),
]
OosFractionOption = Annotated[float, typer.Option(help="out-of-sample share of a fold")]
ClusterOption = Annotated[
    str, typer.Option(help="local (process pool), local:N (Dask LocalCluster), tcp://…")
]
HeatmapOption = Annotated[
    str | None,
    typer.Option(help="X,Y: the report's heatmap parameters (default: most distinct values)"),
]
WorkersOption = Annotated[
    int | None, typer.Option(help="processes of the local pool (default: all cores)")
]
CashOption = Annotated[str, typer.Option(help="initial cash")]
CommissionOption = Annotated[str, typer.Option(help="fee rate per fill, fraction of notional")]
SlippageOption = Annotated[str, typer.Option(help="adverse slippage on market fills")]
PeriodsOption = Annotated[int, typer.Option(help="annualisation of daily returns")]
DbUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="ALGOTRADE__DATABASE__URL",
        help="database of the run summaries (default sqlite:///<data-dir>/algotrade.db)",
    ),
]
ResumeOption = Annotated[
    str | None, typer.Option(help="continue the run RUN_ID with its stored options")
]
ReportOption = Annotated[Path | None, typer.Option(help="write an HTML report of the run")]


def check_no_run_options(*values: Any) -> None:
    """``--resume`` takes the run's stored options: ``InputError`` naming any given again."""
    names = ("--strategy", "--param", "--symbols", "--data")
    given = [name for name, value in zip(names, values, strict=True) if value]
    if given:
        raise InputError(f"--resume takes the run's stored options; drop {', '.join(given)}")


def data_ref(
    symbols: str | None,
    interval: str | None,
    start: str | None,
    end: str | None,
    source: str | None,
    data: list[str] | None,
) -> dict[str, Any]:
    if data and symbols:
        raise InputError("--data and --symbols: give one of them")
    if data:
        reject_reference_options(
            (("--interval", interval), ("--start", start), ("--end", end), ("--source", source))
        )
        files = [str(Path(item).resolve()) if "=" not in item else item for item in data]
        return {"files": files}
    if symbols is None:
        raise InputError("--symbols: required (VENUE:SYMBOL[,SYMBOL…]), or --data FILE")
    if interval is None:
        raise InputError("--interval: required with --symbols (e.g. 1h)")
    from algotrade.store.engine import mask_url  # noqa: PLC0415

    start_ns, end_ns = parse_range(start, end)
    return {
        "symbols": symbols,
        "interval": interval,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "source": None if source is None else mask_url(source),
    }


def stored_options(data_dir: Path, run_id: str, source: str | None) -> dict[str, Any]:
    from algotrade.research.run_store import RunStore  # noqa: PLC0415

    stored = RunStore(data_dir).load_run(run_id)
    spec = stored["spec"]
    options = dict(spec["options"])
    if source is None and "***" in str(options["data"].get("source") or ""):
        raise InputError("--source: the run's database URL has a password; give --source again")
    return options


def load_datasets(ref: dict[str, Any], data_dir: Path, source: str | None) -> dict[str, BarData]:
    """One dataset per symbol: ``VENUE:SYMBOL:INTERVAL`` (catalog) or ``file:SYMBOL``."""
    if "files" in ref:
        from algotrade.data.loader import load_bars  # noqa: PLC0415

        bars = load_bars(ref["files"])
        return {f"file:{symbol}": bars.for_symbol(symbol) for symbol in bars.symbols}
    from algotrade.data.catalog import parse_refs  # noqa: PLC0415
    from algotrade.data.intervals import interval_ns  # noqa: PLC0415
    from algotrade.data.sources import load_reference  # noqa: PLC0415

    venue, names = parse_refs(ref["symbols"])
    interval_ns(ref["interval"], field="--interval")
    bars = load_reference(
        venue,
        names,
        ref["interval"],
        ref["start_ns"],
        ref["end_ns"],
        data_dir=data_dir,
        source=source or ref["source"],
    )
    return {f"{venue}:{s}:{ref['interval']}": bars.for_symbol(s) for s in bars.symbols}


@contextmanager
def open_run(
    data_dir: Path, db_url: str | None, cluster: str, workers: int | None
) -> Iterator[tuple[RunStore, Executor]]:
    """The run store and the executor of a run whose every input is already checked (its
    plan built). A command says its plan inside, so a bad ``--db-url`` or an unreachable
    ``--cluster`` fails before a word of it, and bad input before anything is opened."""
    from algotrade.research.executors import make_executor  # noqa: PLC0415
    from algotrade.research.run_store import RunStore  # noqa: PLC0415
    from algotrade.store.errors import StoreError  # noqa: PLC0415

    url = db_url or f"sqlite:///{(data_dir / 'algotrade.db').as_posix()}"
    try:
        store = RunStore(data_dir, url)  # checks the URL; connects on open
    except StoreError as exc:
        raise InputError(f"--db-url: {exc}") from None
    with store, make_executor(cluster, workers=workers) as executor:
        yield store, executor


def cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def heatmap_axes(text: str | None, param_texts: list[str]) -> tuple[str, str] | None:
    """``--heatmap X,Y`` checked against the run's ``--param`` names, before anything runs."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",")]
    params = [param.partition("=")[0].strip() for param in param_texts]
    if len(names) != 2 or names[0] == names[1] or any(name not in params for name in names):
        raise InputError(
            f"--heatmap: expected two different --param names X,Y ({', '.join(params)}), "
            f"got {text!r}"
        )
    return names[0], names[1]
