"""The failed job's error names how its worker ended, even when the pool's own thread reaped
the worker first."""

from __future__ import annotations

import os
import signal

from algotrade.daemon import backtest_jobs


class _ReapedByAnotherThread:
    """A worker that has exited (its sentinel is readable) while the pool's manager thread
    holds the reaped status: our poll sees no exit code yet and ``is_alive`` says True (the
    race behind a job error without its ``SIGKILL``)."""

    def __init__(self, code: int, polls_before_known: int) -> None:
        read, self._write = os.pipe()
        os.close(self._write)  # an ended process's sentinel: end of file, readable at once
        self.sentinel = read
        self._code, self._polls = code, polls_before_known

    @property
    def exitcode(self) -> int | None:
        self._polls -= 1
        return self._code if self._polls < 0 else None

    def is_alive(self) -> bool:
        return self._polls >= 0

    def join(self, timeout: float | None = None) -> None:
        return None


def test_the_exit_note_waits_for_an_exit_code_another_thread_is_recording() -> None:
    worker = _ReapedByAnotherThread(-signal.SIGKILL, polls_before_known=5)
    try:
        note = backtest_jobs._exit_note([worker])  # type: ignore[list-item]
    finally:
        os.close(worker.sentinel)
    assert note == " (exit code -9, SIGKILL)"
