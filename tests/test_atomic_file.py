"""The one atomic file writer used by reports, JSON exports and status files."""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrade.atomic_file import write_atomic


def test_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.write_text("old")
    write_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    write_atomic(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "dir-in-the-way"
    target.mkdir()  # os.replace of a file onto a directory fails
    with pytest.raises(IsADirectoryError):
        write_atomic(target, "data")
    assert target.is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["dir-in-the-way"]
