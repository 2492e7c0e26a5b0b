"""The crash soak of issue 9 with the bots in worker processes (``daemon.bot_workers = 2``):
the daemon is killed and stopped at random moments while its workers trade; after every
restart the books are checked as for bots in the daemon's process (``testkit.soak``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.soak import CrashSoak, SoakSettings, seed_from_env

pytestmark = pytest.mark.slow


def test_books_stay_true_through_random_crashes_with_worker_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = SoakSettings(
        seed=seed_from_env(),
        restarts=12,
        healthy_within_s=20.0,
        daemon_env={"ALGOTRADE__DAEMON__BOT_WORKERS": "2"},
    )
    report = CrashSoak(settings, tmp_path).run()
    if not report.ok:
        pytest.fail(report.summary(), pytrace=False)
    with capsys.disabled():
        print(f"\n{report.summary()}")
