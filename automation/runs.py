"""A run of a rule: once per slot or event, within its limits and cooldown.

A run (`run_rule`) is serialised per rule by a row lock and recorded in an
AutomationRun row keyed by its slot, its event or its "Run now" request, so
a replay does nothing. It honours is_enabled, the cooldown and the
daily/weekly limits (counted on the character's calendar); what it schedules
is automation.posting's. Every run that can do nothing says why in
system_logs; a run that scheduled nothing emits `rule_did_nothing`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from automation.models import AutomationRule, AutomationRun
from automation.posting import RunResult, schedule_posts
from automation.selectors import rule_allowance
from logs.events import emit
from logs.services import system_log_write

COMPONENT = "automation"


def run_key(
    trigger: str,
    *,
    slot: dt.datetime | None = None,
    event: str | None = None,
    event_id: uuid.UUID | str | None = None,
) -> str | None:
    """The key that makes a run happen once: a schedule run per cron slot, an
    event run per event (a redelivered event creates nothing; the same payload
    in a later event is a new run)."""
    if trigger == "schedule" and slot is not None:
        return f"schedule:{slot.astimezone(dt.UTC).isoformat()}"
    if trigger == "event" and event_id:
        return f"event:{event or 'event'}:{event_id}"
    return None


def run_rule(
    rule_id: uuid.UUID | str,
    *,
    trigger: str = "manual",
    event: str | None = None,
    event_id: uuid.UUID | str | None = None,
    payload: dict[str, Any] | None = None,
    scheduled_for: dt.datetime | None = None,
    run_id: uuid.UUID | str | None = None,
    now: dt.datetime | None = None,
) -> RunResult:
    """One run of one rule, serialised per rule by a row lock.

    A schedule run is stamped with its slot (`scheduled_for`), so an hourly
    rule with a 60-minute cooldown is not refused because the previous run's
    task started a few seconds late. Each run writes its AutomationRun row in
    the same transaction as the posts it schedules: a manual run completes the
    row queued by "Run now" (`run_id`); a schedule or event run inserts its
    row keyed by slot or event, so a replay of either finds it and does nothing.
    """
    payload = payload or {}
    with transaction.atomic():
        rule = (
            AutomationRule.objects.select_for_update(of=("self",))
            .select_related("character", "character__personality")
            .filter(pk=rule_id)
            .first()
        )
        if rule is None:
            return RunResult(str(rule_id), "skipped", "The rule no longer exists.")
        now = now or timezone.now()
        slot = min(scheduled_for, now) if scheduled_for else now
        key = run_key(trigger, slot=scheduled_for, event=event, event_id=event_id)
        run = _take_run(rule, run_id, trigger, scheduled_for, key)
        if run is None:
            return RunResult(
                str(rule.pk), "skipped", "This run was done already (same slot)."
            )
        reason = _why_not(rule, now, slot)
        if reason:
            _say(rule, "info", f"Rule '{rule.name}' did not run ({trigger}): {reason}")
            result = RunResult(str(rule.pk), "skipped", reason)
            _close_run(run, result)
            return result
        result = schedule_posts(rule, now, payload)
        _count(rule, result, slot)
        _close_run(run, result)
        if result.outcome == "scheduled":
            _say(
                rule,
                "info",
                f"Rule '{rule.name}' scheduled {len(result.scheduled)} post(s) ({trigger}).",
                metadata={"scheduled_post_ids": [str(i) for i in result.scheduled]},
                content_id=result.content_id,
            )
        else:
            _say(
                rule,
                "warning",
                f"Rule '{rule.name}' scheduled nothing ({trigger}): {result.reason}",
            )
            emit(
                "rule_did_nothing",
                {
                    "automation_rule_id": str(rule.pk),
                    "run_id": str(run.pk),
                    "trigger": trigger,
                    "reason": result.reason[:2000],
                },
                character_id=rule.character_id,
            )
    return result


def _count(rule: AutomationRule, result: RunResult, slot: dt.datetime) -> None:
    counters: dict[str, Any] = {
        "times_executed": F("times_executed") + 1,
        "last_executed_at": slot,
    }
    if result.outcome == "scheduled":
        counters["success_count"] = F("success_count") + 1
    else:
        counters["failure_count"] = F("failure_count") + 1
    AutomationRule.objects.filter(pk=rule.pk).update(**counters)


def _take_run(
    rule: AutomationRule,
    run_id: uuid.UUID | str | None,
    trigger: str,
    scheduled_for: dt.datetime | None,
    key: str | None,
) -> AutomationRun | None:
    """This run's row, or None when the run is done already."""
    if run_id is not None:
        return (
            AutomationRun.objects.select_for_update()
            .filter(pk=run_id, rule=rule, status=AutomationRun.Status.QUEUED)
            .first()
        )
    if key is None:  # a manual run without a row (from code): one of its own
        key = f"{trigger}:{uuid.uuid4()}"
    run = AutomationRun(
        rule=rule,
        trigger=trigger if trigger in AutomationRun.Trigger.values else "manual",
        key=key,
        slot=scheduled_for,
    )
    # ON CONFLICT DO NOTHING on (rule, key): a replay inserts nothing
    AutomationRun.objects.bulk_create([run], ignore_conflicts=True)
    if not AutomationRun.objects.filter(pk=run.pk).exists():
        return None
    return run


def _close_run(run: AutomationRun, result: RunResult) -> None:
    AutomationRun.objects.filter(pk=run.pk).update(
        status=AutomationRun.Status.DONE,
        outcome=result.outcome,
        reason=result.reason[:2000] or None,
        scheduled_count=len(result.scheduled),
        finished_at=timezone.now(),
    )


def _why_not(rule: AutomationRule, now: dt.datetime, slot: dt.datetime) -> str:
    character = rule.character
    if not rule.is_enabled:
        return "the rule is disabled."
    if (
        character.deleted_at is not None
        or not character.is_active
        or character.status != "active"
    ):
        return f"the character is not active ({character.status})."
    if rule.cooldown_minutes and rule.last_executed_at:
        until = rule.last_executed_at + dt.timedelta(minutes=rule.cooldown_minutes)
        if slot < until:
            return f"cooling down until {until:%Y-%m-%d %H:%M} UTC."
    if rule_allowance(rule, now) == 0:
        return "the daily or weekly post limit is reached."
    return ""


def _say(
    rule: AutomationRule,
    level: str,
    message: str,
    *,
    metadata: dict[str, Any] | None = None,
    content_id: Any = None,
) -> None:
    system_log_write(
        level=level,
        component=COMPONENT,
        message=message[:2000],
        character_id=rule.character_id,
        content_id=content_id,
        metadata={"automation_rule_id": str(rule.pk), **(metadata or {})},
    )
