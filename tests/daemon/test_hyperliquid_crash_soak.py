"""A randomized crash soak of the daemon trading on a live venue (a fake Hyperliquid that
outlives every daemon): 3 live bots order on most bars; the daemon is restarted 7 times by
``kill -9`` (at random, right after an order reached the venue, while the venue holds its
reply, during start-up and its reconciliation) and SIGTERM. After every restart the store is
compared with the venue's own record (``testkit.live_soak``): every venue fill stored once with
its fields, no cloid sent twice, positions and open orders as the venue has them.

The seed is random and printed; ``ALGOTRADE_SOAK_SEED=<seed>`` replays the same choices.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.live_soak import LiveSoak, LiveSoakSettings
from testkit.live_soak_hyperliquid import HyperliquidSoakVenue
from testkit.soak import seed_from_env

pytestmark = pytest.mark.slow


def test_live_books_match_the_venue_through_random_crashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = LiveSoakSettings(seed=seed_from_env())
    with FakeHyperliquid() as fake:
        report = LiveSoak(settings, HyperliquidSoakVenue(fake), tmp_path).run()
    if not report.ok:
        pytest.fail(report.summary(), pytrace=False)
    with capsys.disabled():  # the figures are worth seeing in CI logs
        print(f"\n{report.summary()}")
