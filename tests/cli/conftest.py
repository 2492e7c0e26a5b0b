"""Run the real ``algotrade`` entry point (``main()``) in-process: its one-line errors and exit
codes are what a user gets, and no subprocess pays the import time."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from algotrade.cli.main import main


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    def one_line_error(self, code: int, *needles: str) -> str:
        """The single ``error: ...`` line of a failed command, checking its exit code."""
        assert self.code == code, self
        assert "Traceback" not in self.stderr
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), lines[0]
        for needle in needles:
            assert needle in lines[0], lines[0]
        return lines[0]

    def ok(self) -> str:
        assert self.code == 0, self
        return self.stdout


RunMain = Callable[..., Outcome]


@pytest.fixture
def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunMain:
    def run(*args: str, env: dict[str, str] | None = None) -> Outcome:
        """``algotrade ARGS``; no ``ALGOTRADE_*`` variable from the developer's shell, only
        those in ``env``."""
        monkeypatch.setattr(sys, "argv", ["algotrade", *args])
        monkeypatch.setenv("COLUMNS", "200")  # wide tables: nothing folded
        for name in ("ALGOTRADE_API_KEY", "ALGOTRADE_DAEMON_URL", "ALGOTRADE_DEBUG"):
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run
