"""A log file that cannot be written: one line on stderr, not a traceback per record."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from algotrade.daemon.log_files import OwnerOnlyRotatingFileHandler


class FullDisk:
    """A stream on a full disk: every write fails as the kernel says it."""

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("algotrade.test", logging.ERROR, __file__, 1, message, None, None)


def test_a_full_disk_is_one_line_then_the_lost_count_when_it_writes_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "daemon.log"
    handler = OwnerOnlyRotatingFileHandler(path, maxBytes=0, backupCount=1, encoding="utf-8")
    working = handler.stream
    handler.stream = FullDisk()
    for index in range(3):
        handler.emit(record(f"lost {index}"))
    assert capsys.readouterr().err.splitlines() == [
        f"log file {path}: cannot write: No space left on device; its lines are lost until it "
        "can (stderr has them)"
    ]
    handler.stream = working  # space again
    handler.emit(record("written"))
    handler.emit(record("written too"))
    handler.close()
    assert capsys.readouterr().err.splitlines() == [
        f"log file {path}: writing again; 3 line(s) lost"
    ]
    assert path.read_text(encoding="utf-8").splitlines() == ["written", "written too"]
