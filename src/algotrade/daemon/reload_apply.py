"""Carrying out a validated ``ReloadPlan`` on the running daemon.

Order: first what cannot fail once validated (the logging level, the API keys, the risk rules),
then the bots one by one through the service's own paths (``create_bot`` as ``POST
/api/bots``, ``update_config`` as ``PATCH /api/bots/{id}/config``, ``stop_bot``/``delete_bot``).
A bot step the bot's state refuses does not undo the rest: it is reported per bot and the
reload is "partial"; the settings are never half-swapped.

A bot changes its config only when stopped (the actor refuses otherwise), so a running or
paused bot whose entry changed is stopped, updated and started again (and paused again):
positions and open orders carry over, as after ``stop``/``PATCH``/``start`` by hand. If the
update is refused, the bot is started again with its old config.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from algotrade.core.errors import AlgoTradeError
from algotrade.daemon.reload_audit import ReloadRecord
from algotrade.daemon.reload_plan import BotChange, Keys, ReloadPlan
from algotrade.daemon.service import BotService
from algotrade.daemon.settings_sources import one_line
from algotrade.daemon.status import BotState
from algotrade.risk.rules_config import RiskRules

_log = logging.getLogger("algotrade.daemon.reload")
_ACTIVE = (BotState.RUNNING, BotState.PAUSED)


@dataclass(frozen=True, slots=True)
class ApplyTarget:
    service: BotService
    swap_keys: Callable[[Keys], None]  # the API's keys and the log redactor
    set_log_level: Callable[[int], None]


async def apply_plan(plan: ReloadPlan, target: ApplyTarget, record: ReloadRecord) -> None:
    record.changed = [change.text for change in plan.live]
    record.needs_restart = [change.text for change in plan.restart]
    level = plan.level_change()
    if level is not None:
        target.set_log_level(level)
    if plan.keys is not None:
        target.swap_keys(plan.keys)
        record.keys = plan.keys_text
    if plan.rules:
        record.changed += _apply_rules(target.service, plan)
    service = target.service
    for config in plan.create:
        try:
            await service.create_bot(config, to_run=config.auto_resume)
            record.bots_created.append(config.bot_id)
            if config.auto_resume:  # as at start-up: a bot that opted in runs
                await service.start_bot(config.bot_id)
        except AlgoTradeError as exc:
            record.bots_failed[config.bot_id] = one_line(str(exc))
    for change in plan.update:
        error = await _update_bot(service, change)
        if error is None:
            record.bots_updated[change.bot_id] = sorted(change.changes)
        else:
            record.bots_failed[change.bot_id] = error
    for bot_id in plan.prune:
        try:
            _, status = await service.get_bot(bot_id)
            if status.state in _ACTIVE:
                await service.stop_bot(bot_id)
            await service.delete_bot(bot_id)
            record.bots_deleted.append(bot_id)
        except AlgoTradeError as exc:
            record.bots_failed[bot_id] = one_line(str(exc))
    record.bots_kept = dict(plan.keep)


def _apply_rules(service: BotService, plan: ReloadPlan) -> list[str]:
    """New limits apply at once; the accounts' state (today's PnL, lockouts) is the engine's
    and stays."""
    risk, new = service.risk, plan.risk
    if risk is None or new is None:
        return []
    changed: list[str] = []
    for account_id, rules in plan.rules.items():
        names = _changed_rules(risk.engine.rules[account_id], rules)
        risk.engine.set_rules(account_id, rules)
        changed.append(f"risk rules of {account_id} ({', '.join(names)})")
    risk.config = dataclasses.replace(
        risk.config, rules={**risk.config.rules, **plan.rules}, defaults=new.defaults
    )
    return changed


def _changed_rules(old: RiskRules, new: RiskRules) -> list[str]:
    return [name for name in type(new).model_fields if getattr(old, name) != getattr(new, name)]


async def _update_bot(service: BotService, change: BotChange) -> str | None:
    """Apply ``change`` (stopping and restarting an active bot around it); the error, or None."""
    bot_id = change.bot_id
    try:
        _, status = await service.get_bot(bot_id)
        was = status.state
        if was in _ACTIVE:
            await service.stop_bot(bot_id)
    except AlgoTradeError as exc:
        return one_line(str(exc))
    error: str | None = None
    try:
        await service.update_config(bot_id, change.changes)
    except AlgoTradeError as exc:
        error = f"config not changed: {one_line(str(exc))}"
    if was in _ACTIVE:
        try:
            await service.start_bot(bot_id)
            if was is BotState.PAUSED:
                await service.pause_bot(bot_id)
        except AlgoTradeError as exc:
            restart = f"could not be started again ({one_line(str(exc))})"
            error = f"{error}; {restart}" if error else f"config changed but {restart}"
    if error is not None:
        _log.warning("reload: bot %s: %s", bot_id, error)
    return error
