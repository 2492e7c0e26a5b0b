"""The worker side of every executor: datasets held once per process, batches run against them.

Market data travels to a worker once (a pool initializer, or a Dask scatter whose object stays
in the worker's memory) as Arrow IPC bytes; the first batch that needs a dataset decodes it and
later batches reuse the decoded ``BarData``. ``RECEIVED`` counts how often this process
unpickled each dataset (it arrived), ``DECODED`` how often it decoded one: the executors'
``data_loads()`` report both, so a test can check that data is not shipped per task.
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


# Per-process state: key -> (digest, bars); the counters; the pool initializer's payloads.
_datasets: dict[str, tuple[str, BarData]] = {}
RECEIVED: dict[str, int] = {}
DECODED: dict[str, int] = {}
_payloads: dict[str, DatasetPayload] = {}


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


def install(payloads: Iterable[DatasetPayload]) -> None:
    """Pool initializer: keep the payloads; each is decoded when a batch first needs it."""
    for payload in payloads:
        _payloads[payload.key] = payload


def bars_for(payload: DatasetPayload) -> BarData:
    """The decoded dataset, decoding it only the first time this process sees its bytes."""
    held = _datasets.get(payload.key)
    if held is not None and held[0] == payload.digest:
        return held[1]
    frame = pl.read_ipc(io.BytesIO(payload.data))
    bars = BarData.from_validated(frame)
    _datasets[payload.key] = (payload.digest, bars)
    DECODED[payload.key] = DECODED.get(payload.key, 0) + 1
    return bars


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_installed(batch: Batch) -> BatchOutcome:
    """Run ``batch`` on a dataset given to ``install`` (the local pool's task)."""
    payload = _payloads.get(batch.dataset)
    if payload is None:
        raise KeyError(f"dataset {batch.dataset!r} was not given to this worker")
    return run_with(batch, payload)


def run_with(batch: Batch, payload: DatasetPayload) -> BatchOutcome:
    """Run ``batch`` on ``payload``'s dataset (the Dask task: ``payload`` is scattered)."""
    rows = evaluate_batch(batch, bars_for(payload))
    return BatchOutcome(worker_name(), WorkerData(dict(RECEIVED), dict(DECODED)), rows)
