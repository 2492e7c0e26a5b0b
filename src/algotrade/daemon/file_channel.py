"""The file command channel: control the daemon by dropping files in ``<data_dir>/signals/``.

For scripts that cannot speak HTTP (see docs/file-channel.md). A writer creates ``x.tmp`` (or a
dotfile), writes it fully, then renames it to ``x.cmd``; the rename is atomic, so the channel
never sees half a command. The channel claims a command by renaming it into ``processing/``
*before* running it and moves it to ``done/`` or ``failed/`` afterwards: a crash between the two
leaves it in ``processing/``, and the next start moves it to ``failed/`` unrun, so no command
ever runs twice. ``status.json`` reports the daemon, its bots and the last command's result; it
is replaced atomically, so a reader never sees a half-written file.

The folder is the operator's: if it (or one of its subfolders) is removed while the daemon
runs, the next poll recreates it and says so once. Any other failure of a poll (no file
descriptors left, a full disk) is logged and retried after a growing delay (``Backoff``): the
loop never spins.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import InputError
from algotrade.daemon.service_api import BotServiceApi, ServiceError
from algotrade.daemon.status import BotState, BotStatus
from algotrade.daemon.supervisor import Backoff, TaskSupervisor

logger = logging.getLogger(__name__)

STATUS_FILE = "status.json"
COMMAND_SUFFIX = ".cmd"
MAX_COMMAND_BYTES = 64 * 1024
MAX_STATUS_ITEMS = 1_000  # status.json lists at most this many bots; counts cover all
KEEP_ARCHIVED = 1_000  # command files kept in done/ and in failed/ each
_PRUNE_SLACK = 100  # prune in batches, not on every command
# A poll that keeps failing is retried after poll_interval, 2×, 4×, ... up to this many seconds.
MAX_POLL_BACKOFF_S = 10.0


class Action(StrEnum):
    START = "START"
    STOP = "STOP"
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    CLOSE_ALL = "CLOSE_ALL"
    STATUS = "STATUS"
    SHUTDOWN = "SHUTDOWN"


NEEDS_BOT = frozenset({Action.START, Action.STOP, Action.PAUSE, Action.RESUME})


class CommandError(InputError):
    """A command file that cannot be understood; its message says what is wrong."""


class SignalsFolderError(InputError):
    """The signals folder cannot be used (a file where the folder should be, no permission)."""


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    bot: str | None
    request_id: str | None

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Command:
        raw_action = fields.get("ACTION")
        if not raw_action:
            raise CommandError("missing ACTION")
        try:
            action = Action(raw_action.upper())
        except ValueError:
            known = "|".join(Action)
            raise CommandError(f"unknown ACTION {raw_action!r}; expected {known}") from None
        bot = fields.get("BOT") or None
        if action in NEEDS_BOT and bot is None:
            raise CommandError(f"ACTION={action} needs BOT=<bot_id>")
        if action in (Action.STATUS, Action.SHUTDOWN):
            bot = None  # documented as ignored
        return cls(action=action, bot=bot, request_id=fields.get("ID") or None)


def parse_fields(data: bytes) -> dict[str, str]:
    """``KEY=value`` lines → {KEY: value}; keys upper-cased, whitespace trimmed, ``#`` comments
    and blank lines skipped. Raises ``CommandError`` for anything else."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    fields: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().upper()
        if not sep or not key:
            raise CommandError(f"line {number}: expected KEY=VALUE, got {line[:60]!r}")
        if key in fields:
            raise CommandError(f"line {number}: {key} given twice")
        fields[key] = value.strip()
    if not fields:
        raise CommandError("empty command file (no KEY=VALUE lines)")
    return fields


class FileChannel:
    """Polls ``directory`` for ``*.cmd`` files, runs them through ``service``, writes status."""

    def __init__(
        self,
        directory: Path,
        service: BotServiceApi,
        *,
        poll_interval: float = 0.2,
        status_interval: float = 1.0,
        supervisor: TaskSupervisor | None = None,
    ) -> None:
        """``supervisor`` runs the polling task; without one the channel keeps a private
        supervisor (the task is still referenced, named and its failure logged, and ``stop``
        still ends it, but the daemon's shutdown does not see it)."""
        self.directory = directory
        self.processing_dir = directory / "processing"
        self.done_dir = directory / "done"
        self.failed_dir = directory / "failed"
        self.status_path = directory / STATUS_FILE
        self._service = service
        self._supervisor = supervisor or TaskSupervisor()
        self._poll_interval = poll_interval
        self._status_interval = status_interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._state = "running"
        self._shutdown_requested = False
        self._bots: dict[str, BotStatus] = {}
        self._bots_updated_at: str | None = None
        self._last_command: dict[str, Any] | None = None
        self._last_error: str | None = None
        self._archived = {"done": 0, "failed": 0}
        self.polls = 0  # loop iterations, failed ones included (tests, diagnostics)
        self.failed_polls = 0
        # write_status() may run in a worker thread and be called by the daemon at once.
        self._write_lock = threading.Lock()

    async def start(self) -> None:
        """Create the directories, settle commands a crash left unfinished, start polling."""
        if self._task is not None:
            return
        # A fresh event per start: an asyncio.Event binds to the loop that first waits on it.
        self._stopping = asyncio.Event()
        self._state = "running"
        self._shutdown_requested = False
        try:
            await asyncio.to_thread(self._prepare)
        except OSError as exc:
            raise SignalsFolderError(
                f"file command folder {exc.filename or self.directory}: "
                f"{exc.strerror or exc}; expected a writable directory (daemon.data_dir)"
            ) from None
        await self._refresh_bots()
        await self._publish()
        self._task = self._supervisor.spawn(self._run(), name="file-channel")

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the command in hand (up to ``timeout``), then write a final status."""
        self._state = "stopping"
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                logger.warning("file channel: command still running after %.1fs", timeout)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            await self._publish()
        except OSError as exc:
            logger.warning("file channel: cannot write %s: %s", self.status_path, exc)

    def write_status(self) -> None:
        """Write status.json now from what the channel knows (atomic replace + fsync)."""
        self._write(self._status_payload())

    # -- the polling loop --------------------------------------------------------------

    async def _run(self) -> None:
        next_status = time.monotonic() + self._status_interval
        backoff = Backoff(self._poll_interval, max(self._poll_interval, MAX_POLL_BACKOFF_S))
        while not self._stopping.is_set():
            self.polls += 1
            # Set before the work: a poll that fails must not make the next one due at once.
            status_due = time.monotonic() >= next_status
            if status_due:
                next_status = time.monotonic() + self._status_interval
            try:
                await self._poll(status_due)
            except Exception as exc:  # the channel must outlive any one bad moment
                self.failed_polls += 1
                delay = backoff.failed()
                self._last_error = f"file channel error: {exc}"
                if backoff.failures == 1:
                    logger.exception("file channel: poll failed; retrying in %.1f s", delay)
                else:  # the traceback was logged with the first failure of the run
                    logger.error(
                        "file channel: poll failed again (%d in a row): %s; retrying in %.1f s",
                        backoff.failures,
                        _one_line(exc),
                        delay,
                    )
                await self._pause(delay)
                continue
            failures = backoff.succeeded()
            if failures:
                logger.warning("file channel: polling again after %d failed polls", failures)
            await self._pause(min(self._poll_interval, max(0.0, next_status - time.monotonic())))

    async def _poll(self, status_due: bool) -> None:
        if not self._shutdown_requested:
            for name in await asyncio.to_thread(self._pending):
                if self._stopping.is_set() or self._shutdown_requested:
                    break
                await self._handle(name)
        if status_due:
            await self._refresh_bots()
            await self._publish()

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` or until ``stop()``, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _handle(self, name: str) -> None:
        claimed = await asyncio.to_thread(self._claim, name)
        if claimed is None:
            return
        fields: dict[str, str] = {}
        command: Command | None = None
        try:
            fields = parse_fields(await asyncio.to_thread(_read_limited, claimed))
            command = Command.from_fields(fields)
            message = await self._execute(command)
            ok = True
        except (CommandError, ServiceError) as exc:
            ok, message = False, str(exc) or type(exc).__name__
        except OSError as exc:
            ok, message = False, f"cannot read command file: {exc.strerror or exc}"
        except Exception as exc:
            logger.exception("file channel: %s failed", name)
            ok, message = False, f"internal error: {type(exc).__name__}: {exc}"
        bot = command.bot if command else fields.get("BOT")
        level = logging.INFO if ok else logging.WARNING
        logger.log(level, "file command %s: %s", name, message, extra={"bot_id": bot})
        await asyncio.to_thread(self._archive, claimed, "done" if ok else "failed")
        self._last_command = {
            "file": name,
            "action": str(command.action) if command else fields.get("ACTION", "").upper() or None,
            "bot": bot,
            "id": command.request_id if command else fields.get("ID"),
            "result": "ok" if ok else "error",
            "message": message,
            "at": _now(),
        }
        if not ok:
            self._last_error = f"{name}: {message}"
        await self._publish()

    async def _execute(self, command: Command) -> str:
        service, bot = self._service, command.bot
        match command.action:
            case Action.START | Action.STOP | Action.PAUSE | Action.RESUME:
                assert bot is not None  # Command.from_fields guarantees it
                method = {
                    Action.START: service.start_bot,
                    Action.STOP: service.stop_bot,
                    Action.PAUSE: service.pause_bot,
                    Action.RESUME: service.resume_bot,
                }[command.action]
                status = await method(bot)
                self._bots[status.bot_id] = status
                return f"bot {bot} is {status.state}"
            case Action.CLOSE_ALL:
                await service.close_all(bot)
                await self._refresh_bots()
                return f"closed orders and positions of {f'bot {bot}' if bot else 'all bots'}"
            case Action.STATUS:
                await self._refresh_bots()
                return f"{len(self._bots)} bots"
            case Action.SHUTDOWN:
                await service.request_shutdown()
                # Commands after a SHUTDOWN stay queued (unclaimed) for the next start.
                self._shutdown_requested = True
                self._state = "stopping"
                return "shutdown requested"

    async def _refresh_bots(self) -> None:
        try:
            bots = await self._service.list_bots()
        except Exception as exc:
            logger.warning("file channel: cannot list bots: %s", exc)
            self._last_error = f"cannot list bots: {exc}"
            return
        self._bots = {bot.bot_id: bot for bot in bots}
        self._bots_updated_at = _now()

    async def _publish(self) -> None:
        # Built on the loop thread (it reads state the loop mutates), written in a worker.
        await asyncio.to_thread(self._write, self._status_payload())

    # -- status.json -------------------------------------------------------------------

    def _status_payload(self) -> dict[str, Any]:
        by_state = {state.value: 0 for state in BotState}
        for bot in self._bots.values():
            by_state[bot.state.value] = by_state.get(bot.state.value, 0) + 1
        shown = sorted(self._bots)[:MAX_STATUS_ITEMS]
        items = [_item(self._bots[bot_id]) for bot_id in shown]
        return {
            "pid": os.getpid(),
            "state": self._state,
            "heartbeat": _now(),
            "updated_at": self._bots_updated_at,
            "bots": {
                "total": len(self._bots),
                "by_state": by_state,
                "items": items,
                "items_truncated": len(self._bots) > len(items),
            },
            "last_command": self._last_command,
            "last_error": self._last_error,
        }

    def _write(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, indent=1, default=str).encode("utf-8")
        with self._write_lock:
            self._restore_folders()
            write_atomic(self.status_path, data)

    # -- files (run in worker threads) -------------------------------------------------

    def _prepare(self) -> None:
        self._make_folders()
        for kind, folder in (("done", self.done_dir), ("failed", self.failed_dir)):
            self._archived[kind] = sum(1 for _ in folder.iterdir())
            self._prune(kind)
        # Anything still in processing/ was claimed by a run that died before confirming it.
        # It may or may not have taken effect; running it again could double it, so it is
        # failed unrun and the operator decides.
        for leftover in sorted(self.processing_dir.iterdir()):
            message = "interrupted: the daemon stopped while running this command; not retried"
            logger.warning("file command %s: %s", leftover.name, message)
            self._archive(leftover, "failed")
            self._last_command = {
                "file": leftover.name,
                "action": None,
                "bot": None,
                "id": None,
                "result": "error",
                "message": message,
                "at": _now(),
            }
            self._last_error = f"{leftover.name}: {message}"

    def _make_folders(self) -> list[Path]:
        """Create the folder and its subfolders where missing; the ones created."""
        created = []
        for folder in (self.directory, self.processing_dir, self.done_dir, self.failed_dir):
            if folder.is_dir():
                continue
            if folder.exists() or folder.is_symlink():
                raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(folder))
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            created.append(folder)
        return created

    def _restore_folders(self) -> None:
        # Four stat calls per poll: cheap, and an operator who removed the folder (or cleaned
        # out done/) gets it back instead of a traceback per poll.
        recreated = self._make_folders()
        if recreated:
            logger.warning(
                "file channel: recreated %s (removed while the daemon runs?)",
                ", ".join(str(folder) for folder in recreated),
            )

    def _pending(self) -> list[str]:
        self._restore_folders()
        with os.scandir(self.directory) as entries:
            names = [
                entry.name
                for entry in entries
                if entry.name.endswith(COMMAND_SUFFIX)
                and not entry.name.startswith(".")
                and entry.is_file(follow_symlinks=False)
            ]
        return sorted(names)

    def _claim(self, name: str) -> Path | None:
        target = self.processing_dir / name
        try:
            os.rename(self.directory / name, target)
        except FileNotFoundError:
            # The writer took it back, or processing/ was removed since this poll began: then
            # the next poll recreates it and claims the command.
            return None
        return target

    def _archive(self, path: Path, kind: str) -> None:
        folder = self.done_dir if kind == "done" else self.failed_dir
        target = folder / path.name
        try:
            os.replace(path, target)  # a reused name replaces the older archived copy
        except FileNotFoundError:
            if not path.exists():  # the folder holding the claimed file was removed
                logger.warning("file command %s: vanished before it could be archived", path.name)
                return
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # done/ or failed/ was removed
            os.replace(path, target)
        os.utime(target)  # prune keeps the most recently handled ones
        self._archived[kind] += 1
        if self._archived[kind] > KEEP_ARCHIVED + _PRUNE_SLACK:
            self._prune(kind)

    def _prune(self, kind: str) -> None:
        folder = self.done_dir if kind == "done" else self.failed_dir
        entries = sorted(
            ((entry.stat().st_mtime_ns, entry.name) for entry in os.scandir(folder)),
        )
        for _, name in entries[: max(0, len(entries) - KEEP_ARCHIVED)]:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        self._archived[kind] = min(len(entries), KEEP_ARCHIVED)


def _read_limited(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_COMMAND_BYTES + 1)
    if len(data) > MAX_COMMAND_BYTES:
        raise CommandError(f"command file larger than {MAX_COMMAND_BYTES // 1024} KiB")
    return data


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _item(bot: BotStatus) -> dict[str, Any]:
    return {
        "bot_id": bot.bot_id,
        "state": bot.state.value,
        "equity": bot.equity,
        "position": bot.position,
        "last_error": bot.last_error,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
