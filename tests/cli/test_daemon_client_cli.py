"""The client options of ``bots``, ``risk`` and ``venues`` (``cli.daemon_client``): accepted
the same way by every client command, before or after the subcommand name; and bad input to
these commands is one line and exit code 2. Against an in-thread API over the fake service."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testkit.api_harness import ADMIN_KEY, ServerThread, running_server
from testkit.fake_bot_service import FakeBotService, make_config

RunMain = Callable[..., Any]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    with running_server(service) as server:
        yield server


@pytest.fixture(scope="module")
def dead_url() -> Iterator[str]:
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


def _placements(group: str, command: list[str], options: list[str]) -> list[list[str]]:
    """The options before the subcommand name, after it, and split around it."""
    return [
        [group, *options, *command],
        [group, *command, *options],
        [group, *options[:2], *command, *options[2:]],
    ]


@pytest.mark.parametrize(
    ("group", "command", "expected"),
    [
        ("bots", ["list"], lambda out: [bot["bot_id"] for bot in json.loads(out)] == ["alpha"]),
        ("bots", ["show", "alpha"], lambda out: json.loads(out)["config"]["bot_id"] == "alpha"),
        ("bots", ["positions", "alpha"], lambda out: json.loads(out) == []),
        ("venues", ["status"], lambda out: json.loads(out) == []),
    ],
)
def test_options_before_or_after_the_subcommand(
    run_main: RunMain, server: ServerThread, group: str, command: list[str], expected: Any
) -> None:
    options = ["--daemon-url", server.base_url, "--api-key", ADMIN_KEY, "--json"]
    for args in _placements(group, command, options):
        assert expected(run_main(*args).ok()), args


def test_risk_takes_them_before_the_subcommand_too(run_main: RunMain, server: ServerThread) -> None:
    # The fake daemon runs no risk engine: its 404 answer proves the request reached it (with
    # the key: the risk API checks it first).
    options = ["--daemon-url", server.base_url, "--api-key", ADMIN_KEY]
    for args in _placements("risk", ["status"], options):
        run_main(*args).one_line_error(2, "404 risk_disabled")


def test_the_value_after_the_subcommand_wins(
    run_main: RunMain, server: ServerThread, dead_url: str
) -> None:
    key = ["--api-key", ADMIN_KEY]
    after = run_main(
        "bots", "--daemon-url", dead_url, *key, "list", "--daemon-url", server.base_url
    )
    assert "alpha" in after.ok()
    before = run_main("bots", "--daemon-url", server.base_url, "list", *key, "--api-key", "bad")
    before.one_line_error(1, "401")


def test_environment_is_the_fallback(
    run_main: RunMain, server: ServerThread, dead_url: str
) -> None:
    env = {"ALGOTRADE_DAEMON_URL": server.base_url, "ALGOTRADE_API_KEY": ADMIN_KEY}
    assert "no live venue" in run_main("venues", "status", env=env).ok()
    assert json.loads(run_main("bots", "list", "--json", env=env).ok())[0]["bot_id"] == "alpha"
    elsewhere = run_main("bots", "list", "--daemon-url", dead_url, env=env)
    elsewhere.one_line_error(1, "cannot reach the daemon", dead_url.removeprefix("http://"))


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["bots", "list", "--daemon-url", "localhost:8080"], ["--daemon-url", "http://HOST"]),
        (["bots", "--daemon-url", "ftp://x", "list"], ["--daemon-url"]),
        (["risk", "status", "--daemon-url", "nope"], ["--daemon-url"]),
        (["venues", "--daemon-url", "", "status"], ["--daemon-url"]),
        (["bots", "orders", "alpha", "--limit", "0"], ["--limit"]),
        (["bots", "fills", "alpha", "--offset", "-1"], ["--offset"]),
        (["bots", "equity", "alpha", "--limit", "1001"], ["--limit"]),
        (["bots", "config", "no/such"], ["'no/such' is not a bot id"]),
        (["bots", "show"], ["Missing argument 'BOT_ID'"]),
        (["bots", "create", "--id", "x", "--symbol", "S"], ["missing --strategy"]),
        (["bots", "create", "-f", "x.txt"], ["unknown config format"]),
        (["bots", "create", "--id", "x", "--symbol", "S", "--strategy", "rsi", "-p", "k"],
         ["--param: expected key=value, got 'k'"]),
        (["bots", "create", "--id", "x", "--symbol", "S", "--strategy", "rsi",
          "--capital", "lots"], ["--capital: expected a number"]),
        (["bots", "watch", "--topic", "nope"], ["--topic"]),
        (["bots", "list", "--bogus"], ["No such option: --bogus"]),
        (["risk", "log", "--kind", "nope"], ["--kind: unknown kind 'nope'"]),
        (["risk", "unlock", "acct", "--reason", " "], ["--reason"]),
        (["risk", "--json", "replay", "--events", "e", "--accounts", "a", "--rules", "r"],
         ["risk replay: --json takes a file"]),
        (["venues", "reconcile"], ["Missing argument 'venue'"]),
        (["strategies", "show", "nope"], ["unknown strategy 'nope'"]),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    run_main: RunMain, dead_url: str, args: list[str], needles: list[str]
) -> None:
    # Nothing here may need the daemon: the bad input is refused before any request.
    run_main(*args, env={"ALGOTRADE_DAEMON_URL": dead_url}).one_line_error(2, *needles)


def test_bad_input_the_daemon_refuses_is_exit_2(run_main: RunMain, server: ServerThread) -> None:
    options = ["--daemon-url", server.base_url, "--api-key", ADMIN_KEY]
    run_main("bots", *options, "config", "ghost").one_line_error(2, "404 not_found", "ghost")
    run_main("bots", *options, "equity", "ghost").one_line_error(2, "404 not_found", "ghost")
    run_main("venues", *options, "reconcile", "nowhere").one_line_error(2, "404", "nowhere")
