"""The worker side of every executor: datasets held once per process, batches run against them.

Market data travels to a worker once as Arrow IPC bytes (a pool initializer, or a Dask worker
plugin that the scheduler hands every worker, also one that joins later); the first batch that
needs a dataset decodes it and later batches reuse the decoded ``BarData``. ``RECEIVED`` counts
how often this process unpickled each dataset (it arrived), ``DECODED`` how often it decoded
one: the executors' ``data_loads()`` report both, so a test can check that data is not shipped
per task.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from algotrade.data.bars import BarData
from algotrade.research.evaluate import Batch, ResultRow, evaluate_batch


@dataclass(frozen=True, slots=True)
class DatasetPayload:
    """One dataset as shipped to workers: its key, a digest of its bytes, Arrow IPC bytes."""

    key: str
    digest: str
    data: bytes

    def __reduce__(self) -> tuple[Any, tuple[str, str, bytes]]:
        # Unpickling goes through _arrived, which counts each arrival in the receiving process.
        return _arrived, (self.key, self.digest, self.data)


@dataclass(frozen=True, slots=True)
class WorkerData:
    """Per dataset key: times a worker received (unpickled) it and times it decoded it."""

    received: dict[str, int] = field(default_factory=dict)
    decoded: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a worker sends back for one batch."""

    worker: str
    data: WorkerData  # this worker's counts so far
    rows: list[ResultRow]


# Per-process state, by (namespace, dataset key): the payloads given to ``install`` and the
# decoded bars with the digest they were decoded from; the counters by dataset key. A namespace
# keeps two sweeps that share Dask workers (and maybe dataset keys) apart.
_payloads: dict[tuple[str, str], DatasetPayload] = {}
_datasets: dict[tuple[str, str], tuple[str, BarData]] = {}
RECEIVED: dict[str, int] = {}
DECODED: dict[str, int] = {}


def _arrived(key: str, digest: str, data: bytes) -> DatasetPayload:
    RECEIVED[key] = RECEIVED.get(key, 0) + 1
    return DatasetPayload(key, digest, data)


def encode(datasets: Mapping[str, BarData]) -> dict[str, DatasetPayload]:
    """Each dataset as IPC bytes (compressed: a worker on another machine gets it by network)."""
    payloads = {}
    for key, bars in datasets.items():
        buffer = io.BytesIO()
        bars.frame.write_ipc(buffer, compression="lz4")
        data = buffer.getvalue()
        payloads[key] = DatasetPayload(key, hashlib.sha256(data).hexdigest(), data)
    return payloads


def install(payloads: Iterable[DatasetPayload], namespace: str = "") -> None:
    """Keep the payloads (a pool initializer, or a Dask worker plugin's setup); each is decoded
    when a batch first needs it."""
    for payload in payloads:
        _payloads[namespace, payload.key] = payload


def uninstall(namespace: str) -> None:
    """Forget a namespace's payloads and decoded bars (a finished run frees the memory)."""
    for held in (_payloads, _datasets):
        for name in [name for name in held if name[0] == namespace]:
            del held[name]


def bars_for(payload: DatasetPayload, namespace: str = "") -> BarData:
    """The decoded dataset, decoding it only the first time this process sees its bytes."""
    held = _datasets.get((namespace, payload.key))
    if held is not None and held[0] == payload.digest:
        return held[1]
    frame = pl.read_ipc(io.BytesIO(payload.data))
    bars = BarData.from_validated(frame)
    _datasets[namespace, payload.key] = (payload.digest, bars)
    DECODED[payload.key] = DECODED.get(payload.key, 0) + 1
    return bars


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_installed(batch: Batch, namespace: str = "") -> BatchOutcome:
    """Run ``batch`` on its dataset as given to ``install`` (the task of every executor)."""
    payload = _payloads.get((namespace, batch.dataset))
    if payload is None:
        raise KeyError(f"dataset {batch.dataset!r} was not given to worker {worker_name()}")
    rows = evaluate_batch(batch, bars_for(payload, namespace))
    return BatchOutcome(worker_name(), WorkerData(dict(RECEIVED), dict(DECODED)), rows)
