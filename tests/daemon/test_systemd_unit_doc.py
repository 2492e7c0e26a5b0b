"""The systemd unit shown in docs/daemon.md is one systemd accepts as written.

systemd takes a comment only on a line of its own starting with ``#`` or ``;``: after
``Key=value`` a ``# ...`` is part of the value (an ``EnvironmentFile`` path that does not
exist, a ``TimeoutStopSec`` that does not parse), so operators who copy the block get a unit
that silently misbehaves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DAEMON_DOC = Path(__file__).resolve().parents[2] / "docs" / "daemon.md"
INLINE_COMMENT = re.compile(r"\s[#;]")


def unit_block() -> list[str]:
    """The lines of the ```ini block under the "## systemd" heading."""
    text = DAEMON_DOC.read_text(encoding="utf-8")
    section = text[text.index("\n## systemd") :]
    match = re.search(r"```ini\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no ```ini block under '## systemd' in docs/daemon.md"
    return match.group(1).splitlines()


def value_lines(lines: list[str]) -> list[tuple[str, str]]:
    """``(key, value)`` of every assignment; blank, comment and ``[Section]`` lines skipped."""
    pairs = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or re.fullmatch(r"\[\w+\]", stripped):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"not a Key=value line: {line!r}"
        assert re.fullmatch(r"[A-Za-z]+", key), f"not a systemd key: {line!r}"
        pairs.append((key, value))
    return pairs


def test_no_value_line_has_an_inline_comment() -> None:
    pairs = value_lines(unit_block())
    assert {key for key, _ in pairs} >= {"ExecStart", "EnvironmentFile", "Restart"}
    offending = [f"{key}={value}" for key, value in pairs if INLINE_COMMENT.search(value)]
    assert offending == [], "systemd reads these comments as part of the value"


def test_the_parser_sees_an_inline_comment() -> None:
    assert INLINE_COMMENT.search(
        dict(value_lines(["TimeoutStopSec=30  # grace"]))["TimeoutStopSec"]
    )
    assert value_lines(["# own line", "; also", "[Service]", ""]) == []


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    true = shutil.which("true")
    if analyze is None or true is None:
        pytest.skip("systemd-analyze is not installed")
    # The documented program lives on the server; point ExecStart at one that exists here so
    # the check is about the unit's syntax, not this machine's files.
    lines = [re.sub(r"^ExecStart=\S+", f"ExecStart={true}", line) for line in unit_block()]
    unit = tmp_path / "algotrade.service"
    unit.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "algotrade.service" not in result.stderr, result.stderr
