"""A bot's inbox: commands served one at a time by the bot's own task, started lazily.

Ten thousand restored bots that nobody commands cost neither a task nor a queue: both exist
from the first command on. SHUTDOWN is the last command an inbox serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from algotrade.daemon.bot_handle import Command, Envelope
from algotrade.daemon.service_api import InvalidTransition
from algotrade.daemon.supervisor import Spawn

Dispatch = Callable[[Command, Any], Awaitable[Any]]


class BotInbox:
    def __init__(self, bot_id: str, dispatch: Dispatch, spawn: Spawn) -> None:
        self.bot_id = bot_id
        self._dispatch = dispatch
        self._spawn = spawn
        self._queue: asyncio.Queue[Envelope] | None = None
        self._task: asyncio.Task[None] | None = None
        self._accepting = False  # opened by open(), closed by SHUTDOWN

    def open(self) -> None:
        """Take commands from now on; the task serving them starts with the first one."""
        self._accepting = True

    async def submit(self, command: Command, payload: Any = None) -> Any:
        if not self._accepting or (self._task is not None and self._task.done()):
            raise InvalidTransition(f"bot '{self.bot_id}' is shut down")
        if command is Command.SHUTDOWN:
            # Closed as SHUTDOWN is queued, not when it runs: a command queued behind it would
            # never be served (the task ends with SHUTDOWN) and its caller would wait forever.
            self._accepting = False
        if self._queue is None:
            if command is Command.SHUTDOWN:  # never commanded: nothing queued to wait for
                return await self._dispatch(command, payload)
            self._queue = asyncio.Queue()
            self._task = self._spawn(
                self._run(self._queue), name=f"bot:{self.bot_id}", bot_id=self.bot_id
            )
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Envelope(command, payload, reply))
        return await reply

    async def _run(self, queue: asyncio.Queue[Envelope]) -> None:
        while True:
            envelope = await queue.get()
            try:
                result = await self._dispatch(envelope.command, envelope.payload)
            except Exception as exc:  # the caller gets the error; the actor lives on
                if not envelope.reply.done():
                    envelope.reply.set_exception(exc)
            else:
                if not envelope.reply.done():
                    envelope.reply.set_result(result)
            if envelope.command is Command.SHUTDOWN:
                return
