"""A command run in its own session, as a terminal runs it, and what Ctrl-C does to it: the
processes of the session, whether one catches SIGINT yet, and whether the group has ended
(Linux: reads /proc)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

HAS_PROC = Path("/proc/self/stat").exists()


def session_processes(sid: int) -> dict[int, bytes]:
    """Live (not zombie) processes of session ``sid``: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] != "Z" and int(fields[3]) == sid:
            found[int(entry.name)] = cmdline
    return found


def catches_sigint(pid: int) -> bool:
    """The process's interpreter has installed its SIGINT handler (before that, SIGINT kills
    any process without a word, Python or not: there is nothing for a program to do)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False  # gone meanwhile
    (caught,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")]
    return bool(int(caught, 16) & (1 << (signal.SIGINT - 1)))


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the command exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def assert_group_ends(pgid: int, within_s: float) -> None:
    """Every process of the group is gone (or a zombie, whose reaping is init's job) soon."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        left = session_processes(pgid)
        if not left:
            return  # only zombies: nothing runs
        if time.monotonic() > deadline:
            pytest.fail(f"processes left running after Ctrl-C: {left}")
        time.sleep(0.05)


def worker_importing(proc: subprocess.Popen[bytes], started: Path) -> Callable[[], bool]:
    """A spawned pool worker's interpreter runs (a SIGINT would reach Python code in it) and
    no work has begun (``started``, written by the work, does not exist): it is importing."""

    def check() -> bool:
        workers = [pid for pid, cmd in session_processes(proc.pid).items() if b"spawn_main" in cmd]
        return any(catches_sigint(pid) for pid in workers) and not started.exists()

    return check


def ctrl_c(
    argv: list[str],
    stderr_path: Path,
    moment: Callable[[subprocess.Popen[bytes]], None],
    *,
    within_s: float,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``argv`` in its own session, as a terminal does; once it catches SIGINT and
    ``moment(proc)`` returned, send SIGINT to the whole group (what Ctrl-C sends). Returns the
    exit code and stderr; fails when the command or any process of its group is still running
    ``within_s`` later."""
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True
        )
        try:
            wait_for(lambda: catches_sigint(proc.pid), proc, "the SIGINT handler")
            moment(proc)
            os.killpg(proc.pid, signal.SIGINT)
            try:
                code = proc.wait(timeout=within_s)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the command did not end within {within_s:.0f} s of Ctrl-C")
            assert_group_ends(proc.pid, within_s)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return code, stderr_path.read_text()
