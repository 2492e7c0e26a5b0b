"""Research at scale: parameter sweeps, optimization and walk-forward checks of a strategy.

``evaluate`` defines the unit of work (a ``Batch`` of parameter sets on one dataset window);
``executors`` runs batches on a local process pool or a Dask cluster; ``run_store`` keeps the
results (Parquet per batch, a summary row in the daemon's database) so runs resume; ``sweep``
drives a grid or random sweep. Heavy dependencies (dask, optuna) load only where used.
"""
