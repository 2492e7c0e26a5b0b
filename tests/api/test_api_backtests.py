"""``/api/backtests`` and ``/api/datasets``: validation, the job lifecycle in a real worker
process, failures, a killed worker, cancel/remove, path traversal, roles, restart."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from algotrade.api import create_app
from algotrade.strategies.registry import builtin_strategy_names
from testkit.api_harness import ADMIN, TRADER, VERSION, TestClient, make_keys, make_test_client
from testkit.fake_bot_service import FakeBotService

TINY = {"strategy": "ma_crossover", "params": {"fast": 3, "slow": 8}, "synthetic": {"bars": 300}}
# About 10 s of work: long enough to be seen running, killed or cancelled.
BIG = {"strategy": "ma_crossover", "synthetic": {"bars": 3_000_000, "seed": 5}}
CSV = "timestamp,open,high,low,close,volume\n" + "".join(
    f"2024-01-01T00:{m:02d}:00Z,{100 + m % 5},106,95,{100 + (m + 1) % 5},10\n" for m in range(60)
)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def job_in(client: TestClient, job_id: str, *states: str) -> dict[str, Any] | None:
    job = client.get(f"/api/backtests/{job_id}", headers=TRADER).json()
    return job if job["state"] in states else None


def finished(client: TestClient, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    job: dict[str, Any] = wait_for(
        lambda: job_in(client, job_id, "done", "failed", "cancelled"), f"{job_id} to end", timeout
    )
    return job


def submit(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/backtests", json=body, headers=ADMIN)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bt")
    (root / "datasets").mkdir()
    (root / "datasets" / "BTC-1m.csv").write_text(CSV)
    (root / "datasets" / "broken.csv").write_text("timestamp,open\n1,2\n")
    (root / "secret.csv").write_text(CSV)  # outside the datasets folder
    return root


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(FakeBotService(), make_keys(), version=VERSION, data_dir=data_dir)
    with make_test_client(app) as client:
        yield client


def error_of(response: Any) -> str:
    message: str = response.json()["error"]["message"]
    return message


def test_the_strategies_a_backtest_takes_are_published(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    strategy = schemas["BacktestRequest"]["properties"]["strategy"]
    assert strategy["enum"] == list(builtin_strategy_names())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TINY, "strategy": "nope"}, "body.strategy"),
        ({**TINY, "params": {"fast": 0, "slow": 8}}, "body.params.fast"),
        ({**TINY, "params": {"fast": 9, "slow": 8}}, "body.params"),
        ({**TINY, "params": {"speed": 1}}, "body.params.speed"),
        ({**TINY, "synthetic": {"bars": 10**9}}, "body.synthetic.bars"),
        ({**TINY, "interval": "1 minute"}, "body.interval"),
        ({**TINY, "synthetic": {"start": "0001-01-01T00:00:00+05:00"}}, "body.synthetic.start"),
        ({**TINY, "synthetic": {"start": "2199-12-01T00:00:00Z"}, "interval": "1d"}, "body"),
        ({**TINY, "fee": "-0.1"}, "body.fee"),
        ({**TINY, "initial_cash": "0"}, "body.initial_cash"),
        ({**TINY, "dataset": "BTC-1m.csv"}, "body"),  # both sources
        ({"strategy": "ma_crossover"}, "body"),  # neither
        ({"strategy": "ma_crossover", "dataset": "../secret.csv"}, "body.dataset"),
        ({"strategy": "ma_crossover", "dataset": "..%2Fsecret.csv"}, "body.dataset"),
        ({"strategy": "ma_crossover", "dataset": "sub/BTC-1m.csv"}, "body.dataset"),
        ({"strategy": "ma_crossover", "dataset": "/etc/passwd"}, "body.dataset"),
        ({"strategy": "ma_crossover", "dataset": "..csv"}, "body.dataset"),
        ({"strategy": "ma_crossover", "dataset": "notes.txt"}, "body.dataset"),
        ({"strategy": "ma_crossover", "dataset": "missing.csv"}, "body.dataset"),
        # Another JSON type than the schema says (lax pydantic took these).
        ({**TINY, "params": {"fast": True, "slow": 8}}, "body.params.fast"),
        ({**TINY, "params": {"fast": "3", "slow": 8}}, "body.params.fast"),
        ({**TINY, "synthetic": {"bars": True}}, "body.synthetic.bars"),
        ({**TINY, "synthetic": {"start_price": "100"}}, "body.synthetic.start_price"),
        ({**TINY, "synthetic": {"start": 1_700_000_000}}, "body.synthetic.start"),
        ({**TINY, "periods_per_year": "252"}, "body.periods_per_year"),
        ({**TINY, "fee": "1_0"}, "body.fee"),
        ({"strategy": "ma_crossover", "dataset": "BTC-1m.csv", "start": 0}, "body.start"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/backtests", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert error_of(response).startswith(f"{field}:"), error_of(response)
    assert str(client.app.state.backtests.root.parent) not in response.text  # type: ignore[attr-defined]


def test_trader_reads_but_cannot_create_or_delete(client: TestClient) -> None:
    assert client.post("/api/backtests", json=TINY, headers=TRADER).status_code == 403
    assert client.get("/api/backtests", headers=TRADER).status_code == 200
    assert client.get("/api/datasets", headers=TRADER).status_code == 200
    job = submit(client, TINY)
    assert client.delete(f"/api/backtests/{job['job_id']}", headers=TRADER).status_code == 403
    assert client.get("/api/backtests").status_code == 401
    finished(client, job["job_id"])


def test_datasets_are_listed_by_name_only(client: TestClient, data_dir: Path) -> None:
    listed = client.get("/api/datasets", headers=TRADER).json()
    by_name = {d["name"]: d for d in listed}
    assert set(by_name) == {"BTC-1m.csv", "broken.csv"}
    assert by_name["BTC-1m.csv"]["rows"] == 60
    assert by_name["BTC-1m.csv"]["size"] == len(CSV)
    assert str(data_dir) not in json.dumps(listed)


def test_synthetic_job_runs_to_done_with_a_labelled_offline_report(
    client: TestClient, data_dir: Path
) -> None:
    job = submit(client, TINY)
    assert job["state"] in {"queued", "running"}
    assert job["data"] == "synthetic"
    assert job["synthetic"] is True
    assert job["report_url"] is None
    done = finished(client, job["job_id"])
    assert done["state"] == "done", done
    assert done["error"] is None
    assert done["bars"] == 300
    assert done["symbols"] == ["SYN"]
    assert done["metrics"]["bars"] == 300
    assert "total_return" in done["metrics"]
    assert done["report_url"] == f"/api/backtests/{job['job_id']}/report"

    report = client.get(done["report_url"], headers=TRADER)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    csp = report.headers["content-security-policy"]
    assert "sandbox allow-scripts" in csp
    assert "connect-src 'none'" in csp
    assert report.headers["x-frame-options"] == "SAMEORIGIN"
    html = report.text
    assert "SIMULATED DATA" in html
    assert "synthetic data" in html
    # Offline: plotly is inline; no script or stylesheet is fetched (the bundle's own default
    # URLs, e.g. for map tiles, are never used by these charts, and the CSP blocks them).
    assert not re.search(r"<script[^>]*\ssrc=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref=", html, re.IGNORECASE)
    assert "Plotly.newPlot" in html
    folder = data_dir / "backtests" / job["job_id"]
    assert (folder / "report.html").is_file()
    assert json.loads((folder / "result.json").read_text())["simulated_data"] is True

    listed = client.get("/api/backtests", headers=TRADER).json()
    ids = [j["job_id"] for j in listed]
    assert ids == sorted(ids, reverse=True)
    assert job["job_id"] in ids


def test_dataset_job_runs_and_a_broken_dataset_fails_in_one_line(
    client: TestClient, data_dir: Path
) -> None:
    good = submit(client, {"strategy": "ma_crossover", "params": {"fast": 2, "slow": 4},
                           "dataset": "BTC-1m.csv"})  # fmt: skip
    assert good["data"] == "dataset"
    assert good["dataset"] == "BTC-1m.csv"
    done = finished(client, good["job_id"])
    assert done["state"] == "done", done
    assert done["symbols"] == ["BTC"]
    assert "SIMULATED DATA" not in client.get(done["report_url"], headers=ADMIN).text

    bad = finished(client, submit(client, {"strategy": "rsi", "dataset": "broken.csv"})["job_id"])
    assert bad["state"] == "failed"
    assert "broken.csv" in bad["error"]
    assert "missing column" in bad["error"]
    assert "\n" not in bad["error"]
    assert str(data_dir) not in bad["error"]
    answer = client.get(f"/api/backtests/{bad['job_id']}/report", headers=ADMIN)
    assert answer.status_code == 409


def test_unknown_job_is_404_and_a_bad_id_422(client: TestClient) -> None:
    unknown = "/api/backtests/bt-20240101000000000-abcdef"
    assert client.get(unknown, headers=ADMIN).status_code == 404
    assert client.get("/api/backtests/..%2F..%2Fetc", headers=ADMIN).status_code in {404, 422}
    assert client.get("/api/backtests/nope/report", headers=ADMIN).status_code == 422


def test_a_killed_worker_fails_its_job_and_the_next_job_still_runs(client: TestClient) -> None:
    jobs = client.app.state.backtests  # type: ignore[attr-defined]
    big = submit(client, BIG)
    wait_for(lambda: job_in(client, big["job_id"], "running"), "the big job to run")
    pids = wait_for(jobs.worker_pids, "a worker process")
    os.kill(pids[0], signal.SIGKILL)
    failed = finished(client, big["job_id"])
    assert failed["state"] == "failed"
    assert "worker process died" in failed["error"]
    assert "SIGKILL" in failed["error"]

    after = finished(client, submit(client, TINY)["job_id"])
    assert after["state"] == "done", after
    assert pids[0] not in jobs.worker_pids()


def test_cancel_a_running_job_then_remove_it(client: TestClient, data_dir: Path) -> None:
    big = submit(client, BIG)
    wait_for(lambda: job_in(client, big["job_id"], "running"), "the big job to run")
    answer = client.delete(f"/api/backtests/{big['job_id']}", headers=ADMIN)
    assert answer.status_code == 200
    cancelled = finished(client, big["job_id"])
    assert cancelled["state"] == "cancelled"
    assert client.delete(f"/api/backtests/{big['job_id']}", headers=ADMIN).status_code == 204
    assert client.get(f"/api/backtests/{big['job_id']}", headers=ADMIN).status_code == 404
    assert not (data_dir / "backtests" / big["job_id"]).exists()
    assert finished(client, submit(client, TINY)["job_id"])["state"] == "done"


def test_a_full_queue_answers_429(client: TestClient) -> None:
    jobs = client.app.state.backtests  # type: ignore[attr-defined]
    big = submit(client, BIG)
    queued = [submit(client, TINY) for _ in range(jobs.max_queued)]
    refused = client.post("/api/backtests", json=TINY, headers=ADMIN)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "queue_full"
    for job in queued:
        answer = client.delete(f"/api/backtests/{job['job_id']}", headers=ADMIN)
        assert answer.status_code == 200
        assert answer.json()["state"] == "cancelled"
    client.delete(f"/api/backtests/{big['job_id']}", headers=ADMIN)
    assert finished(client, big["job_id"])["state"] == "cancelled"


def test_jobs_survive_a_restart_and_interrupted_ones_are_failed(tmp_path: Path) -> None:
    app = create_app(FakeBotService(), make_keys(), version=VERSION, data_dir=tmp_path)
    with make_test_client(app) as client:
        done = finished(client, submit(client, TINY)["job_id"])
        big = submit(client, BIG)
        wait_for(lambda: job_in(client, big["job_id"], "running"), "the big job to run")
        pids = app.state.backtests.worker_pids()
    # Leaving the client ran the app's shutdown: the workers are gone, not waited for.
    wait_for(lambda: not any(_alive(pid) for pid in pids), "the workers to exit", 10)

    again = create_app(FakeBotService(), make_keys(), version=VERSION, data_dir=tmp_path)
    with make_test_client(again) as client:
        listed = {j["job_id"]: j for j in client.get("/api/backtests", headers=ADMIN).json()}
        assert listed[done["job_id"]]["state"] == "done"
        assert listed[done["job_id"]]["metrics"] == done["metrics"]
        assert client.get(done["report_url"], headers=ADMIN).status_code == 200
        assert listed[big["job_id"]]["state"] == "failed"
        assert "interrupted" in listed[big["job_id"]]["error"]


def test_without_a_data_dir_backtests_are_unavailable() -> None:
    app = create_app(FakeBotService(), make_keys(), version=VERSION)
    with make_test_client(app) as client:
        answer = client.get("/api/backtests", headers=ADMIN)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "backtests_disabled"
        assert "data directory" in error_of(answer)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers: it is dead for our purpose when /proc says so.
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return False


def test_job_changes_stream_on_the_backtests_topic(client: TestClient) -> None:
    """The dashboard follows jobs over the WebSocket: a snapshot of recent jobs, then each
    state change of a job once it is written, then its removal."""
    with client.websocket_connect(f"/ws?token={TRADER['X-API-Key']}") as ws:
        ws.send_json({"op": "subscribe", "topics": ["backtests"]})
        assert ws.receive_json()["type"] == "subscribed"
        snapshot = ws.receive_json()
        assert (snapshot["type"], snapshot["topic"]) == ("snapshot", "backtests")
        known = {job["job_id"] for job in snapshot["data"]}
        job = submit(client, TINY)
        assert job["job_id"] not in known
        states: list[str] = []
        while not states or states[-1] not in ("done", "failed", "cancelled"):
            event = ws.receive_json()
            assert (event["type"], event["topic"]) == ("event", "backtests")
            if event["data"]["job_id"] == job["job_id"]:
                states.append(event["data"]["state"])
        assert states[0] == "queued"
        assert states[-1] == "done"
        assert client.delete(f"/api/backtests/{job['job_id']}", headers=ADMIN).status_code == 204
        while True:
            event = ws.receive_json()
            if event["data"]["job_id"] == job["job_id"]:
                assert event["data"] == {"job_id": job["job_id"], "deleted": True}
                break
