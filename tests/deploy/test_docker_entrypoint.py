"""The container's entrypoint, run as a process (this machine has no Docker daemon).

The command line is the image's own: ENTRYPOINT + CMD read from the Dockerfile, with
``algotrade`` resolved to this environment's console script and each path the Dockerfile
COPYs into the image mapped back to its source in the repository. The environment is what
compose.yaml gives the daemon (``ALGOTRADE_API_KEYS_FILE``, ``ALGOTRADE__DATABASE__URL_FILE``)
plus a free port and a temporary data dir. The probe is the image's HEALTHCHECK command.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dockerfile_parse import DockerfileParser

from testkit.daemon_process import HTTP, free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "docker-admin-key-0123456789abcdef"
TRADER_KEY = "docker-trader-key-0123456789abcdef"
SCRIPTS = Path(sys.executable).parent


def final_stage() -> dict[str, list[str]]:
    """Instruction → values of the Dockerfile's last stage (parsed from memory: given a path,
    dockerfile-parse writes to it)."""
    parser = DockerfileParser(fileobj=io.BytesIO((ROOT / "Dockerfile").read_bytes()))
    stage: dict[str, list[str]] = {}
    for item in parser.structure:
        if item["instruction"] == "FROM":
            stage = {}
        stage.setdefault(item["instruction"], []).append(item["value"])
    return stage


def in_repository(argv: list[str]) -> list[str]:
    """``argv`` from the image with its programs and COPYed files as they are here."""
    copied = {}
    for value in final_stage().get("COPY", []):
        words = value.split()
        if not any(word.startswith("--from") for word in words):
            copied[words[-1]] = str(ROOT / words[0])
    program = SCRIPTS / argv[0]
    assert program.exists(), f"{argv[0]} is not installed beside {sys.executable}"
    return [str(program), *(copied.get(word, word) for word in argv[1:])]


def container_command() -> list[str]:
    stage = final_stage()
    entrypoint = json.loads(stage["ENTRYPOINT"][-1])
    cmd = json.loads(stage["CMD"][-1])
    return in_repository([*entrypoint, *cmd])


def healthcheck_command() -> list[str]:
    probe = final_stage()["HEALTHCHECK"][-1].split("CMD", 1)[1]
    return in_repository(json.loads(probe))


def secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


class Container:
    """The entrypoint's process with the container's environment."""

    def __init__(self, tmp: Path, **secrets: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp / "var-lib-algotrade"
        self.data_dir.mkdir()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE")}
        self.env = {
            **clean,
            # What the image's daemon.toml says, but a test port and a private data dir.
            "ALGOTRADE__API__PORT": str(self.port),
            "ALGOTRADE__DAEMON__DATA_DIR": str(self.data_dir),
            **secrets,
        }
        self.stderr_path = tmp / "container.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                container_command(),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        return self.proc

    def run_to_exit(self, timeout: float = 30) -> tuple[int, str]:
        proc = self.start()
        code = proc.wait(timeout)
        return code, self.stderr()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def probe(self) -> int:
        """Exit code of the image's HEALTHCHECK command against this process."""
        env = {**self.env, "ALGOTRADE_DAEMON_URL": self.url}
        command = healthcheck_command()
        result = subprocess.run(command, env=env, capture_output=True, timeout=30, check=False)
        return result.returncode

    def wait_healthy(self, timeout: float = 60) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}: {self.stderr()}")
            try:
                if HTTP.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"no answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.stop()


def test_the_command_line_is_the_images_daemon_with_its_config() -> None:
    command = container_command()
    assert Path(command[0]).name == "algotrade"
    assert command[1:3] == ["daemon", "--config"]
    assert Path(command[3]) == ROOT / "deploy" / "docker" / "daemon.toml"


def serve_and_stop(container: Container, database: Path | None) -> None:
    """Start, check keys, database and the probe, then SIGTERM → exit 0 in a few seconds."""
    proc = container.start()
    container.wait_healthy()
    assert container.probe() == 0
    bots = f"{container.url}/api/bots"
    assert httpx.get(bots, headers={"X-API-Key": ADMIN_KEY}, timeout=10).status_code == 200
    assert httpx.get(bots, headers={"X-API-Key": TRADER_KEY}, timeout=10).status_code == 200
    wrong = httpx.get(bots, headers={"X-API-Key": "docker-wrong-key-0123456789abcd"}, timeout=10)
    assert wrong.status_code == 401
    assert httpx.get(bots, timeout=10).status_code == 401
    if database is not None:
        with sqlite3.connect(database) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "alembic_version" in tables or len(tables) > 3, tables
        assert not (container.data_dir / "algotrade.db").exists()  # not the default database
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(15)
    stopped_in = time.monotonic() - started
    assert code == 0, container.stderr()
    assert stopped_in < 10, f"SIGTERM → exit took {stopped_in:.1f} s"
    assert container.probe() == 1  # the probe tells a stopped daemon
    log = container.stderr() + "".join(
        p.read_text(errors="replace") for p in container.data_dir.rglob("*.log")
    )
    assert ADMIN_KEY not in log
    assert TRADER_KEY not in log


def test_secrets_from_files_then_sigterm_exits_0(
    tmp_path: Path, containers: list[Container]
) -> None:
    database = tmp_path / "elsewhere" / "state.db"
    database.parent.mkdir()
    container = Container(
        tmp_path,
        ALGOTRADE_API_KEYS_FILE=str(
            secret_file(tmp_path / "api_keys", f"admin:{ADMIN_KEY},trader:{TRADER_KEY}")
        ),
        ALGOTRADE__DATABASE__URL_FILE=str(
            secret_file(tmp_path / "database_url", f"sqlite:///{database}")
        ),
    )
    containers.append(container)
    serve_and_stop(container, database)


@pytest.mark.postgres
def test_the_database_url_file_reaches_postgresql(
    tmp_path: Path, containers: list[Container]
) -> None:
    import psycopg

    from testkit.postgres import conninfo, temporary_database

    with temporary_database() as url:
        container = Container(
            tmp_path,
            ALGOTRADE_API_KEYS_FILE=str(
                secret_file(tmp_path / "api_keys", f"admin:{ADMIN_KEY},trader:{TRADER_KEY}")
            ),
            ALGOTRADE__DATABASE__URL_FILE=str(secret_file(tmp_path / "database_url", url)),
        )
        containers.append(container)
        serve_and_stop(container, None)
        with psycopg.connect(conninfo(url)) as db:
            tables = db.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables is not None
        assert tables[0] > 3  # the daemon's schema, in that database
        assert not (container.data_dir / "algotrade.db").exists()


def one_line_refusal(container: Container) -> str:
    code, stderr = container.run_to_exit()
    assert code != 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert ADMIN_KEY not in stderr
    return lines[0]


def test_keys_both_in_the_environment_and_a_file_are_refused(
    tmp_path: Path, containers: list[Container]
) -> None:
    container = Container(
        tmp_path,
        ALGOTRADE_API_KEYS=f"admin:{ADMIN_KEY}",
        ALGOTRADE_API_KEYS_FILE=str(secret_file(tmp_path / "api_keys", f"admin:{ADMIN_KEY}")),
    )
    containers.append(container)
    line = one_line_refusal(container)
    assert "ALGOTRADE_API_KEYS and ALGOTRADE_API_KEYS_FILE" in line


def test_a_world_readable_secret_file_is_refused(
    tmp_path: Path, containers: list[Container]
) -> None:
    keys = secret_file(tmp_path / "api_keys", f"admin:{ADMIN_KEY}", mode=0o644)
    container = Container(tmp_path, ALGOTRADE_API_KEYS_FILE=str(keys))
    containers.append(container)
    line = one_line_refusal(container)
    assert "ALGOTRADE_API_KEYS_FILE" in line
    assert "chmod 600" in line


def test_without_keys_the_container_config_refuses_to_listen(
    tmp_path: Path, containers: list[Container]
) -> None:
    container = Container(tmp_path)  # daemon.toml binds 0.0.0.0: keys are required
    containers.append(container)
    line = one_line_refusal(container)
    assert "refusing to listen on 0.0.0.0 without API keys" in line
