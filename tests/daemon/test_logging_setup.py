"""Daemon logging: files under data/logs, rotation, JSON lines, secrets never written."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.errors import InputError
from algotrade.daemon.logging_setup import (
    LoggingHandles,
    LogSetupError,
    RedactingFilter,
    RepeatFilter,
    configure_logging,
    redact,
)
from algotrade.daemon.settings import DaemonSettings, load_settings

API_KEY = "ak_live_9f8e7d6c5b4a"


def settings_for(tmp_path: Path, **logging_options: Any) -> DaemonSettings:
    return load_settings(None, {}, {"daemon": {"data_dir": tmp_path}, "logging": logging_options})


@pytest.fixture
def installed() -> Iterator[list[LoggingHandles]]:
    """Closes whatever a test installed and restores the root level."""
    handles: list[LoggingHandles] = []
    level = logging.getLogger().level
    yield handles
    for handle in handles:
        handle.close()
    logging.getLogger().setLevel(level)


def configure(
    installed: list[LoggingHandles], settings: DaemonSettings, **kwargs: Any
) -> LoggingHandles:
    handles = configure_logging(settings, stderr=False, **kwargs)
    installed.append(handles)
    return handles


def read(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_files_are_created_and_routed(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    import uvicorn

    # Found in CI: a uvicorn.Config made earlier in the process (default log config) had
    # stopped uvicorn.access from propagating, so access lines never reached api.log.
    uvicorn.Config(app=object())
    handles = configure(installed, settings_for(tmp_path))
    logs = tmp_path / "logs"
    assert handles.log_dir == logs
    logging.getLogger("algotrade.daemon").info("daemon ready")
    logging.getLogger("algotrade.api.routes").info("GET /api/bots 200")
    logging.getLogger("uvicorn.access").info("127.0.0.1 - GET /api/health 200")
    logging.getLogger("algotrade.daemon.actor").error("bot crashed")
    logging.getLogger("algotrade.daemon").debug("below the level")

    daemon_log = read(logs / "daemon.log")
    api_log = read(logs / "api.log")
    error_log = read(logs / "error.log")
    assert "daemon ready" in daemon_log
    assert "GET /api/bots 200" in daemon_log  # daemon.log has everything
    assert "below the level" not in daemon_log
    assert "GET /api/bots 200" in api_log
    assert "GET /api/health 200" in api_log
    assert "daemon ready" not in api_log
    assert "bot crashed" in error_log
    assert "daemon ready" not in error_log


def test_text_lines_carry_utc_time_and_bot_id(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    configure(installed, settings_for(tmp_path))
    logging.getLogger("algotrade.daemon").info("order sent", extra={"bot_id": "demo-btc"})
    line = read(tmp_path / "logs" / "daemon.log").strip().splitlines()[-1]
    assert line.endswith("order sent [bot=demo-btc]")
    assert line[23] == "Z"  # 2024-05-01T12:00:00.123Z


def test_configuring_twice_does_not_duplicate(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    settings = settings_for(tmp_path)
    configure(installed, settings)
    configure(installed, settings)
    logging.getLogger("algotrade.daemon").warning("once")
    assert read(tmp_path / "logs" / "daemon.log").count("once") == 1
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_algotrade_installed", False)]
    assert len(ours) == 3


def test_close_removes_handlers(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    handles = configure(installed, settings_for(tmp_path))
    handles.close()
    logging.getLogger("algotrade.daemon").warning("after close")
    assert "after close" not in read(tmp_path / "logs" / "daemon.log")


def test_rotation_by_size(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    configure(installed, settings_for(tmp_path, max_bytes=2_000, backups=2))
    log = logging.getLogger("algotrade.daemon")
    for i in range(200):
        log.info("line %d %s", i, "x" * 50)
    logs = tmp_path / "logs"
    assert (logs / "daemon.log.1").exists()
    assert (logs / "daemon.log.2").exists()
    assert not (logs / "daemon.log.3").exists()  # backups = 2
    assert (logs / "daemon.log").stat().st_size <= 2_000
    assert "line 199" in read(logs / "daemon.log")


def test_json_lines(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    configure(installed, settings_for(tmp_path, json=True))
    log = logging.getLogger("algotrade.daemon.actor")
    log.info("filled %s @ %s", "0.01", "60000", extra={"bot_id": "demo-btc"})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("bot failed")
    lines = read(tmp_path / "logs" / "daemon.log").splitlines()
    records = [json.loads(line) for line in lines]
    first, second = records[-2], records[-1]
    assert first["message"] == "filled 0.01 @ 60000"
    assert first["level"] == "INFO"
    assert first["logger"] == "algotrade.daemon.actor"
    assert first["bot_id"] == "demo-btc"
    assert first["ts"].endswith("Z")
    assert "exc_info" not in first
    assert second["level"] == "ERROR"
    assert "RuntimeError: boom" in second["exc_info"]
    assert "bot_id" not in second


def test_secrets_never_reach_the_files(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    configure(installed, settings_for(tmp_path), secrets=[API_KEY])
    log = logging.getLogger("algotrade.api")
    log.warning("rejected key %s", API_KEY)
    log.warning("request headers: X-API-Key: %s", "other-key-123")
    log.warning("connecting to %s", "postgresql://bob:hunter2@db:5432/algo")
    log.warning("GET /ws?token=%s&since=5 403", "tok_abcdef")
    log.warning("loaded %s", {"password": "pa55word", "private_key": "0xdeadbeef"})
    try:
        raise ConnectionError(f"could not reach postgresql://bob:hunter2@db/algo with {API_KEY}")
    except ConnectionError:
        log.exception("database down")

    for name in ("daemon.log", "api.log", "error.log"):
        text = read(tmp_path / "logs" / name)
        for secret in (API_KEY, "other-key-123", "hunter2", "tok_abcdef", "pa55word", "deadbeef"):
            assert secret not in text, (name, secret)
    daemon_log = read(tmp_path / "logs" / "daemon.log")
    assert "postgresql://bob:***@db:5432/algo" in daemon_log
    assert "token=***&since=5" in daemon_log
    assert "X-API-Key: ***" in daemon_log
    assert "ConnectionError: could not reach postgresql://bob:***@db/algo" in daemon_log


def test_secrets_in_json_exception_text(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    configure(installed, settings_for(tmp_path, json=True), secrets=[API_KEY])
    try:
        raise ValueError(f"api_key={API_KEY}")
    except ValueError:
        logging.getLogger("algotrade.daemon").exception("bad key")
    record = json.loads(read(tmp_path / "logs" / "error.log").splitlines()[-1])
    assert API_KEY not in record["exc_info"]
    assert "api_key=***" in record["exc_info"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-API-Key: abc123", "X-API-Key: ***"),
        ("{'x-api-key': 'abc123'}", "{'x-api-key': '***'}"),
        ("Authorization: Bearer eyJ.abc", "Authorization: Bearer ***"),
        ("/ws?token=abc&x=1", "/ws?token=***&x=1"),
        ("access_token=abc", "access_token=***"),
        ("password=hunter2 user=bob", "password=*** user=bob"),
        ('{"secret": "a b c", "n": 1}', '{"secret": "***", "n": 1}'),
        ("private_key: 0xabc", "private_key: ***"),
        ("API_KEY = xyz", "API_KEY = ***"),
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("sqlite:///data/algotrade.db", "sqlite:///data/algotrade.db"),
        ("bot demo-btc filled 0.01 @ 60000", "bot demo-btc filled 0.01 @ 60000"),
    ],
)
def test_redact_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_short_secrets_are_not_masked_everywhere() -> None:
    assert RedactingFilter(["1", "abc", API_KEY]).secrets == (API_KEY,)


def test_filter_survives_a_bad_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    assert RedactingFilter().filter(record)
    assert "%d items" in record.getMessage()


def test_logs_dir_is_created(tmp_path: Path, installed: list[LoggingHandles]) -> None:
    data_dir = tmp_path / "nested" / "data"
    configure(installed, settings_for(data_dir))
    assert (data_dir / "logs" / "daemon.log").exists()


# -- defect 7: repeated errors are rate-limited; defect 8: owner-only files --------------------


def lines_with(path: Path, text: str) -> list[str]:
    return [line for line in read(path).splitlines() if text in line]


def test_a_flood_of_identical_errors_is_bounded_and_summarised(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    handles = configure(installed, settings_for(tmp_path, repeat_limit=5, repeat_window_s=3600))
    log = logging.getLogger("algotrade.daemon.file_channel")
    for attempt in range(10_000):
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            log.exception("file channel: poll failed (%d in a row)", attempt)
    log.info("a quiet line still passes")
    handles.close()  # writes the summary of the window still open

    logs = tmp_path / "logs"
    for name in ("daemon.log", "error.log"):
        written = [x for x in lines_with(logs / name, "poll failed (") if "suppressed" not in x]
        assert len(written) == 5
        assert read(logs / name).count("Traceback") == 5
        [summary] = lines_with(logs / name, "suppressed")
        assert "suppressed 9995 similar messages" in summary
        assert "file channel: poll failed (%d in a row) (OSError)" in summary
        assert "ERROR" in summary
    assert "a quiet line still passes" in read(logs / "daemon.log")


def test_repeat_limit_zero_writes_everything(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    handles = configure(installed, settings_for(tmp_path, repeat_limit=0))
    for i in range(50):
        logging.getLogger("algotrade.daemon").error("same %d", i)
    handles.close()
    assert len(lines_with(tmp_path / "logs" / "daemon.log", "same ")) == 50


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited() -> Iterator[tuple[RepeatFilter, Clock, list[logging.LogRecord]]]:
    """A logger whose handler keeps what the filter let through."""
    clock = Clock()
    repeats = RepeatFilter(3, 60.0, clock=clock)
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    handler = Keep()
    handler.addFilter(repeats)
    logger = logging.getLogger("test.repeats")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield repeats, clock, kept
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def test_each_kind_gets_its_own_allowance_and_a_summary_when_its_window_ends(
    limited: tuple[RepeatFilter, Clock, list[logging.LogRecord]],
) -> None:
    repeats, clock, kept = limited
    log = logging.getLogger("test.repeats")
    for i in range(20):
        clock.now = 1000.0 + i  # one round a second
        log.warning("order %s rejected", i, extra={"bot_id": "a"})
        log.warning("order %s rejected", i, extra={"bot_id": "b"})  # another bot: its own
        log.error("order %s rejected", i, extra={"bot_id": "a"})  # another level: its own
        log.warning(f"venue said: error {i} at 0x{i:08x}")  # preformatted, numbers vary
        log.info("bot %s heartbeat", i)  # below WARNING: never limited
    assert len(kept) == 3 * 4 + 20
    assert repeats.suppressed_total == 17 * 4

    kept.clear()
    clock.now += 61  # every window has ended: the next record brings the summaries
    log.warning("order %s rejected", 99, extra={"bot_id": "a"})
    messages = [(r.levelname, getattr(r, "bot_id", ""), r.getMessage()) for r in kept]
    assert messages[-1] == ("WARNING", "a", "order 99 rejected")
    summaries = sorted(messages[:-1])
    assert summaries == [
        ("ERROR", "a", "suppressed 17 similar messages in 19.0 s: order %s rejected"),
        (
            "WARNING",
            "",
            "suppressed 17 similar messages in 19.0 s: venue said: error # at #",
        ),
        ("WARNING", "a", "suppressed 17 similar messages in 19.0 s: order %s rejected"),
        ("WARNING", "b", "suppressed 17 similar messages in 19.0 s: order %s rejected"),
    ]
    kept.clear()
    repeats.flush()
    assert kept == []  # nothing dropped since: nothing to report


def test_one_decision_per_record_for_every_handler(
    limited: tuple[RepeatFilter, Clock, list[logging.LogRecord]],
) -> None:
    repeats, _, _ = limited
    records = [
        logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", (i,), None) for i in range(5)
    ]
    first = [repeats.filter(r) for r in records]
    second = [repeats.filter(r) for r in records]  # the same records at a second handler
    assert first == second == [True, True, True, False, False]
    assert repeats.suppressed_total == 2


def test_tracked_kinds_are_bounded(
    limited: tuple[RepeatFilter, Clock, list[logging.LogRecord]],
) -> None:
    repeats, _, kept = limited
    repeats.max_kinds = 10
    log = logging.getLogger("test.repeats")
    for i in range(1000):
        log.error("distinct %s", i, extra={"bot_id": f"bot-{i}"})  # a new kind every time
    assert len(kept) == 10 + 3  # 10 tracked kinds, then the shared overflow kind's allowance


def test_log_files_and_folder_are_owner_only(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    configure(installed, settings_for(tmp_path / "data", max_bytes=500, backups=2))
    logs = tmp_path / "data" / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    for i in range(50):
        logging.getLogger("algotrade.daemon").info("line %d %s", i, "x" * 40)
    assert (logs / "daemon.log.1").exists()  # rotated: the new file is owner-only too
    for path in logs.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_file_where_the_logs_folder_should_be_is_one_line(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    (tmp_path / "logs").write_text("not a folder")
    with pytest.raises(LogSetupError) as caught:
        configure(installed, settings_for(tmp_path))
    message = str(caught.value)
    assert message == (
        f"cannot create log file {tmp_path / 'logs'}: exists and is not a folder "
        "(expected a writable folder; daemon.data_dir)"
    )
    assert isinstance(caught.value, InputError)
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_algotrade_installed", 0)]


def test_alembic_plugin_announcements_are_quiet(
    tmp_path: Path, installed: list[LoggingHandles]
) -> None:
    handles = configure(installed, settings_for(tmp_path))
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.types")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade  -> 0001")
    handles.close()
    text = read(tmp_path / "logs" / "daemon.log")
    assert "setup plugin" not in text
    assert "Running upgrade" in text
