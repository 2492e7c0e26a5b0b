"""Acceptance: the CLI's fills follow the ma_crossover spec exactly on the real reference data.

The expected fills come from an independent reference written here with exact Decimal SMAs,
not from the engine: direction long when SMA(fast) > SMA(slow), short when below, unchanged
when equal; on a change the target becomes ±qty (0 for short when long_only); the order fills at
the next bar's open; fee = commission × qty × price.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algotrade.cli.main import app

D = Decimal
FILES = ["ORCL-1d.csv", "NVDA-1d.csv", "YHOO-1d.csv", "INDEX-5m.csv"]


def expected_fills(
    path: Path, fast: int, slow: int, qty: Decimal, commission: Decimal, long_only: bool = False
) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    closes = [D(r["close"]) for r in rows]
    fills = []
    direction = None
    target = D(0)
    for i in range(slow - 1, len(rows)):
        f = sum(closes[i - fast + 1 : i + 1]) / fast
        s = sum(closes[i - slow + 1 : i + 1]) / slow
        if f == s:
            continue
        new_direction = 1 if f > s else -1
        if new_direction == direction:
            continue
        direction = new_direction
        new_target = qty if direction > 0 else (D(0) if long_only else -qty)
        delta, target = new_target - target, new_target
        if delta and i + 1 < len(rows):
            price = D(rows[i + 1]["open"])
            side = "buy" if delta > 0 else "sell"
            fills.append(
                (rows[i + 1]["timestamp"], side, abs(delta), price, abs(delta) * price * commission)
            )
        elif delta:
            target -= delta  # signal on the last bar: the order never fills
    return fills


def run_cli(tmp_path: Path, data: Path, *extra: str) -> dict:
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(data), "--strategy", "ma_crossover", *extra, "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


@pytest.mark.parametrize("name", FILES)
def test_fills_follow_spec_exactly(shared_data: Path, tmp_path: Path, name: str) -> None:
    path = shared_data / name
    params = ["--param", "fast=10", "--param", "slow=30", "--param", "qty=100"]
    report = run_cli(tmp_path, path, *params, "--commission", "0.001")
    want = expected_fills(path, 10, 30, D(100), D("0.001"))
    got = [
        (f["timestamp"], f["side"], D(f["qty"]), D(f["price"]), D(f["fee"]))
        for f in report["fills"]
    ]
    assert len(want) > 10
    assert got == want

    # Final equity = cash + realized + unrealized − fees, to the cent, and it matches an
    # independent cash + position × last close computed from the expected fills.
    m = report["metrics"]
    initial, final = D(m["initial_cash"]), D(m["final_equity"])
    accounted = initial + D(m["realized_pnl"]) + D(m["unrealized_pnl"]) - D(m["fees_paid"])
    assert abs(final - accounted) < D("0.01")
    cash, position = initial, D(0)
    for _ts, side, qty, price, fee in want:
        signed = qty if side == "buy" else -qty
        cash -= signed * price + fee
        position += signed
    with path.open() as fh:
        last_close = D(list(csv.DictReader(fh))[-1]["close"])
    assert abs(final - (cash + position * last_close)) < D("0.01")
    assert D(m["fees_paid"]) == sum(f[4] for f in want)


def test_long_only_never_goes_short(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "ORCL-1d.csv"
    params = ["--param", "fast=5", "--param", "slow=20", "--param", "long_only=true"]
    report = run_cli(tmp_path, path, *params, "--commission", "0")
    want = expected_fills(path, 5, 20, D(1), D(0), long_only=True)
    assert [(f["timestamp"], f["side"], D(f["qty"])) for f in report["fills"]] == [
        (w[0], w[1], w[2]) for w in want
    ]
    assert all(D(f["qty"]) == 1 for f in report["fills"])


def test_equity_curve_is_cash_plus_position_times_close(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "NVDA-1d.csv"
    report = run_cli(tmp_path, path, "--param", "qty=10", "--commission", "0.002")
    fills = {f["timestamp"]: f for f in report["fills"]}
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    cash, position = D(100_000), D(0)
    assert len(report["equity"]) == len(rows)
    for (ts, value), row in zip(report["equity"], rows, strict=True):
        assert ts == row["timestamp"]
        if ts in fills:
            f = fills[ts]
            signed = D(f["qty"]) if f["side"] == "buy" else -D(f["qty"])
            cash -= signed * D(f["price"]) + D(f["fee"])
            position += signed
        assert abs(D(str(value)) - (cash + position * D(row["close"]))) < D("0.01")
