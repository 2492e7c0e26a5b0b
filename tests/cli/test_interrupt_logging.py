"""``cli.errors.silence_logs_on_interrupt``: a Ctrl-C inside silences logging while it unwinds;
on the way out the SIGINT handler and logging are as before, also after an interruption (the CLI
runs in-process under tests: a handler left behind broke an unrelated test on the same worker)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import pytest

from algotrade.cli.errors import silence_logs_on_interrupt


def _interrupted_inside(seen: list[int]) -> None:
    with silence_logs_on_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs at the next bytecode
            pytest.fail("no KeyboardInterrupt")
        finally:
            seen.append(logging.root.manager.disable)


def test_a_ctrl_c_inside_silences_logging_and_both_are_restored_after() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        _interrupted_inside(seen)
    assert seen == [logging.CRITICAL]  # silenced while the interruption unwinds
    assert signal.getsignal(signal.SIGINT) is before
    assert logging.root.manager.disable == logging.NOTSET


def test_without_an_interruption_nothing_changes() -> None:
    before = signal.getsignal(signal.SIGINT)
    with silence_logs_on_interrupt():
        pass
    assert signal.getsignal(signal.SIGINT) is before
    assert logging.root.manager.disable == logging.NOTSET


class _DroppedMidCtrlC:
    """Gets the Ctrl-C while Python runs its ``__del__`` (where no exception can propagate)."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)  # the handler runs before raise_signal returns


def _del_interrupted_inside(reached: list[str]) -> None:
    with silence_logs_on_interrupt():
        _DroppedMidCtrlC()  # dropped at once
        time.sleep(2)  # the Ctrl-C comes again meanwhile, and ends the sleep
        reached.append("after the sleep")


def test_a_ctrl_c_inside_a_del_is_raised_again_not_printed_and_lost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sys.unraisablehook
    reached: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _del_interrupted_inside(reached)
    assert reached == []
    assert "Exception ignored" not in capsys.readouterr().err
    assert sys.unraisablehook is before
    assert logging.root.manager.disable == logging.NOTSET
