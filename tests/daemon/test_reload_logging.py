"""What a reload changes in the running logging: the level, and keys added to the redactor."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from algotrade.daemon.logging_setup import LoggingHandles, configure_logging
from algotrade.daemon.settings import load_settings

NEW_KEY = "rotated-in-key-0123456789abcdef"


@pytest.fixture
def handles(tmp_path: Path) -> Iterator[LoggingHandles]:
    root_level = logging.getLogger().level
    settings = load_settings(None, {}, {"daemon": {"data_dir": tmp_path}})
    installed = configure_logging(settings, stderr=False, secrets=["first-key-0123456789abcdef"])
    yield installed
    installed.close()
    logging.getLogger().setLevel(root_level)


def read(handles: LoggingHandles, name: str) -> str:
    for handler in handles.handlers:
        handler.flush()
    return (handles.log_dir / name).read_text(encoding="utf-8")


def test_the_level_changes_live_and_error_log_keeps_its_floor(handles: LoggingHandles) -> None:
    log = logging.getLogger("algotrade.daemon")
    log.debug("before the reload")
    handles.set_level(logging.DEBUG)
    log.debug("after the reload")
    daemon_log = read(handles, "daemon.log")
    assert "before the reload" not in daemon_log
    assert "after the reload" in daemon_log
    assert "after the reload" not in read(handles, "error.log")  # error.log: ERROR and above
    handles.set_level(logging.WARNING)
    log.info("quiet now")
    assert "quiet now" not in read(handles, "daemon.log")


def test_keys_added_by_a_reload_are_masked_and_old_ones_stay_masked(
    handles: LoggingHandles,
) -> None:
    log = logging.getLogger("algotrade.daemon")
    handles.add_secrets([NEW_KEY])
    log.warning("client sent %s and first-key-0123456789abcdef", NEW_KEY)
    text = read(handles, "daemon.log")
    assert NEW_KEY not in text
    assert "first-key-0123456789abcdef" not in text
    assert "client sent" in text
