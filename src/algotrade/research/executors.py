"""Where batches run: the ``Executor`` protocol and ``make_executor`` to pick one by name.

- ``"local"``: a process pool on this machine (``workers``, default all cores);
- ``"local:N"`` / ``"dask:local:N"``: a Dask ``LocalCluster`` of N worker processes started
  for the run (one thread each);
- ``"tcp://host:port"`` (or ``"dask:tcp://…"``): a running Dask scheduler.

Every executor receives the datasets once per worker (``put_data``) and yields each batch's
rows as soon as that batch finishes, in completion order. Dask is imported only when chosen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Protocol, Self

from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.research.evaluate import Batch, ResultRow
from algotrade.research.worker_data import WorkerData

DEFAULT_RETRIES = 3
_LOCAL_CLUSTER = re.compile(r"^(?:dask:)?local:([1-9]\d{0,3})$")


class Executor(Protocol):
    """Runs batches of backtests on workers that hold the datasets."""

    @property
    def workers(self) -> int:
        """Batches that can run at once."""
        ...

    def put_data(self, datasets: Mapping[str, BarData]) -> None:
        """Hand ``datasets`` (key -> bars) to the workers; each worker receives them once."""
        ...

    def run(self, batches: Iterable[Batch]) -> Iterator[list[ResultRow]]:
        """Run ``batches``; yield each one's rows as it finishes. Closing the iterator early
        cancels the batches not yet finished."""
        ...

    def data_loads(self) -> dict[str, WorkerData]:
        """Per worker (host:pid) that ran a batch: how often it received and decoded each
        dataset, as its latest batch reported."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def check_cluster(cluster: str, workers: int | None = None) -> tuple[str, int | str]:
    """``("local", processes)``, ``("dask-local", workers)`` or ``("dask", address)`` for
    ``cluster``; ``InputError`` naming ``--cluster`` or ``--workers`` for a bad value. Starts
    nothing, so a command can check its options before loading data."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers: must be at least 1, got {workers}")
    text = cluster.strip()
    if text == "local":
        return "local", workers or os.cpu_count() or 1
    if match := _LOCAL_CLUSTER.match(text):
        if workers is not None:
            raise InputError("--workers: not used with --cluster local:N (N is the worker count)")
        return "dask-local", int(match.group(1))
    address = text.removeprefix("dask:")
    if address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        return "dask", address
    raise InputError(
        "--cluster: expected local, local:N or a scheduler address tcp://host:port, "
        f"got {cluster!r}"
    )


def make_executor(
    cluster: str = "local", *, workers: int | None = None, retries: int = DEFAULT_RETRIES
) -> Executor:
    """The executor named by ``cluster`` (see the module docstring and ``check_cluster``)."""
    kind, where = check_cluster(cluster, workers)
    if kind == "local":
        from algotrade.research.executor_local import LocalExecutor  # noqa: PLC0415

        return LocalExecutor(int(where), retries=retries)
    from algotrade.research.executor_dask import DaskExecutor  # noqa: PLC0415

    if kind == "dask-local":
        return DaskExecutor.local_cluster(int(where), retries=retries)
    return DaskExecutor.connect(str(where), retries=retries)
