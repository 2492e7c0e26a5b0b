"""``DaskExecutor``: batches on a Dask distributed cluster (a running scheduler or a
``LocalCluster`` started for the run). The only module that imports dask.

- Data: ``put_data`` registers a worker plugin carrying the datasets' IPC bytes: the scheduler
  hands it to every worker once, and to a worker that joins later (a replacement for a dead
  one) when it registers; tasks carry only their batch, and a worker decodes a dataset on
  first use only (``worker_data.bars_for``). (``scatter(broadcast=True)`` replicates after
  the first copy and was measured to deliver a dataset twice to some workers.) The plugin is
  removed when the executor closes, so a shared cluster does not keep the data.
- Tasks: one per batch, submitted a bounded number ahead of the results; results stream back
  in completion order (``distributed.as_completed``).
- Failures: a worker that dies takes its running tasks with it; the scheduler reschedules them
  on the others (up to ``distributed.scheduler.allowed-failures`` deaths per task), and
  ``retries`` re-runs a task whose code raised.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

from distributed.diagnostics.plugin import WorkerPlugin

from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.research import worker_data
from algotrade.research.evaluate import Batch, ResultRow
from algotrade.research.worker_data import BatchOutcome, DatasetPayload, WorkerData

CONNECT_TIMEOUT_S = 10
# distributed ships no type information: its objects are Any here.
Client = Any
Future = Any
LocalCluster = Any
QUEUED_PER_WORKER = 2


class DatasetsPlugin(WorkerPlugin):
    """Installs the datasets in every worker (under the plugin's name as the namespace)."""

    def __init__(self, name: str, payloads: list[DatasetPayload]) -> None:
        self.name = name
        self.payloads = payloads

    def setup(self, worker: Any) -> None:
        worker_data.install(self.payloads, namespace=self.name)

    def teardown(self, worker: Any) -> None:
        worker_data.uninstall(self.name)


class DaskExecutor:
    """Batches as Dask tasks; build it with ``connect`` or ``local_cluster``."""

    def __init__(
        self, client: Client, *, cluster: LocalCluster | None = None, retries: int = 3
    ) -> None:
        self._client = client
        self._cluster = cluster
        self._retries = retries
        self._plugin: str | None = None
        self._loads: dict[str, WorkerData] = {}
        self._run_key = ""

    @classmethod
    def connect(cls, address: str, *, retries: int = 3) -> DaskExecutor:
        """A client of the scheduler at ``address``; ``InputError`` if it does not answer."""
        try:
            client = _distributed().Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise InputError(
                f"--cluster {address}: cannot reach the Dask scheduler ({reason})"
            ) from None
        return cls(client, retries=retries)

    @classmethod
    def local_cluster(cls, workers: int, *, retries: int = 3) -> DaskExecutor:
        """Start a ``LocalCluster`` of ``workers`` processes with one thread each."""
        distributed = _distributed()
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        try:
            client = distributed.Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
        return cls(client, cluster=cluster, retries=retries)

    @property
    def client(self) -> Client:
        return self._client

    @property
    def workers(self) -> int:
        info = self._client.scheduler_info(n_workers=-1)["workers"]
        return max(1, sum(int(worker.get("nthreads", 1)) for worker in info.values()))

    def put_data(self, datasets: Mapping[str, BarData]) -> None:
        payloads = list(worker_data.encode(datasets).values())
        self._remove_plugin()
        name = f"algotrade-datasets-{uuid.uuid4().hex[:12]}"
        self._client.register_plugin(DatasetsPlugin(name, payloads), name=name)
        self._plugin = name

    def data_loads(self) -> dict[str, WorkerData]:
        return dict(self._loads)

    def run(self, batches: Iterable[Batch]) -> Iterator[list[ResultRow]]:
        pending = iter(batches)
        self._run_key = uuid.uuid4().hex[:12]  # task keys unique per run, even for one batch id
        limit = self.workers * (1 + QUEUED_PER_WORKER)
        running: set[Future] = set()
        completed = _distributed().as_completed(loop=self._client.loop)
        try:
            for _ in range(limit):
                if not self._submit(next(pending, None), running, completed):
                    break
            for future in completed:
                running.discard(future)
                outcome: BatchOutcome = future.result()
                self._loads[outcome.worker] = outcome.data
                self._submit(next(pending, None), running, completed)
                yield outcome.rows
        finally:
            for future in running:
                future.cancel()

    def _submit(self, batch: Batch | None, running: set[Future], completed: Any) -> bool:
        if batch is None:
            return False
        if self._plugin is None:
            raise RuntimeError("put_data must be called before run")
        future = self._client.submit(
            worker_data.run_installed,
            batch,
            self._plugin,
            key=f"algotrade-batch-{self._run_key}-{batch.batch_id}",
            retries=self._retries,
            pure=False,
        )
        running.add(future)
        completed.add(future)
        return True

    def _remove_plugin(self) -> None:
        if self._plugin is not None:
            self._client.unregister_worker_plugin(self._plugin)
            self._plugin = None

    def close(self) -> None:
        try:
            if self._client.status == "running":
                self._remove_plugin()
        finally:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _distributed() -> Any:
    """The ``distributed`` module, imported on first use (it takes ~1 s)."""
    return importlib.import_module("distributed")
