"""``algotrade tui``: the terminal UI of a running daemon (``--serve``: the same in a browser).

The daemon URL and key resolve like every other daemon client command: ``--daemon-url`` else
``ALGOTRADE_DAEMON_URL`` else http://127.0.0.1:8080; ``--api-key`` else ``ALGOTRADE_API_KEY``.
"""

from __future__ import annotations

import os
from typing import Annotated
from urllib.parse import urlsplit

import typer

from algotrade.cli.daemon_client import API_KEY_ENV, DAEMON_URL_ENV, DEFAULT_DAEMON_URL
from algotrade.cli.errors import fail

DEFAULT_SERVE_HOST = "127.0.0.1"
DEFAULT_SERVE_PORT = 8081


def tui(
    daemon_url: Annotated[
        str | None,
        typer.Option(
            "--daemon-url",
            show_default=False,
            help=f"the daemon's API base URL (env var {DAEMON_URL_ENV}; "
            f"default {DEFAULT_DAEMON_URL})",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            show_default=False,
            help=f"API key (env var {API_KEY_ENV}; prefer the env var: arguments are visible "
            "to other local users). A trader key gives a read-only TUI.",
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="serve the TUI to browsers instead (sign-in by key)")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="with --serve: address to listen on")] = (
        DEFAULT_SERVE_HOST
    ),
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="with --serve: port to listen on")
    ] = DEFAULT_SERVE_PORT,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            show_default=False,
            help="with --serve: the URL browsers use, when behind a proxy",
        ),
    ] = None,
) -> None:
    """Terminal UI of a running daemon (--serve: in a browser)."""
    url = (daemon_url or os.environ.get(DAEMON_URL_ENV) or DEFAULT_DAEMON_URL).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"--daemon-url: expected http://HOST:PORT or https://..., got {url!r}")
    if serve:
        # Imported here: aiohttp and textual-serve load only for --serve.
        from algotrade.tui.serve import serve as serve_tui  # noqa: PLC0415

        serve_tui(host, port, url, public_url=public_url)
        return
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    from algotrade.tui.app import AlgoTradeApp  # noqa: PLC0415

    AlgoTradeApp(url, key or None).run()
