"""The daemon's log files: owner-only, rotating, and quiet when they cannot be written.

A log file that cannot be written (the disk is full, the folder is gone, an I/O error) would
otherwise make ``logging`` print a ``--- Logging error ---`` block with two tracebacks and the
whole call stack to stderr for every record, thousands of lines a minute into the journal
exactly when the operator needs to read it. Here the first failure of a streak is one line on
stderr naming the file and the reason; the records that follow are counted, and the first
record written again says how many were lost. stderr itself still gets every record.
"""

from __future__ import annotations

import logging
import os
import sys
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from typing import cast

FILE_MODE = 0o600  # log lines name accounts, bots and positions


class OwnerOnlyRotatingFileHandler(RotatingFileHandler):
    """Creates its file (and each new file after a rollover) readable by the owner only."""

    lost = 0  # records not written since the file last failed (set per handler)
    _failed = False  # the record being emitted failed

    def emit(self, record: logging.LogRecord) -> None:
        self._failed = False
        super().emit(record)  # calls handleError on a failure
        if not self._failed and self.lost:
            _say(f"log file {self.baseFilename}: writing again; {self.lost} line(s) lost")
            self.lost = 0

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self._failed = True
        if self.lost == 0:
            error = sys.exc_info()[1]
            reason = (
                error.strerror
                if isinstance(error, OSError) and error.strerror
                else f"{type(error).__name__}: {error}"
            )
            _say(
                f"log file {self.baseFilename}: cannot write: {reason}; its lines are lost "
                "until it can (stderr has them)"
            )
        self.lost += 1

    def _open(self) -> TextIOWrapper:
        # The handler owns the stream and closes it; text mode (encoding given) is a wrapper.
        stream = open(  # noqa: SIM115
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=_owner_only,
        )
        return cast(TextIOWrapper, stream)


def _owner_only(path: str, flags: int) -> int:
    return os.open(path, flags, FILE_MODE)


def _say(line: str) -> None:
    # Straight to stderr: through logging it would go back to the failing file.
    try:
        sys.stderr.write(f"{' '.join(line.split())}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # no stderr left either: nothing more can be told
        pass
