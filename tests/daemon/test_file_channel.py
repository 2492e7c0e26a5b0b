"""The file command channel: each action, exactly-once, garbage, atomic status.json."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest

from algotrade.core.errors import AlgoTradeError, InputError, RetryableError
from algotrade.daemon.file_channel import (
    MAX_POLL_BACKOFF_S,
    MAX_STATUS_ITEMS,
    FileChannel,
    SignalsFolderError,
    parse_fields,
)
from algotrade.daemon.service_api import (
    BotExists,
    BotNotFound,
    BotServiceApi,
    InvalidBotConfig,
    InvalidTransition,
    ServiceError,
    ShuttingDown,
    VenueNotConnected,
)
from algotrade.daemon.status import BotState, BotStatus

POLL = 0.01


class FakeService:
    """The BotServiceApi methods the channel calls; records every call."""

    def __init__(self, bot_ids: list[str] | None = None) -> None:
        self.bots = {
            bot_id: BotStatus(bot_id=bot_id, state=BotState.STOPPED, simulated=True)
            for bot_id in (bot_ids or ["alpha", "beta"])
        }
        self.calls: list[tuple[str, str | None]] = []
        self.shutdown_requested = False

    async def list_bots(self) -> list[BotStatus]:
        return list(self.bots.values())

    def _get(self, bot_id: str) -> BotStatus:
        if bot_id not in self.bots:
            raise BotNotFound(f"no bot {bot_id!r}")
        return self.bots[bot_id]

    def _set(self, bot_id: str, state: BotState) -> BotStatus:
        status = self._get(bot_id).model_copy(update={"state": state})
        self.bots[bot_id] = status
        return status

    async def start_bot(self, bot_id: str) -> BotStatus:
        self.calls.append(("start", bot_id))
        return self._set(bot_id, BotState.RUNNING)

    async def stop_bot(self, bot_id: str) -> BotStatus:
        self.calls.append(("stop", bot_id))
        return self._set(bot_id, BotState.STOPPED)

    async def pause_bot(self, bot_id: str) -> BotStatus:
        self.calls.append(("pause", bot_id))
        if self._get(bot_id).state is not BotState.RUNNING:
            raise InvalidTransition(f"bot {bot_id} is {self.bots[bot_id].state}, not running")
        return self._set(bot_id, BotState.PAUSED)

    async def resume_bot(self, bot_id: str) -> BotStatus:
        self.calls.append(("resume", bot_id))
        return self._set(bot_id, BotState.RUNNING)

    async def close_all(self, bot_id: str | None = None) -> None:
        self.calls.append(("close_all", bot_id))
        if bot_id is not None:
            self._get(bot_id)

    async def request_shutdown(self) -> None:
        self.calls.append(("shutdown", None))
        self.shutdown_requested = True


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
async def channel(tmp_path: Path, service: FakeService) -> AsyncIterator[FileChannel]:
    chan = make_channel(tmp_path, service)
    await chan.start()
    yield chan
    await chan.stop()


def make_channel(tmp_path: Path, service: FakeService, **kwargs: float) -> FileChannel:
    options = {"poll_interval": POLL, "status_interval": 0.05, **kwargs}
    return FileChannel(tmp_path / "signals", cast(BotServiceApi, service), **options)


def drop(signals: Path, name: str, text: str | bytes) -> Path:
    """Write-then-rename, as documented for writers."""
    tmp = signals / f"{name}.tmp"
    tmp.write_bytes(text.encode() if isinstance(text, str) else text)
    target = signals / f"{name}.cmd"
    os.rename(tmp, target)
    return target


def status(signals: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((signals / "status.json").read_text("utf-8")))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(POLL)


def handled(signals: Path, name: str) -> bool:
    return (signals / "done" / f"{name}.cmd").exists() or (
        signals / "failed" / f"{name}.cmd"
    ).exists()


async def run(signals: Path, name: str, text: str | bytes) -> dict[str, Any]:
    drop(signals, name, text)
    await until(lambda: handled(signals, name))
    await until(lambda: (status(signals)["last_command"] or {}).get("file") == f"{name}.cmd")
    return cast(dict[str, Any], status(signals)["last_command"])


@pytest.mark.parametrize(
    ("text", "call", "state"),
    [
        ("ACTION=START\nBOT=alpha\n", ("start", "alpha"), "running"),
        ("ACTION=STOP\nBOT=alpha\n", ("stop", "alpha"), "stopped"),
        ("ACTION=RESUME\nBOT=alpha\n", ("resume", "alpha"), "running"),
        ("ACTION=CLOSE_ALL\nBOT=alpha\n", ("close_all", "alpha"), "stopped"),
        ("ACTION=CLOSE_ALL\n", ("close_all", None), "stopped"),
    ],
)
async def test_actions(
    channel: FileChannel,
    service: FakeService,
    text: str,
    call: tuple[str, str | None],
    state: str,
) -> None:
    result = await run(channel.directory, "001-cmd", text)
    assert result["result"] == "ok", result
    assert service.calls == [call]
    assert (channel.directory / "done" / "001-cmd.cmd").read_text() == text
    items = {item["bot_id"]: item for item in status(channel.directory)["bots"]["items"]}
    assert items["alpha"]["state"] == state


async def test_pause_after_start_and_status_fields(
    channel: FileChannel, service: FakeService
) -> None:
    signals = channel.directory
    await run(signals, "001", "ACTION=START\nBOT=alpha\n")
    result = await run(signals, "002", "# pause it\n  action = pause \n\nbot=alpha\nID=req-7\n")
    assert result["result"] == "ok"
    assert result["action"] == "PAUSE"
    assert result["bot"] == "alpha"
    assert result["id"] == "req-7"
    assert result["message"] == "bot alpha is paused"
    assert result["at"].endswith("Z")
    doc = status(signals)
    assert doc["pid"] == os.getpid()
    assert doc["state"] == "running"
    assert doc["heartbeat"].endswith("Z")
    assert doc["bots"]["total"] == 2
    assert doc["bots"]["by_state"] == {"stopped": 1, "running": 0, "paused": 1, "error": 0}
    assert doc["bots"]["items"][0] == {
        "bot_id": "alpha",
        "state": "paused",
        "equity": "0",
        "position": {},
        "last_error": None,
    }
    assert doc["last_error"] is None
    assert service.calls == [("start", "alpha"), ("pause", "alpha")]


async def test_status_action_refreshes_bots(channel: FileChannel, service: FakeService) -> None:
    service.bots["gamma"] = BotStatus(bot_id="gamma", state=BotState.RUNNING, simulated=True)
    result = await run(channel.directory, "001", "ACTION=STATUS\nBOT=ignored\n")
    assert result["result"] == "ok"
    assert result["bot"] is None
    assert status(channel.directory)["bots"]["total"] == 3
    assert service.calls == []


async def test_shutdown(channel: FileChannel, service: FakeService) -> None:
    result = await run(channel.directory, "001", "ACTION=SHUTDOWN\n")
    assert result["result"] == "ok"
    assert service.shutdown_requested
    assert status(channel.directory)["state"] == "stopping"
    # Later commands are not claimed: they wait for the next start.
    drop(channel.directory, "002", "ACTION=START\nBOT=alpha\n")
    await asyncio.sleep(POLL * 10)
    assert (channel.directory / "002.cmd").exists()
    assert service.calls == [("shutdown", None)]


async def test_commands_run_in_name_order(tmp_path: Path, service: FakeService) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    for name, bot in [("003", "beta"), ("001", "alpha"), ("002", "beta")]:
        drop(signals, name, f"ACTION=START\nBOT={bot}\n")
    chan = make_channel(tmp_path, service)
    await chan.start()
    try:
        await until(lambda: len(service.calls) == 3)
    finally:
        await chan.stop()
    assert service.calls == [("start", "alpha"), ("start", "beta"), ("start", "beta")]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ("ACTION=JUMP\nBOT=alpha\n", "unknown ACTION 'JUMP'"),
        ("ACTION=START\n", "ACTION=START needs BOT=<bot_id>"),
        ("BOT=alpha\n", "missing ACTION"),
        ("ACTION=START\nBOT=nobody\n", "no bot 'nobody'"),
        ("ACTION=START\nthis is not a key value line\n", "line 2: expected KEY=VALUE"),
        (b"ACTION=START\nBOT=\xff\xfe\n", "not UTF-8 text"),
        ("", "empty command file"),
        ("# only a comment\n\n", "empty command file"),
        ("ACTION=START\nBOT=a\nBOT=b\n", "line 3: BOT given twice"),
        ("ACTION=PAUSE\nBOT=alpha\n", "not running"),  # a ServiceError from the service
    ],
)
async def test_garbage_is_recorded_and_channel_keeps_going(
    channel: FileChannel, service: FakeService, payload: str | bytes, problem: str
) -> None:
    signals = channel.directory
    result = await run(signals, "001-bad", payload)
    assert result["result"] == "error"
    assert problem in result["message"]
    assert (signals / "failed" / "001-bad.cmd").exists()
    assert not (signals / "done" / "001-bad.cmd").exists()
    assert problem in status(signals)["last_error"]

    good = await run(signals, "002-good", "ACTION=START\nBOT=beta\n")
    assert good["result"] == "ok"
    assert service.calls[-1] == ("start", "beta")


async def test_oversized_command_fails(channel: FileChannel) -> None:
    result = await run(channel.directory, "001", "ACTION=STATUS\n" + "#" * 70_000)
    assert result["result"] == "error"
    assert "larger than" in result["message"]


async def test_tmp_dot_and_other_files_are_never_read(
    channel: FileChannel, service: FakeService
) -> None:
    signals = channel.directory
    (signals / "pending.tmp").write_text("ACTION=START\nBOT=alpha\n")
    (signals / ".hidden.cmd").write_text("ACTION=START\nBOT=alpha\n")
    (signals / "notes.txt").write_text("ACTION=START\nBOT=alpha\n")
    (signals / "dir.cmd").mkdir()
    await run(signals, "001", "ACTION=STATUS\n")
    await asyncio.sleep(POLL * 5)
    assert service.calls == []
    for name in ("pending.tmp", ".hidden.cmd", "notes.txt", "dir.cmd"):
        assert (signals / name).exists()


async def test_slow_writer_is_executed_once_with_full_content(
    channel: FileChannel, service: FakeService
) -> None:
    signals = channel.directory
    tmp = signals / "001-slow.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("ACTION=ST")
        handle.flush()
        await asyncio.sleep(POLL * 10)  # several polls see only the .tmp file
        handle.write("ART\nBOT=alpha\nID=slow-1\n")
    assert service.calls == []
    os.rename(tmp, signals / "001-slow.cmd")
    await until(lambda: handled(signals, "001-slow"))
    await asyncio.sleep(POLL * 5)
    assert service.calls == [("start", "alpha")]
    assert status(signals)["last_command"]["id"] == "slow-1"


async def test_processed_once_across_restarts(tmp_path: Path, service: FakeService) -> None:
    first = make_channel(tmp_path, service)
    await first.start()
    await run(first.directory, "001", "ACTION=START\nBOT=alpha\n")
    await first.stop()
    second = make_channel(tmp_path, service)
    await second.start()
    await asyncio.sleep(POLL * 10)
    await second.stop()
    assert service.calls == [("start", "alpha")]


async def test_claimed_but_unfinished_command_is_not_rerun(
    tmp_path: Path, service: FakeService
) -> None:
    # A crash after the claim leaves the file in processing/: it may have run, so it must not
    # run again; it is failed with a message saying so.
    signals = tmp_path / "signals"
    (signals / "processing").mkdir(parents=True)
    (signals / "processing" / "001.cmd").write_text("ACTION=START\nBOT=alpha\n")
    chan = make_channel(tmp_path, service)
    await chan.start()
    await asyncio.sleep(POLL * 10)
    await chan.stop()
    assert service.calls == []
    assert (signals / "failed" / "001.cmd").exists()
    assert not (signals / "processing" / "001.cmd").exists()
    doc = status(signals)
    assert doc["last_command"]["result"] == "error"
    assert "interrupted" in doc["last_command"]["message"]


async def test_stop_writes_stopping_state(tmp_path: Path, service: FakeService) -> None:
    chan = make_channel(tmp_path, service)
    await chan.start()
    assert status(chan.directory)["state"] == "running"
    await chan.stop()
    assert status(chan.directory)["state"] == "stopping"


async def test_status_json_is_always_valid_while_rewritten(
    tmp_path: Path, service: FakeService
) -> None:
    service.bots.update(
        {
            f"bot-{i:05d}": BotStatus(bot_id=f"bot-{i:05d}", state=BotState.RUNNING, simulated=True)
            for i in range(300)
        }
    )
    chan = make_channel(tmp_path, service, status_interval=0.001)
    await chan.start()
    path = chan.directory / "status.json"
    stop = threading.Event()
    reads: list[int] = []
    failures: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                reads.append(len(json.loads(path.read_bytes())["bots"]["items"]))
            except BaseException as exc:  # any decode error or missing file is a failure
                failures.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(200):
            chan.write_status()  # also from the loop thread, racing the worker's writes
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        thread.join()
        await chan.stop()
    assert failures == []
    assert len(reads) > 50
    assert set(reads) == {302}


async def test_status_lists_at_most_max_items_but_counts_all(tmp_path: Path) -> None:
    service = FakeService([f"bot-{i:05d}" for i in range(MAX_STATUS_ITEMS + 50)])
    chan = make_channel(tmp_path, service)
    await chan.start()
    await chan.stop()
    bots = status(chan.directory)["bots"]
    assert bots["total"] == MAX_STATUS_ITEMS + 50
    assert bots["by_state"]["stopped"] == MAX_STATUS_ITEMS + 50
    assert len(bots["items"]) == MAX_STATUS_ITEMS
    assert bots["items_truncated"] is True


async def test_done_keeps_the_last_files(
    tmp_path: Path, service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from algotrade.daemon import file_channel

    monkeypatch.setattr(file_channel, "KEEP_ARCHIVED", 5)
    monkeypatch.setattr(file_channel, "_PRUNE_SLACK", 2)
    chan = make_channel(tmp_path, service)
    await chan.start()
    try:
        for i in range(12):
            await run(chan.directory, f"{i:03d}", "ACTION=STATUS\n")
    finally:
        await chan.stop()
    kept = sorted(p.name for p in (chan.directory / "done").iterdir())
    assert len(kept) <= 7
    assert "011.cmd" in kept
    assert "000.cmd" not in kept


def test_parse_fields_trims_and_uppercases_keys() -> None:
    assert parse_fields(b"\xef\xbb\xbf action = start \r\nBot=x=y\n# c\n") == {
        "ACTION": "start",
        "BOT": "x=y",
    }


# -- defect 7: the folder removed under a running daemon, a poll that keeps failing ---------


def channel_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "algotrade.daemon.file_channel" and r.levelno == level
    ]


class ParkedLoop:
    """Holds the channel's loop in its pause between polls (no worker thread touching the
    folder) until released; later pauses are the channel's own."""

    def __init__(self, channel: FileChannel) -> None:
        self._own = channel._pause
        self.parked = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        if not self.release.is_set():
            self.parked.set()
            await self.release.wait()
        await self._own(seconds)


async def test_removed_folder_is_recreated_with_one_warning_and_commands_keep_working(
    channel: FileChannel,
    service: FakeService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signals = channel.directory
    await run(signals, "001", "ACTION=STATUS\n")
    parked = ParkedLoop(channel)
    monkeypatch.setattr(channel, "_pause", parked)
    await asyncio.wait_for(parked.parked.wait(), timeout=5)
    caplog.clear()
    polls_before = channel.polls

    shutil.rmtree(signals)  # while the loop is parked: no poll sees half of it
    parked.release.set()
    await until(lambda: (signals / "processing").is_dir() and (signals / "failed").is_dir())
    await until(lambda: channel.polls >= polls_before + 20)  # many polls after the removal

    result = await run(signals, "002", "ACTION=START\nBOT=alpha\n")
    assert result["result"] == "ok"
    assert service.calls == [("start", "alpha")]
    assert channel_records(caplog, logging.ERROR) == []
    [warning] = channel_records(caplog, logging.WARNING)
    assert warning.getMessage().startswith(f"file channel: recreated {signals}, ")
    assert "(removed while the daemon runs?)" in warning.getMessage()
    assert channel.failed_polls == 0


async def test_done_folder_removed_between_polls_is_recreated_for_the_archive(
    channel: FileChannel, service: FakeService
) -> None:
    signals = channel.directory
    shutil.rmtree(signals / "done")
    result = await run(signals, "001", "ACTION=START\nBOT=beta\n")
    assert result["result"] == "ok"
    assert (signals / "done" / "001.cmd").exists()


async def test_the_folders_it_creates_are_owner_only(tmp_path: Path, service: FakeService) -> None:
    """Defect: signals/ and its processing/, done/ and failed/ were created 0755, though
    docs/daemon.md promises 0700 for the folders the daemon creates."""
    chan = make_channel(tmp_path, service)
    await chan.start()
    try:
        signals = chan.directory
        shutil.rmtree(signals / "done")
        assert (await run(signals, "001", "ACTION=START\nBOT=beta\n"))["result"] == "ok"
        for folder in (signals, *(signals / name for name in ("processing", "done", "failed"))):
            assert folder.stat().st_mode & 0o777 == 0o700, folder
    finally:
        await chan.stop()


class RecordedPauses:
    """Stands in for the channel's wait between polls: records each delay the loop asks for
    and returns at once, until ``limit`` pauses, where it holds the loop until released. The
    test counts loop iterations, never wall time."""

    def __init__(self, limit: int) -> None:
        self.delays: list[float] = []
        self.limit = limit
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) >= self.limit:
            self.reached.set()
            await self.release.wait()
        else:
            await asyncio.sleep(0)


async def test_a_poll_that_keeps_failing_backs_off_and_logs_one_traceback(
    tmp_path: Path,
    service: FakeService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chan = make_channel(tmp_path, service, poll_interval=0.2, status_interval=3600)
    await chan.start()
    pauses = RecordedPauses(limit=12)
    monkeypatch.setattr(chan, "_pause", pauses)
    signals = chan.directory
    caplog.clear()
    shutil.rmtree(signals)
    signals.write_text("a file where the folder should be")  # no poll can succeed
    try:
        await asyncio.wait_for(pauses.reached.wait(), timeout=10)
        delays = list(pauses.delays)
        signals.unlink()  # the fault goes away: the channel recovers by itself
        pauses.limit = len(delays) + 3
        pauses.reached.clear()
        pauses.release.set()
        pauses.release = asyncio.Event()
        await asyncio.wait_for(pauses.reached.wait(), timeout=10)
    finally:
        pauses.release.set()
        await chan.stop()

    # Every failed poll waits longer than the one before, up to the ceiling: never 0.
    assert delays[:6] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4]
    assert set(delays[6:]) == {MAX_POLL_BACKOFF_S}
    errors = channel_records(caplog, logging.ERROR)
    assert len(errors) == chan.failed_polls == len(delays)
    assert errors[0].exc_info is not None  # one traceback, with the first failure
    assert all(r.exc_info is None for r in errors[1:])
    assert "not a folder" in errors[1].getMessage()
    assert any("polling again after" in r.getMessage() for r in caplog.records)
    assert (signals / "processing").is_dir()


async def test_signals_path_that_is_a_file_fails_the_start_in_one_line(
    tmp_path: Path, service: FakeService
) -> None:
    (tmp_path / "signals").write_text("not a folder")
    chan = make_channel(tmp_path, service)
    with pytest.raises(SignalsFolderError) as caught:
        await chan.start()
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "signals") in message
    assert "expected a writable directory" in message
    assert isinstance(caught.value, InputError)


def test_command_error_is_an_input_error_of_the_project() -> None:
    with pytest.raises(InputError):
        parse_fields(b"")


def test_service_errors_are_rooted_in_the_project_tree() -> None:
    assert issubclass(ServiceError, AlgoTradeError)
    for refused_input in (BotNotFound, BotExists, InvalidBotConfig, InvalidTransition):
        assert issubclass(refused_input, InputError)
    for try_later in (ShuttingDown, VenueNotConnected):
        assert issubclass(try_later, RetryableError)
