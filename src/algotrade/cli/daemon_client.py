"""What every daemon client command (``bots``, ``risk``, ``venues``) shares: the global options
``--daemon-url``, ``--api-key`` and ``--json``, the API call, and the one-line errors.

The options are accepted the same way everywhere, before or after the subcommand name:
``algotrade bots --daemon-url URL list`` and ``algotrade bots list --daemon-url URL`` (the
same for ``risk`` and ``venues``). The group's callback takes them first, with the
environment variables ``ALGOTRADE_DAEMON_URL`` and ``ALGOTRADE_API_KEY`` as fallback; a value
given after the subcommand name wins. ``client_options`` merges the two, in one place.

Every error is one line on stderr: exit 2 when the request itself was wrong (unknown bot,
bad config, a command the bot's state does not allow: HTTP 400/404/409/422), exit 1 otherwise
(daemon unreachable, missing or read-only API key, daemon-side failure).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar
from urllib.parse import urlsplit

import typer

from algotrade.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, fail
from algotrade.core.errors import AlgoTradeError, InputError

# algotrade.client (httpx, websockets) is imported when a command calls the daemon, not when
# the command's module loads: ``algotrade bots --help`` needs neither.
if TYPE_CHECKING:
    from algotrade.client import AlgoTradeClient

DEFAULT_DAEMON_URL = "http://127.0.0.1:8080"
DAEMON_URL_ENV = "ALGOTRADE_DAEMON_URL"
API_KEY_ENV = "ALGOTRADE_API_KEY"
T = TypeVar("T")

# 4xx answers that are not about the request's content: retry with a key, or later.
_NOT_INPUT_STATUSES = frozenset({401, 403, 408, 429})
_STATUS_HINTS = {401: " (pass --api-key or set ALGOTRADE_API_KEY)", 403: " (needs an admin key)"}
_CLOSE_MEANINGS = {
    1012: "the daemon is shutting down or restarting",
    1013: "this client read too slowly and fell behind the event stream",
}
_URL_HELP = "the daemon's API base URL"
_KEY_HELP = "API key (prefer the env var: arguments are visible to other local users)"
_JSON_HELP = "machine-readable output: the API's JSON"


@dataclass(frozen=True, slots=True)
class ClientOptions:
    daemon_url: str
    api_key: str | None
    json: bool


# Before the subcommand name (the group's callback): the environment is the fallback.
GroupDaemonUrl = Annotated[str, typer.Option("--daemon-url", envvar=DAEMON_URL_ENV, help=_URL_HELP)]
GroupApiKey = Annotated[
    str | None, typer.Option("--api-key", envvar=API_KEY_ENV, show_default=False, help=_KEY_HELP)
]
GroupJson = Annotated[bool, typer.Option("--json", help=_JSON_HELP)]
# After it (each command): None when not given there, so that the group's value (or the
# environment's) stands; no env var here, or it would override a value given to the group.
DaemonUrl = Annotated[
    str | None,
    typer.Option(
        "--daemon-url",
        show_default=False,
        help=f"{_URL_HELP} (env var {DAEMON_URL_ENV}; default {DEFAULT_DAEMON_URL})",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", show_default=False, help=f"{_KEY_HELP} (env var {API_KEY_ENV})"),
]
Json = Annotated[bool, typer.Option("--json", help=_JSON_HELP)]


def _group_options(
    ctx: typer.Context,
    daemon_url: GroupDaemonUrl = DEFAULT_DAEMON_URL,
    api_key: GroupApiKey = None,
    json_output: GroupJson = False,
) -> None:
    ctx.obj = ClientOptions(daemon_url, api_key, json_output)


def add_client_options(app: typer.Typer) -> None:
    """Let ``app``'s group take the client options before the subcommand name."""
    app.callback()(_group_options)


def client_options(
    ctx: typer.Context, daemon_url: str | None, api_key: str | None, json_output: bool
) -> ClientOptions:
    """The options in force for a command: its own, else its group's, else the environment's;
    a malformed ``--daemon-url`` is a one-line error (exit 2)."""
    group = ctx.find_object(ClientOptions) or ClientOptions(
        os.environ.get(DAEMON_URL_ENV) or DEFAULT_DAEMON_URL, os.environ.get(API_KEY_ENV), False
    )
    url = (daemon_url if daemon_url is not None else group.daemon_url).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"--daemon-url: expected http://HOST:PORT or https://..., got {url!r}")
    key = api_key if api_key is not None else group.api_key
    return ClientOptions(url, key or None, json_output or group.json)


def call(options: ClientOptions, request: Callable[[AlgoTradeClient], T]) -> T:
    """``request`` with a client of the daemon; every failure a one-line error."""
    from algotrade.client import AlgoTradeClient  # noqa: PLC0415 (see the imports)

    with client_errors(), AlgoTradeClient(options.daemon_url, options.api_key) as client:
        return request(client)


def exit_code_for(status: int) -> int:
    """2 when the request's content was wrong (fix the input), 1 for everything else."""
    bad_input = 400 <= status < 500 and status not in _NOT_INPUT_STATUSES
    return EXIT_BAD_INPUT if bad_input else EXIT_FAILURE


@contextmanager
def client_errors() -> Iterator[None]:
    """Errors of a daemon client command → one line on stderr and the exit code; never a
    traceback."""
    from algotrade.client import (  # noqa: PLC0415 (see the imports)
        ApiError,
        DaemonUnreachable,
        StreamClosedError,
    )

    try:
        yield
    except ApiError as exc:
        hint = _STATUS_HINTS.get(exc.status, "")
        # A refused WebSocket's reason already starts with the code ("unauthorized: ...").
        message = exc.message.removeprefix(f"{exc.code}: ")
        fail(f"{exc.status} {exc.code}: {message}{hint}", exit_code_for(exc.status))
    except DaemonUnreachable as exc:
        fail(
            f"{exc}; is the daemon running? (start it with 'algotrade daemon', or point "
            "--daemon-url / ALGOTRADE_DAEMON_URL at it)",
            EXIT_FAILURE,
        )
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except StreamClosedError as exc:
        fail(f"{exc} ({_CLOSE_MEANINGS.get(exc.code, 'connection ended')})", EXIT_FAILURE)
    except AlgoTradeError as exc:  # ClientError and the rest of the tree
        fail(str(exc), EXIT_FAILURE)
    except BrokenPipeError:
        _quiet_broken_pipe()


def _quiet_broken_pipe() -> NoReturn:
    # The reader (``| head``) left: stop quietly, and keep Python's final flush from failing.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)
