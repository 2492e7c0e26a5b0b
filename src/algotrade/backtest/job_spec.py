"""What a backtest job is: its picklable spec and the names of the files it writes.

Kept apart from ``backtest.job`` (which runs one and needs polars, numpy and the report) so the
daemon and its API can accept, store and list jobs without loading any of that: the job runs in
a worker process, which imports ``backtest.job`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from algotrade.data.bars import BarData

REPORT_FILE = "report.html"
RESULT_FILE = "result.json"


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    """Parameters of ``data.synthetic.generate_bars`` (SIMULATED prices, labelled as such)."""

    bars: int = 2_000
    seed: int = 0
    start_price: float = 100.0
    volatility: float = 0.0005
    start: str = "2024-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to backtest: exactly one of ``dataset`` and ``synthetic``. ``dataset`` is a file
    name under the datasets folder, or a name the job's ``loader`` knows (the daemon's are
    series of the catalog or the warm tier: ``daemon.backtest_datasets``). ``start_ns`` and
    ``end_ns`` keep the dataset's bars opening in ``[start_ns, end_ns)``. Money fields are
    decimal strings (exact)."""

    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    synthetic: SyntheticSpec | None = None
    symbol: str | None = None
    interval: str = "1m"
    fee: str = "0"
    slippage_bps: str = "0"
    initial_cash: str = "100000"
    periods_per_year: int = 252
    start_ns: int | None = None
    end_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        synthetic = data.get("synthetic")
        return cls(**{**data, "synthetic": SyntheticSpec(**synthetic) if synthetic else None})


# Bars for a dataset name that is not a file, or None when the name is not one it knows. Runs in
# the worker, so it must pickle (a module-level function, or a dataclass holding plain values).
BarLoader = Callable[[JobSpec], "BarData | None"]
