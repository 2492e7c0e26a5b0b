"""``POST /api/reload`` (admin) reloads the daemon's configuration now; ``GET /api/reload`` lists
the last reloads with what each changed (docs/reload.md).

A rejected reload (an invalid file: nothing changed) answers 422 with the standard error body,
its message the one line naming the file and field. A reload asked for while another runs
waits for it, then runs on its own (it reads the files again).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from algotrade.api.auth import HEADER, Role, fingerprint, require_access, session_token
from algotrade.api.deps import ApiContext, ReloadControl, get_context
from algotrade.api.errors import ApiHttpError
from algotrade.api.schemas import ERROR_RESPONSES, ErrorResponse
from algotrade.api.schemas_reload import ReloadHistoryOut, ReloadReport

router = APIRouter(prefix="/api/reload", tags=["system"])
Context = Annotated[ApiContext, Depends(get_context)]
Caller = Annotated[Role, Depends(require_access)]
KEY_ID_CHARS = 12

RELOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {"model": ErrorResponse, "description": "the key is read-only (trader)"},
    422: {"model": ErrorResponse, "description": "a source is invalid: nothing changed"},
    404: {"model": ErrorResponse, "description": "this app cannot reload (no config source)"},
}


def _reloader(ctx: ApiContext) -> ReloadControl:
    if ctx.reloader is None:
        # Like backtests without a data directory: an app embedded without a config source.
        raise ApiHttpError(404, "reload_disabled", "this daemon has no config source to reload")
    return ctx.reloader


def caller_of(request: Request, ctx: ApiContext, role: Role) -> str:
    """Who asks, for the audit: the role and a key id (a prefix of the key's fingerprint, an
    HMAC under a per-process secret: it tells calls with one key apart, never the key)."""
    if not ctx.auth.enabled:
        return "local caller (no API keys configured)"
    key = request.headers.get(HEADER)
    if key is not None:
        return f"{role} key {fingerprint(key).hex()[:KEY_ID_CHARS]}"
    session = ctx.sessions.get(session_token(request.headers))
    if session is not None:
        return f"{role} session of key {session.key_fingerprint.hex()[:KEY_ID_CHARS]}"
    return str(role)


@router.post("", response_model=ReloadReport, responses=RELOAD_RESPONSES)
async def reload(request: Request, ctx: Context, role: Caller) -> Any:
    """Reload the settings file, [[bots]], the risk files, the API keys and the log level now;
    all or nothing. Answers what changed and what needs a restart."""
    report = await _reloader(ctx).reload(caller_of(request, ctx, role))
    if report["outcome"] == "rejected":
        raise ApiHttpError(422, "invalid_config", report["error"])
    return JSONResponse(report)


@router.get("", response_model=ReloadHistoryOut, responses=RELOAD_RESPONSES)
async def history(ctx: Context, _role: Caller) -> ReloadHistoryOut:
    """This process's last reloads, newest first (also in the event log, kind "reload")."""
    reloader = _reloader(ctx)
    records = reloader.history()
    return ReloadHistoryOut.model_validate(
        {"in_progress": reloader.busy(), "reloads": records[::-1]}
    )
