"""``algotrade health``: a probe for Docker's HEALTHCHECK, Kubernetes and monitoring scripts.

Exit 0 only when the daemon answers ``GET /api/health`` with 200, ``status: ok`` and
``state: running``; exit 1 otherwise, with one line saying why. Quiet when healthy (probes run
every few seconds), so it imports nothing of the daemon stack: httpx only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

DEFAULT_DAEMON_URL = "http://127.0.0.1:8080"  # cli/daemon_client.py's default, not imported
DAEMON_URL_ENV = "ALGOTRADE_DAEMON_URL"
UNHEALTHY = 1


def health(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            "--daemon-url",
            show_default=False,
            help=f"the daemon's API base URL (env var {DAEMON_URL_ENV}; "
            f"default {DEFAULT_DAEMON_URL})",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="seconds to wait for the answer", min=0.1, max=300)
    ] = 3.0,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="print the health document")
    ] = False,
) -> None:
    """Exit 0 when the daemon answers healthy, 1 otherwise (for probes)."""
    import httpx  # noqa: PLC0415 (only when run)

    base = (url or os.environ.get(DAEMON_URL_ENV) or DEFAULT_DAEMON_URL).rstrip("/")
    if not base.startswith(("http://", "https://")):
        _unhealthy(f"--url: expected http://HOST:PORT or https://…, got {base!r}")
    target = f"{base}/api/health"
    try:
        answer = httpx.get(target, timeout=timeout)
    except httpx.TimeoutException:
        _unhealthy(f"{target}: no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        _unhealthy(f"{target}: unreachable ({type(exc).__name__}: {exc})")
    document = _document(answer.text)
    if verbose and document is not None:
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
    reason = problem(answer.status_code, document)
    if reason is not None:
        _unhealthy(f"{target}: {reason}")


def problem(status_code: int, document: dict[str, Any] | None) -> str | None:
    """Why an answer is not healthy, or None when it is."""
    if status_code != 200:
        return f"answered HTTP {status_code}"
    if document is None:
        return "answered something that is not a health document"
    if document.get("status") != "ok":
        return f"status is {document.get('status')!r}, not 'ok'"
    if document.get("state") != "running":
        return f"state is {document.get('state')!r}, not 'running'"
    return None


def _document(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _unhealthy(message: str) -> NoReturn:
    # Always 1, also for a bad --url: Docker reserves exit 2 of a HEALTHCHECK.
    sys.stderr.write(f"unhealthy: {' '.join(message.split())}\n")
    raise SystemExit(UNHEALTHY)
