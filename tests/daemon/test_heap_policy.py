"""The running daemon's collector policy (one function for the daemon and its benchmark)."""

from __future__ import annotations

import gc

from algotrade.daemon.heap import YOUNG_THRESHOLD, settle_after_start


def test_settling_freezes_what_start_up_built_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    built_at_start = [[n] for n in range(1_000)]  # containers the collector tracks
    try:
        settle_after_start()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 20, 100)
        assert gc.get_freeze_count() >= len(built_at_start)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
