"""systemd's notify protocol (sd_notify(3)), spoken by the daemon itself.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a datagram socket path, ``@`` for the
abstract namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``).
The daemon sends ``READY=1`` once its books are restored and the API answers, ``STATUS=``
lines with bot counts, ``RELOADING=1`` … ``READY=1`` around a reload, ``STOPPING=1`` on the
way out and ``WATCHDOG=1`` from a task on the event loop itself: a blocked loop stops the
pings and systemd restarts the service.

Without ``NOTIFY_SOCKET`` (a terminal, Docker) every call is a no-op. A send that fails is
logged once and never stops the daemon: systemd being gone must not take the bots with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

_log = logging.getLogger("algotrade.daemon")

SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
# sd_watchdog_enabled(3) recommends pinging at half the interval systemd waits for.
PINGS_PER_INTERVAL = 2


class SystemdNotifier:
    """Sends notify messages to systemd; does nothing when systemd did not ask for them."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        self._failed = False
        self.readied = False  # READY=1 sent at least once (start-up is over)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if env is None else env
        address = env.get(SOCKET_ENV) or None
        return cls(address, _watchdog_usec(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send ``WATCHDOG=1``; None when systemd watches no watchdog."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 1_000_000 / PINGS_PER_INTERVAL

    # -- messages -------------------------------------------------------------------------------

    def ready(self, status: str | None = None) -> None:
        self.readied = True
        self.send("READY=1", *_status_line(status))

    def status(self, status: str) -> None:
        self.send(*_status_line(status))

    def reloading(self, status: str | None = None) -> None:
        # MONOTONIC_USEC lets Type=notify-reload (systemd 253+) tell this reload from an older
        # one; plain Type=notify ignores it.
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}", *_status_line(status))

    def stopping(self, status: str | None = None) -> None:
        self.send("STOPPING=1", *_status_line(status))

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``lines``; False when disabled or the send failed."""
        if self.address is None or not lines:
            return False
        payload = "\n".join(lines).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(payload, _socket_address(self.address))
        except OSError as exc:
            if not self._failed:  # once: a gone systemd would otherwise fill the log
                _log.warning("systemd notify socket %s: cannot send: %s", self.address, exc)
                self._failed = True
            return False
        self._failed = False
        return True

    async def run_watchdog(self) -> None:
        """Ping until cancelled. Runs on the event loop: if the loop blocks, pings stop."""
        interval = self.watchdog_interval_s
        if interval is None:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(interval)

    def start_watchdog(self) -> asyncio.Task[None] | None:
        """The watchdog task, or None when systemd watches no watchdog."""
        if self.watchdog_interval_s is None:
            return None
        return asyncio.get_running_loop().create_task(self.run_watchdog(), name="systemd-watchdog")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def bot_count_status(health: Mapping[str, Any]) -> str:
    """``12 bots: 9 running, 3 stopped`` from ``BotService.health()``."""
    by_state: Mapping[str, int] = health.get("by_state") or {}
    parts = [f"{count} {state}" for state, count in sorted(by_state.items())]
    return f"{health.get('bots', 0)} bots" + (": " + ", ".join(parts) if parts else "")


def _status_line(status: str | None) -> tuple[str, ...]:
    if not status:
        return ()
    return ("STATUS=" + " ".join(status.split()),)  # one line: a newline would end the field


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):  # abstract namespace: a leading NUL byte instead of the @
        return b"\0" + address[1:].encode()
    return address


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    raw = env.get(WATCHDOG_USEC_ENV)
    if not raw:
        return None
    pid = env.get(WATCHDOG_PID_ENV)
    if pid and pid.strip() != str(os.getpid()):
        return None  # meant for another process (e.g. the one that started us)
    try:
        usec = int(raw)
    except ValueError:
        _log.warning(
            "%s=%r: not a whole number of microseconds; watchdog off", WATCHDOG_USEC_ENV, raw
        )
        return None
    return usec if usec > 0 else None
