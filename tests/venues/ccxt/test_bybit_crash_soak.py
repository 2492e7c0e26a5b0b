"""A randomized crash soak of the daemon trading on Bybit (a fake Bybit v5 that outlives every
daemon): 3 live bots order on most bars; the daemon is restarted 7 times by ``kill -9`` (at
random, right after an order reached the venue, while the venue holds its reply, during
start-up and its reconciliation) and SIGTERM. After every restart the store is compared with
the venue's own record (``testkit.live_soak``): every execution stored once with its fields,
no orderLinkId sent twice, positions and open orders as the venue has them. The seed also
picks partial fills or not, and WebSocket acks with or without ``req_id``
(``testkit.live_soak_bybit``).

The seed is random and printed; ``ALGOTRADE_SOAK_SEED=<seed>`` replays the same choices.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.fake_bybit import FakeBybit
from testkit.live_soak import LiveSoak, LiveSoakSettings
from testkit.live_soak_bybit import BybitSoakVenue
from testkit.soak import seed_from_env

pytestmark = pytest.mark.slow


def test_live_books_match_bybit_through_random_crashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = LiveSoakSettings(seed=seed_from_env())
    with FakeBybit() as fake:
        report = LiveSoak(settings, BybitSoakVenue(fake), tmp_path).run()
    if not report.ok:
        pytest.fail(report.summary(), pytrace=False)
    with capsys.disabled():  # the figures are worth seeing in CI logs
        print(f"\n{report.summary()}")
