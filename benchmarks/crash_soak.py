"""Crash soak, longer than the test suite's: fast paper bots, restarts by ``kill -9`` at random
moments (also during start-up), SIGTERM and config changes, every restart checked
(``tests/testkit/soak.py``; the checks are in ``tests/testkit/soak_books.py``).

Prints one line per daemon life, then the figures (restarts by kind, config changes, fills
stored and acknowledged, statuses checked, time to healthy p50/max, duration) and every
failed check; exit code 1 when a check failed.

    .venv/bin/python benchmarks/crash_soak.py                       # SQLite, 100 restarts
    .venv/bin/python benchmarks/crash_soak.py --postgres --restarts 50
    .venv/bin/python benchmarks/crash_soak.py --seed 1234 --bots 40 --json out.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testkit.postgres import temporary_database
from testkit.soak import HEALTHY_WITHIN_S, CrashSoak, SoakSettings, seed_from_env


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
        return value

    return parse


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to 1, got {text}")
    return value


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="default: $ALGOTRADE_SOAK_SEED")
    parser.add_argument("--bots", type=_positive(int), default=20)
    parser.add_argument("--restarts", type=_positive(int), default=100)
    parser.add_argument("--trade-min", type=_positive(float), default=0.5, help="seconds")
    parser.add_argument("--trade-max", type=_positive(float), default=3.0, help="seconds")
    parser.add_argument("--tick", type=_positive(float), default=0.05, help="sim tick_seconds")
    parser.add_argument("--sigterm-share", type=_share, default=0.25)
    parser.add_argument("--startup-kill-share", type=_share, default=0.1)
    parser.add_argument("--config-change-share", type=_share, default=0.5)
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--db-url", help="an existing (empty) database; default SQLite")
    database.add_argument(
        "--postgres",
        action="store_true",
        help="a throwaway database on the test PostgreSQL (testkit.postgres)",
    )
    parser.add_argument(
        "--daemon-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the daemon (repeatable), e.g. PYTHONPATH=../old/src",
    )
    parser.add_argument("--workdir", type=Path, help="kept afterwards; default a temp dir")
    parser.add_argument("--json", type=Path, help="write the figures and violations here")
    args = parser.parse_args(argv)
    if args.trade_min > args.trade_max:
        parser.error("--trade-min must not exceed --trade-max")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="algotrade-soak-"))
    database: AbstractContextManager[str | None] = (
        temporary_database() if args.postgres else nullcontext(args.db_url)
    )
    try:
        with database as db_url:
            settings = SoakSettings(
                seed=args.seed if args.seed is not None else seed_from_env(),
                db_url=db_url,
                bots=args.bots,
                restarts=args.restarts,
                trade_s=(args.trade_min, args.trade_max),
                tick_seconds=args.tick,
                sigterm_share=args.sigterm_share,
                startup_kill_share=args.startup_kill_share,
                config_change_share=args.config_change_share,
                healthy_within_s=HEALTHY_WITHIN_S,
                daemon_env=dict(args.daemon_env),
            )
            print(f"crash soak: seed {settings.seed}, workdir {workdir}", flush=True)
            report = CrashSoak(settings, workdir, log=lambda line: print(line, flush=True)).run()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.summary())
    if args.json:
        figures = report.figures.to_json()
        violations = [asdict(v) for found in report.by_check().values() for v in found]
        settings_out = {**asdict(report.settings), "db_url": report.settings.database}
        args.json.write_text(
            json.dumps(
                {"settings": settings_out, "figures": figures, "violations": violations},
                indent=2,
                default=str,
            )
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
