"""``DaskExecutor``: batches on a Dask distributed cluster (a running scheduler or a
``LocalCluster`` started for the run). The only module that imports dask.

- Data: ``put_data`` registers a worker plugin carrying the datasets' IPC bytes: the scheduler
  hands it to every worker once, and to a worker that joins later (a replacement for a dead
  one) when it registers; tasks carry only their batch, and a worker decodes a dataset on
  first use only (``worker_data.bars_for``). (``scatter(broadcast=True)`` replicates after
  the first copy and was measured to deliver a dataset twice to some workers.) The plugin is
  removed when the executor closes, so a shared cluster does not keep the data; a cluster of
  ours closes with it (removing the plugin from workers that were closing failed there with a
  KeyError, which buried the Ctrl-C's line).
- Tasks: one per batch, submitted a bounded number ahead of the results; results stream back
  in completion order (``distributed.as_completed``).
- Failures: a worker that dies takes its running tasks with it; the scheduler reschedules them
  on the others (up to ``distributed.scheduler.allowed-failures`` deaths per task), and
  ``retries`` re-runs a task whose code raised.
- Ctrl-C of a run on a ``LocalCluster`` it started is the run's alone, as with the local pool
  (``algotrade.worker_process``): the cluster is created with SIGINT blocked, so its event loop
  thread keeps it blocked, and so does every worker process a nanny starts from that thread (now
  or as a replacement); each worker then ignores SIGINT (its preload, ``dask_worker_setup``). A
  Ctrl-C while the cluster starts is raised once it is up. A run left early (Ctrl-C, an error)
  stops the cluster's workers at once (SIGTERM; their nannies do not replace them) instead of
  waiting for the batches they run, and a Ctrl-C does not cut the close short (it is raised
  once the close is done). A remote scheduler's workers are not the run's: there, only the
  run's tasks are cancelled.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

from distributed.core import Status
from distributed.diagnostics.plugin import WorkerPlugin

from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.research import worker_data
from algotrade.research.evaluate import Batch, ResultRow
from algotrade.research.worker_data import BatchOutcome, DatasetPayload, WorkerData
from algotrade.worker_process import ctrl_c_held, starting_workers_without_sigint

CONNECT_TIMEOUT_S = 10
# distributed ships no type information: its objects are Any here.
Client = Any
Future = Any
LocalCluster = Any
QUEUED_PER_WORKER = 2
# The scheduler serves HTTP (health, metrics) whether or not it shows a dashboard; on its default
# port, 8787, a second run (or anything else there) made Dask warn that the port was taken.
SCHEDULER_HTTP_ADDRESS = "127.0.0.1:0"


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
        self,
        client: Client,
        *,
        cluster: LocalCluster | None = None,
        scratch_dir: str | None = None,
        retries: int = 3,
    ) -> None:
        self._client = client
        self._cluster = cluster
        self._scratch_dir = scratch_dir  # removed with the cluster
        self._retries = retries
        self._plugin: str | None = None
        self._loads: dict[str, WorkerData] = {}
        self._run_key = ""
        # A run left before its end (Ctrl-C, an error): the cluster's workers may still be
        # running its batches, and close() must not wait for them.
        self._unfinished = False

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
        # Its own scratch directory: in the shared one, Dask purges the directories of other
        # clusters' workers that ended, and logged an error when two runs raced to remove one.
        scratch_dir = tempfile.mkdtemp(prefix="algotrade-dask-")
        executor: DaskExecutor | None = None
        try:
            # Its threads, and so its worker processes, start with SIGINT blocked (see the
            # module docstring); a Ctrl-C meanwhile is raised when the block ends.
            with starting_workers_without_sigint():
                cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    scheduler_kwargs={
                        "dashboard_address": SCHEDULER_HTTP_ADDRESS,
                        "local_directory": scratch_dir,
                    },
                    local_directory=scratch_dir,
                    silence_logs=logging.ERROR,
                    preload=["algotrade.research.dask_worker_setup"],
                )
                try:
                    client = distributed.Client(cluster, set_as_default=False)
                except BaseException:
                    cluster.close()
                    raise
                executor = cls(client, cluster=cluster, scratch_dir=scratch_dir, retries=retries)
        except BaseException:
            if executor is not None:  # the Ctrl-C came while the cluster started
                executor._unfinished = True
                executor.close()
            else:
                shutil.rmtree(scratch_dir, ignore_errors=True)
            raise
        return executor

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
        self._unfinished = True
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
            self._unfinished = False
        finally:
            if running:
                self._client.cancel(list(running))

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
        # Not cut short by a Ctrl-C, which is raised once it is done: Dask cancels a close cut
        # short, which leaves the cluster "closing" for good, and a second close waits forever.
        with ctrl_c_held():
            try:
                if self._cluster is None and self._client.status == "running":
                    self._remove_plugin()  # a shared cluster does not keep the data
            finally:
                self._client.close()
                if self._cluster is not None and self._unfinished:
                    _stop_local_cluster(self._cluster)
                elif self._cluster is not None:
                    self._cluster.close()
                if self._scratch_dir is not None:  # temporary files only: best effort
                    shutil.rmtree(self._scratch_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._unfinished = True
        self.close()


def _stop_local_cluster(cluster: LocalCluster) -> None:
    """Close a cluster of ours now, for a run left early: its workers are sent SIGTERM (a nanny
    whose worker ends does not start another), then the cluster closes (a nanny kills a worker
    that is still there after 4 s) with its scheduler. Their batches' results would be discarded
    anyway."""
    if cluster.status != Status.closed:
        cluster.sync(_terminate_workers, cluster)
        cluster.close()


async def _terminate_workers(cluster: LocalCluster) -> None:
    """On the cluster's event loop: no nanny replaces its worker from now on, and each worker
    process is sent SIGTERM (a Dask worker has no handler for it: it ends at once)."""
    for nanny in list(cluster.workers.values()):
        if nanny.status == Status.running:  # (else it is closing already)
            nanny.close_gracefully()
        if nanny.pid is not None:
            try:
                os.kill(nanny.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue  # ended meanwhile


def _distributed() -> Any:
    """The ``distributed`` module, imported on first use (it takes ~1 s)."""
    return importlib.import_module("distributed")
