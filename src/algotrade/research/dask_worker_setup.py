"""Preload of each worker process of a ``LocalCluster`` started for a run (``executor_dask``):
Dask imports this module in the worker and calls ``dask_setup`` as the worker starts.

Ctrl-C is the run's, not its workers' (``algotrade.worker_process``): the worker began with
SIGINT blocked (inherited from the cluster's event loop thread); here it ignores SIGINT, which
also discards a Ctrl-C held meanwhile."""

from __future__ import annotations

from algotrade.worker_process import ignore_sigint


def dask_setup(worker: object) -> None:
    ignore_sigint()
