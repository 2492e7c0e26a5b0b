"""``algotrade bots create-from RUN_ID``: winners of a stored run become stopped paper bots of
a real daemon; a rerun creates none; bad run ids, metrics and daemons are one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.cli.bots_promote_cmd import Target, bot_name, pick_winners, plan_bots
from algotrade.core.errors import InputError
from algotrade.research.evaluate import EvalConfig, ResultRow
from algotrade.research.objectives import parse_objective
from algotrade.research.run_store import RunStore
from cli.conftest import RunMain
from testkit.daemon_process import DaemonProcess, free_port

RUN_ID = "sweep-promotetest"
CONFIG = EvalConfig(cash=Decimal(2500), commission=Decimal("0.0004"))


def row(
    fast: int, dataset: str, sharpe: float | None, *, tag: str = "", error: str | None = None
) -> ResultRow:
    return ResultRow(
        batch_id="b0",
        params={"fast": fast, "slow": 20, "qty": 1},
        dataset=dataset,
        window=(None, None),
        tag=tag,
        metrics={} if error else {"sharpe": sharpe, "max_drawdown": 0.1 * fast},
        error=error,
    )


BTC, ETH = "hyperliquid:BTC:1h", "hyperliquid:ETH:1h"
ROWS = [
    row(2, BTC, 1.0), row(2, ETH, 3.0),   # mean 2.0; ETH alone 3.0 (the best pair)
    row(3, BTC, 2.5), row(3, ETH, 2.0),   # mean 2.25: the best set
    row(4, BTC, 9.0), row(4, ETH, None, error="boom"),  # failed somewhere: never a winner
    row(5, BTC, -1.0), row(5, ETH, 0.5),  # mean -0.25
]  # fmt: skip


def test_winners_by_mean_over_datasets() -> None:
    winners = pick_winners(ROWS, parse_objective("sharpe"), 3, per_dataset=False)
    assert [(w.params["fast"], w.value) for w in winners] == [(3, 2.25), (2, 2.0), (5, -0.25)]
    assert all(w.dataset is None for w in winners)


def test_winners_per_dataset() -> None:
    winners = pick_winners(ROWS, parse_objective("sharpe"), 3, per_dataset=True)
    assert [(w.params["fast"], w.dataset, w.value) for w in winners] == [
        (4, BTC, 9.0),  # alone on BTC it did not fail
        (2, ETH, 3.0),
        (3, BTC, 2.5),
    ]
    lowest = pick_winners(ROWS, parse_objective("max_drawdown"), 1, per_dataset=False)
    assert lowest[0].params["fast"] == 2  # minimised: drawdown is a risk


def test_walk_forward_runs_rank_out_of_sample() -> None:
    rows = [
        row(2, BTC, 5.0, tag="is:0"), row(2, BTC, 0.1, tag="oos:0"),
        row(3, BTC, 1.0, tag="is:0"), row(3, BTC, 0.9, tag="oos:0"),
        row(3, BTC, 7.0, tag="oos:0~1/4"),  # a pruning prefix: not a result
    ]  # fmt: skip
    winners = pick_winners(rows, parse_objective("sharpe"), 2, per_dataset=False)
    assert [(w.params["fast"], w.value) for w in winners] == [(3, 0.9), (2, 0.1)]


def test_names_are_stable_and_distinct() -> None:
    winners = pick_winners(ROWS, parse_objective("sharpe"), 3, per_dataset=True)
    config = CONFIG.to_json()
    plans = plan_bots(winners, strategy="ma_crossover", run_config=config, target=Target())
    again = plan_bots(winners, strategy="ma_crossover", run_config=config, target=Target())
    assert [p.bot_id for p in plans] == [p.bot_id for p in again]
    assert len({p.bot_id for p in plans}) == 3
    assert all(p.bot_id.startswith("ma_crossover-") and len(p.bot_id) <= 64 for p in plans)
    long = bot_name("p" * 40, "s", {"symbol": "BTC/USDT:USDT" * 5, "interval": "1h",
                                     "feed": "bybit", "params": {}})  # fmt: skip
    assert len(long) == 64
    assert long.startswith("p" * 40 + "BTC-USDT-USDT")


def test_sets_scored_over_all_datasets_take_what_they_share() -> None:
    winners = pick_winners(ROWS, parse_objective("sharpe"), 1, per_dataset=False)
    config = CONFIG.to_json()
    (plan,) = plan_bots(
        winners, strategy="ma_crossover", run_config=config, target=Target(symbol="SOL"),
        datasets=[BTC, ETH],
    )  # fmt: skip
    assert (plan.config["symbol"], plan.config["feed"], plan.config["interval"]) == (
        "SOL",
        "hyperliquid",
        "1h",
    )
    (alone,) = plan_bots(
        winners, strategy="s.py", run_config=config, target=Target(), datasets=[BTC]
    )
    assert (alone.config["symbol"], alone.bot_id[:6]) == ("BTC", "s-BTC-")
    with pytest.raises(InputError, match="--interval"):
        plan_bots(
            winners, strategy="s", run_config=config, target=Target(symbol="X"),
            datasets=[BTC, "hyperliquid:ETH:4h"],
        )  # fmt: skip
    with pytest.raises(InputError, match="--feed"):
        plan_bots(
            winners, strategy="s", run_config=config, target=Target(symbol="X", interval="1h"),
            datasets=["file:BTC"],
        )  # fmt: skip


def test_a_result_from_data_of_no_live_venue_asks_for_a_feed() -> None:
    """Defect: winners of data imported under a name of one's own ('local') were sent to the
    daemon with feed 'local', refused there (422 unknown feed) without saying what to do."""
    winners = pick_winners(ROWS, parse_objective("sharpe"), 1, per_dataset=False)
    config = CONFIG.to_json()
    with pytest.raises(
        InputError,
        match=r"came from 'local', which has no live feed; give "
        r"--feed sim \(SIMULATED prices\) or a venue's feed \(.*hyperliquid",
    ):
        plan_bots(
            winners, strategy="s", run_config=config, target=Target(), datasets=["local:BTC:1h"]
        )
    (plan,) = plan_bots(
        winners, strategy="s", run_config=config, target=Target(feed="sim"),
        datasets=["local:BTC:1h"],
    )  # fmt: skip
    assert plan.config["feed"] == "sim"


def test_promoted_bots_can_trade_the_sizes_that_won_on_the_account_given() -> None:
    """Defect: promoted bots kept the default risk_per_trade_pct of 1, so every order at the
    tested size was refused; and there was no way to name an account of the risk engine."""
    winners = pick_winners(ROWS, parse_objective("sharpe"), 1, per_dataset=False)
    config = CONFIG.to_json()
    (plan,) = plan_bots(
        winners, strategy="s", run_config=config, target=Target(symbol="X", account="paper-a"),
        datasets=[BTC],
    )  # fmt: skip
    assert plan.config["risk_per_trade_pct"] == "100"
    assert plan.config["account_id"] == "paper-a"
    (default,) = plan_bots(winners, strategy="s", run_config=config, target=Target(symbol="X"),
                           datasets=[BTC])  # fmt: skip
    assert "account_id" not in default.config


# -- against a real daemon -----------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    process = DaemonProcess(tmp_path_factory.mktemp("promote") / "daemon")
    process.start()
    try:
        yield process
    finally:
        process.kill()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("promote-runs") / "data"
    store = RunStore(root)
    spec = {"strategy": "ma_crossover", "metric": "sharpe:max", "config": CONFIG.to_json()}
    store.begin(RUN_ID, spec, kind="sweep", total_batches=1)
    store.write_part(RUN_ID, "b0", ROWS)
    store.finish(RUN_ID, "done")
    return root


def bots_of(daemon: DaemonProcess) -> dict[str, dict[str, Any]]:
    return {bot["bot_id"]: bot for bot in daemon.ok("GET", "/api/bots")}


def promote(run_main: RunMain, daemon_url: str, data_dir: Path, *args: str) -> Any:
    return run_main(
        "bots", "create-from", *args, "--data-dir", str(data_dir), "--daemon-url", daemon_url
    )


@pytest.mark.slow
def test_creates_stopped_paper_bots_once(
    run_main: RunMain, daemon: DaemonProcess, data_dir: Path
) -> None:
    before = set(bots_of(daemon))
    shown = promote(
        run_main, daemon.url, data_dir, RUN_ID, "--top", "2", "--symbol-from-result"
    ).ok()
    lines = shown.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("created bot 'ma_crossover-") for line in lines)
    bots = bots_of(daemon)
    created = {bot_id: bots[bot_id] for bot_id in set(bots) - before}
    assert len(created) == 2
    configs = sorted(
        (daemon.ok("GET", f"/api/bots/{bot_id}")["config"] for bot_id in created),
        key=lambda c: c["symbol"],
    )
    assert [(c["symbol"], c["params"]["fast"]) for c in configs] == [("BTC", 4), ("ETH", 2)]
    assert all(bot["state"] == "stopped" for bot in created.values())
    for config in configs:
        assert (config["feed"], config["venue"], config["mode"]) == (
            "hyperliquid",
            "paper",
            "paper",
        )
        assert config["interval"] == "1h"
        assert config["params"]["slow"] == 20
        assert float(config["initial_capital"]) == 2500
        assert float(config["commission"]) == 0.0004

    again = promote(
        run_main, daemon.url, data_dir, RUN_ID, "--top", "2", "--symbol-from-result"
    ).ok()
    assert [line.split("'")[0] for line in again.splitlines()] == ["skipped bot "] * 2
    assert set(bots_of(daemon)) == set(bots)


@pytest.mark.slow
def test_one_symbol_for_the_best_sets_and_json(
    run_main: RunMain, daemon: DaemonProcess, data_dir: Path
) -> None:
    outcome = promote(
        run_main, daemon.url, data_dir, RUN_ID, "--top", "2", "--symbol", "SIM-X",
        "--feed", "sim", "--interval", "1m", "--name-prefix", "best-", "--json",
    )  # fmt: skip
    document = json.loads(outcome.ok())
    assert [(d["action"], d["config"]["params"]["fast"]) for d in document] == [
        ("created", 3),
        ("created", 2),
    ]
    assert document[0]["sharpe"] == pytest.approx(2.25)
    for entry in document:
        stored = daemon.ok("GET", f"/api/bots/{entry['bot_id']}")
        assert entry["bot_id"].startswith("best-SIM-X-")
        assert stored["config"]["symbol"] == "SIM-X"
        assert stored["config"]["feed"] == "sim"
        assert stored["status"]["state"] == "stopped"


@pytest.mark.parametrize(
    ("args", "code", "needles"),
    [
        (("sweep-nope",), 2, ["sweep-nope", "no such run"]),
        ((RUN_ID, "--metric", "calmar"), 2, ["--metric", "'calmar'", "sharpe"]),
        ((RUN_ID, "--metric", "sharpe:best"), 2, ["--metric"]),
        ((RUN_ID,), 2, ["--symbol", "several symbols", "--symbol-from-result"]),
        ((RUN_ID, "--symbol-from-result", "--symbol", "X"), 2, ["--symbol", "not with"]),
        (("../etc",), 2, ["not a run id"]),
    ],
    ids=["unknown-run", "unknown-metric", "bad-direction", "no-symbol", "symbol-twice", "bad-id"],
)
def test_input_errors_before_any_daemon_call(
    run_main: RunMain, data_dir: Path, args: tuple[str, ...], code: int, needles: list[str]
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: the run is checked first
    promote(run_main, nobody, data_dir, *args).one_line_error(code, *needles)


def test_daemon_not_reachable(run_main: RunMain, data_dir: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    outcome = promote(run_main, nobody, data_dir, RUN_ID, "--symbol-from-result")
    outcome.one_line_error(1, "cannot reach the daemon", "is the daemon running?")
