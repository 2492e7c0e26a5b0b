"""Account risk routes: everyone with a key reads; only admins unlock or change rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from algotrade.api.auth import Role, require_access
from algotrade.api.deps import get_service
from algotrade.api.schemas import (
    DEFAULT_PAGE_LIMIT,
    READ_RESPONSES,
    WRITE_RESPONSES,
    PageLimit,
    PageOffset,
    QueryFlag,
)
from algotrade.core.errors import ConfigError, InputError
from algotrade.daemon.risk_service import RiskService
from algotrade.daemon.service_api import BotServiceApi, ServiceError
from algotrade.risk.rules_config import RiskRules

# Router-level: the key is checked before anything else answers (even "risk disabled").
router = APIRouter(prefix="/api/risk", tags=["risk"], dependencies=[Depends(require_access)])
# The characters accounts.yaml allows in an id (risk.rules_config.AccountConfig.id): anything
# else can name no account, and a NUL byte would break a PostgreSQL query.
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="an account's id")]
AccountFilter = Annotated[
    str | None, Query(pattern=ACCOUNT_ID_PATTERN, description="only this account")
]
RULE_NAME_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
# The rules there are, published as the only names a body may use (the routes check them).
RULE_NAMES: Any = list(RiskRules.model_fields)
RuleName = Annotated[str, Field(pattern=RULE_NAME_PATTERN, json_schema_extra={"enum": RULE_NAMES})]
# Free text that goes to the audit log: no control characters (a NUL fails a PostgreSQL write,
# a newline forges log lines).
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# The kinds of store.records_risk.LOG_KINDS (tests/api check they match).
LogKind = Literal[
    "breach", "lockout", "unlock", "expiry", "reset", "enforcement", "alert", "rules_change"
]


class RiskDisabled(ServiceError, InputError):
    code = "risk_disabled"
    http_status = 404


class UnknownAccount(ServiceError, InputError):
    code = "not_found"
    http_status = 404


class InvalidRules(ServiceError, ConfigError):
    code = "invalid_rules"
    http_status = 422


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=PRINTABLE_PATTERN,
        description="why (kept in the audit log); one line of printable text",
    )
    rule: RuleName | None = Field(default=None, description="only lockouts of this rule")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, reason: str) -> str:
        if not reason.strip():  # an audit entry must say why, not "   "
            raise ValueError("must not be blank")
        return reason.strip()


class RulesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str | None = Field(
        default=None, pattern=ACCOUNT_ID_PATTERN, description="one account; all when omitted"
    )
    rules: dict[str, dict[str, Any]] = Field(
        description="rule → changed parameters",
        json_schema_extra={"propertyNames": {"enum": RULE_NAMES}},
    )


def get_risk(service: Annotated[BotServiceApi, Depends(get_service)]) -> RiskService:
    risk = service.risk
    if risk is None:
        raise RiskDisabled("the account risk engine is not configured (risk.accounts_file)")
    return risk


Risk = Annotated[RiskService, Depends(get_risk)]
Caller = Annotated[Role, Depends(require_access)]


def _known(risk: RiskService, account_id: str) -> str:
    """``account_id`` if the risk engine has it; 404 naming it and the accounts it has. Every
    route that names an account (path, filter or body) asks here, so an unknown one is never
    an empty page."""
    if not risk.knows(account_id):
        known = ", ".join(sorted(risk.engine.accounts)) or "none"
        raise UnknownAccount(f"no account '{account_id}'; known accounts: {known}")
    return account_id


def _known_filter(risk: RiskService, account_id: str | None) -> str | None:
    return None if account_id is None else _known(risk, account_id)


@router.get("/accounts", responses=READ_RESPONSES)
async def accounts(risk: Risk, _: Caller) -> list[dict[str, Any]]:
    """Every account's risk state. ``watch`` is null for accounts our bots trade; for an
    account guarded at its venue (accounts.yaml ``watch``) it is the connection: ``venue``,
    ``venue_account``, ``state`` (connecting, connected, disconnected, error, stopped),
    ``connected``, ``error``, ``last_event``/``last_event_at``, ``events`` and the venue's
    ``detail``."""
    return risk.accounts()


@router.get("/accounts/{account_id}", responses=READ_RESPONSES)
async def account(risk: Risk, _: Caller, account_id: AccountId) -> dict[str, Any]:
    return risk.account(_known(risk, account_id))


@router.get("/lockouts", responses=READ_RESPONSES)
async def lockouts(
    risk: Risk,
    _: Caller,
    account_id: AccountFilter = None,
    active_only: QueryFlag = True,
    offset: PageOffset = 0,
    limit: PageLimit = DEFAULT_PAGE_LIMIT,
) -> dict[str, Any]:
    return await risk.reads.lockouts(
        _known_filter(risk, account_id), active_only=active_only, offset=offset, limit=limit
    )


@router.get("/enforcements", responses=READ_RESPONSES)
async def enforcements(
    risk: Risk,
    _: Caller,
    account_id: AccountFilter = None,
    kind: Annotated[list[LogKind] | None, Query(description="only these kinds")] = None,
    offset: PageOffset = 0,
    limit: PageLimit = DEFAULT_PAGE_LIMIT,
) -> dict[str, Any]:
    kinds = None if kind is None else list(kind)
    return await risk.reads.log(
        _known_filter(risk, account_id), kinds=kinds, offset=offset, limit=limit
    )


@router.get("/audit", responses=READ_RESPONSES)
async def audit(
    risk: Risk, _: Caller, offset: PageOffset = 0, limit: PageLimit = DEFAULT_PAGE_LIMIT
) -> dict[str, Any]:
    return await risk.reads.audit(offset=offset, limit=limit)


@router.post("/accounts/{account_id}/unlock", responses=WRITE_RESPONSES)
async def unlock(
    risk: Risk, role: Caller, account_id: AccountId, body: Annotated[UnlockRequest, Body()]
) -> dict[str, Any]:
    if body.rule is not None and body.rule not in RiskRules.model_fields:
        rules = ", ".join(RiskRules.model_fields)
        raise InvalidRules(f"rule: unknown rule '{body.rule}'; expected one of {rules}")
    cleared = await risk.unlock(
        _known(risk, account_id), f"api:{role.value}", body.reason, body.rule
    )
    return {"account_id": account_id, "cleared": [lock.rule for lock in cleared]}


@router.put("/rules", responses=WRITE_RESPONSES)
async def set_rules(
    risk: Risk, role: Caller, body: Annotated[RulesChange, Body()]
) -> dict[str, Any]:
    if body.account_id is not None:
        _known(risk, body.account_id)
    try:
        await risk.set_rules(body.account_id, body.rules, f"api:{role.value}")
    except ConfigError as exc:
        raise InvalidRules(str(exc)) from exc
    target = body.account_id or "*"
    # The rules file is the lasting record (docs/api.md): said where the caller looks.
    return {"account_id": target, "applied": sorted(body.rules), "lasts": "until restart"}
