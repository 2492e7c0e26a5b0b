"""The bar files a backtest may use: ``<data_dir>/datasets/``, listed by name only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from algotrade.data.loader import ACCEPTED_EXTENSIONS

SMALL_CSV_BYTES = 8 << 20  # counting the lines of a bigger CSV is not "cheap"


def list_datasets(folder: Path) -> list[dict[str, Any]]:
    """Bar files directly in ``folder`` (no sub-folders, no dotfiles), by name: ``name``,
    ``size``, ``modified`` and ``rows`` when cheap (Parquet metadata, a small plain CSV)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or not name.lower().endswith(ACCEPTED_EXTENSIONS):
            continue
        try:
            if not path.is_file():
                continue
            stat = path.stat()
        except OSError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")
        found.append(
            {
                "name": name,
                "size": stat.st_size,
                "modified": modified.replace("+00:00", "Z"),
                "rows": _rows(path, stat.st_size),
            }
        )
    return found


def _rows(path: Path, size: int) -> int | None:
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        if name.endswith(".csv") and size <= SMALL_CSV_BYTES:
            with path.open("rb") as handle:
                lines = [line for line in handle.read().splitlines() if line.strip()]
            return max(0, len(lines) - 1)  # the header is not a row
    except Exception:  # a broken file is listed; loading it says what is wrong
        return None
    return None
