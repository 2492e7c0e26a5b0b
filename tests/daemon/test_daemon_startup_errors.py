"""``algotrade daemon`` refuses bad start-up input in one line on stderr and exits 2 (each case
used to exit 1 with a 48-89-line traceback), and creates its files owner-only."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from algotrade.core.errors import InputError
from algotrade.daemon.lock import (
    DataDirLock,
    DataDirUnusable,
    DataDirWriteFailed,
    prepare_data_dir,
)
from testkit.daemon_process import DaemonProcess, free_port

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run_daemon(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ALGOTRADE")}
    return subprocess.run(
        [sys.executable, "-m", "algotrade", "daemon", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: ...`` line of a refused start (exit code 2, no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.returncode == 2, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def test_a_bad_bots_entry_names_the_file_entry_and_field_and_writes_nothing(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[bots]]\nbot_id = "x"\nstrategy = 12\n', encoding="utf-8")
    data_dir = tmp_path / "data"
    message = one_line_error(run_daemon(tmp_path, "--config", str(config), "--data-dir", "data"))
    assert message == f"{config}: bots[0] (bot_id 'x'): symbol: Field required (and 1 more)"
    assert not data_dir.exists()  # refused before a lock, a log or a database was created


BOT = 'bot_id = "{id}"\nsymbol = "SIM-X"\nstrategy = "rsi"\nparams = {params}\n'


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("{ perod = 3 }", "strategy rsi: unknown parameter 'perod'"),
        ('{ period = "soon" }', "strategy rsi: parameter 'period'"),
    ],
)
def test_a_bots_entry_the_strategy_refuses_is_named_and_nothing_is_created(
    tmp_path: Path, params: str, expected: str
) -> None:
    """Defect: bad strategy parameters in [[bots]] gave an error naming neither the file nor
    the entry, after the database was created and the entries before it were stored."""
    config = tmp_path / "config.toml"
    good = BOT.format(id="good", params="{ period = 14 }")
    bad = BOT.format(id="bad", params=params)
    config.write_text(f"[[bots]]\n{good}\n[[bots]]\n{bad}", encoding="utf-8")
    data_dir = tmp_path / "data"
    message = one_line_error(run_daemon(tmp_path, "--config", str(config), "--data-dir", "data"))
    assert message.startswith(f"{config}: bots[1] (bot_id 'bad'): {expected}")
    assert not data_dir.exists()  # refused before a lock, a log or a database was created


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    message = one_line_error(run_daemon(tmp_path, "--data-dir", str(tmp_path / "data")))
    assert message.startswith(f"data directory {tmp_path / 'data'} exists and is not a directory")
    assert "daemon.data_dir" in message


def test_a_data_dir_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a folder")
    data_dir = tmp_path / "blocker" / "data"
    message = one_line_error(run_daemon(tmp_path, "--data-dir", str(data_dir)))
    assert message == (
        f"cannot create data directory {data_dir} (daemon.data_dir / --data-dir): Not a directory"
    )


@pytest.mark.skipif(IS_ROOT or not hasattr(os, "geteuid"), reason="root can write anywhere")
def test_an_unwritable_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "read-only"
    data_dir.mkdir(mode=0o500)
    try:
        message = one_line_error(run_daemon(tmp_path, "--data-dir", str(data_dir)))
    finally:
        data_dir.chmod(0o700)
    assert message.startswith(f"data directory {data_dir} is not writable by this user")


def test_a_data_dir_that_cannot_be_written_is_refused_even_for_root() -> None:
    # /proc refuses new entries to everyone, root included: the same path as an unwritable
    # disk, testable wherever the suite runs (as root in containers).
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    with pytest.raises(DataDirUnusable) as caught:
        DataDirLock(Path("/proc/algotrade-no-such-dir/data")).acquire()
    assert str(caught.value).startswith(
        "cannot create data directory /proc/algotrade-no-such-dir/data (daemon.data_dir"
    )
    assert isinstance(caught.value, InputError)


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    message = one_line_error(run_daemon(tmp_path, "--config", str(tmp_path / "nope.toml")))
    assert message == f"config file not found: {tmp_path / 'nope.toml'}"


def test_a_config_path_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    message = one_line_error(run_daemon(tmp_path, "--config", str(tmp_path)))
    assert message == f"config file {tmp_path} is a directory"


@pytest.mark.skipif(IS_ROOT or not hasattr(os, "geteuid"), reason="root reads anything")
def test_an_unreadable_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api]\nport = 8080\n", encoding="utf-8")
    config.chmod(0)
    message = one_line_error(run_daemon(tmp_path, "--config", str(config)))
    assert message == f"config file {config} cannot be read: Permission denied"


def test_a_database_url_that_is_not_one_is_refused_exit_2(tmp_path: Path) -> None:
    # A setting to correct, like any other bad setting: exit 2 (it was 1, so systemd
    # restarted the daemon every 5 s for a URL no restart can fix).
    message = one_line_error(run_daemon(tmp_path, "--db-url", "mysql://u@localhost/x"))
    assert message == (
        "invalid store URL mysql://u@localhost/x: unsupported backend 'mysql'; use sqlite or "
        "postgresql"
    )


def test_an_unreachable_database_is_a_runtime_failure_exit_1(tmp_path: Path) -> None:
    # The server may be starting (boot order) or back soon: exit 1, which systemd restarts.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = run_daemon(tmp_path, "--db-url", url)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"error: cannot open store {url}: ")


def test_someone_elses_sqlite_file_is_refused_and_not_changed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    theirs = data_dir / "algotrade.db"
    raw = sqlite3.connect(theirs)
    raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
    raw.execute("INSERT INTO invoices VALUES (1, '12.50')")
    raw.commit()
    raw.close()
    before = theirs.read_bytes()

    message = one_line_error(run_daemon(tmp_path, "--data-dir", str(data_dir)))

    assert message.startswith(f"cannot open store sqlite:///{theirs}: the database already has")
    assert "(invoices)" in message
    assert theirs.read_bytes() == before  # not one table added, not even switched to WAL


def test_the_daemon_creates_its_files_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    daemon = DaemonProcess(data_dir).start()
    try:
        files = [
            data_dir / "algotrade.db",
            data_dir / "algotrade.db-wal",
            data_dir / "algotrade.db-shm",
            data_dir / "daemon.lock",
            *sorted((data_dir / "logs").glob("*.log")),
        ]
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    finally:
        code, _, stderr = daemon.terminate()
    assert code == 0, stderr
    assert len(modes) == 7
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE((data_dir / "logs").stat().st_mode) == 0o700


def test_a_data_dir_the_daemon_creates_is_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    prepare_data_dir(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    prepare_data_dir(data_dir)  # an existing one is fine as it is


def test_a_lock_file_that_cannot_be_written_is_one_line_and_leaves_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk: the lock file opens (it exists, or its inode fits) but its PID cannot be
    # written. One line, and the lock is not held on by the failed attempt. A runtime failure,
    # not refused settings: exit 1, which systemd restarts (docs/systemd.md), as room may come.
    def no_space(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    data_dir = tmp_path / "data"
    with monkeypatch.context() as patched:
        patched.setattr("algotrade.daemon.lock.os.write", no_space)
        with pytest.raises(DataDirWriteFailed) as caught:
            DataDirLock(data_dir).acquire()
    assert not isinstance(caught.value, InputError)  # the CLI's exit 1, not 2
    assert str(caught.value) == (
        f"cannot write the lock file {data_dir / 'daemon.lock'}: No space left on device "
        "(daemon.data_dir / --data-dir); expected a data directory with free space the daemon "
        "can write"
    )
    with DataDirLock(data_dir):  # taken again at once: the failed attempt let go of it
        pass


def test_a_clean_stop_leaves_no_pid_in_the_lock_file(tmp_path: Path) -> None:
    # README: kill -HUP "$(cat data/daemon.lock)". After the daemon stopped, the file must
    # not name a PID that the system may have given to another process by then.
    lock = DataDirLock(tmp_path / "data")
    with lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"
    assert lock.path.read_text() == ""
