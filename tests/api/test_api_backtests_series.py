"""``/api/datasets`` lists the catalog's series (and the warm tier's), and a backtest job can
run on one: the dashboard reads stored history by reference, not only uploaded files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from algotrade.api import create_app
from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import run_backtest
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.registry import get_strategy_class
from api.test_api_backtests import error_of, finished, submit
from testkit.api_harness import ADMIN, TRADER, VERSION, TestClient, make_keys, make_test_client
from testkit.fake_bot_service import FakeBotService

HOUR = 3_600_000_000_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("series")
    bars = generate_bars(600, symbol="BTC", seed=7, interval_ns=HOUR)
    Catalog.for_data_dir(root).append(SeriesKey("hl", "BTC", "1h"), bars.frame.drop("symbol"))
    return root


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(FakeBotService(), make_keys(), version=VERSION, data_dir=data_dir)
    with make_test_client(app) as client:
        yield client


def test_datasets_lists_catalog_series(client: TestClient) -> None:
    listed = client.get("/api/datasets", headers=TRADER).json()
    series = [d for d in listed if d["name"] == "catalog:hl:BTC:1h"]
    assert len(series) == 1
    assert series[0]["rows"] == 600
    assert series[0]["source"] == "catalog"
    assert series[0]["first"] == "2024-01-01T00:00:00Z"


def test_a_job_on_a_catalog_series_equals_a_direct_backtest(
    client: TestClient, data_dir: Path
) -> None:
    body: dict[str, Any] = {
        "strategy": "ma_crossover",
        "params": {"fast": 5, "slow": 20},
        "dataset": "catalog:hl:BTC:1h",
        "interval": "1h",
        "start": "2024-01-03T00:00:00Z",
        "end": "2024-01-20T00:00:00",  # no offset: UTC
    }
    job = finished(client, submit(client, body)["job_id"])
    assert job["state"] == "done", job
    start_ns = int(datetime(2024, 1, 3, tzinfo=UTC).timestamp()) * 10**9
    end_ns = int(datetime(2024, 1, 20, tzinfo=UTC).timestamp()) * 10**9
    bars = Catalog.for_data_dir(data_dir).load("hl", ["BTC"], "1h", start_ns, end_ns)
    strategy = get_strategy_class("ma_crossover")(
        get_strategy_class("ma_crossover").Params(fast=5, slow=20)
    )
    direct = compute_metrics(run_backtest(bars, strategy))
    assert job["bars"] == len(bars) == (end_ns - start_ns) // HOUR
    assert job["metrics"]["final_equity"] == direct["final_equity"]
    assert job["metrics"]["fills"] == direct["fills"]


@pytest.mark.parametrize(
    ("dataset", "extra", "needle"),
    [
        ("catalog:hl:ETH:1h", {}, "the catalog has no series hl:ETH:1h"),
        ("catalog:hl:BTC:1hour", {}, "interval"),
        ("warm:hl:BTC:1h", {}, "no warm tier (market_data.url is not set)"),
        ("catalog:hl:BTC:1h", {"start": "2024-02-01T00:00:00Z", "end": "2024-01-01"}, "after"),
    ],
)
def test_bad_series_requests_are_422(
    client: TestClient, dataset: str, extra: dict[str, Any], needle: str
) -> None:
    body = {"strategy": "ma_crossover", "dataset": dataset, "interval": "1h", **extra}
    response = client.post("/api/backtests", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert needle in error_of(response), error_of(response)


def test_start_without_a_dataset_is_refused(client: TestClient) -> None:
    body = {"strategy": "ma_crossover", "synthetic": {"bars": 300}, "start": "2024-01-01"}
    response = client.post("/api/backtests", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert "dataset only" in error_of(response)
