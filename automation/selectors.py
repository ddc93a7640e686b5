"""Reads of the automation engine across relations: a run's accounts, content
and limits, and who listens to an event."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from automation.models import AutomationRule
from content.media_paths import media_path_problem
from content.models import Content
from platforms.models import PlatformAccount, ScheduledPost

logger = logging.getLogger(__name__)

CS = PlatformAccount.ConnectionStatus
SP = ScheduledPost.Status


def event_listeners(
    pairs: Iterable[tuple[str, uuid.UUID | None]],
) -> dict[tuple[str, uuid.UUID], list[tuple[uuid.UUID, dict[str, Any]]]]:
    """(event name, character id) -> the enabled rules listening to it, as
    (rule id, trigger_config): one query for a whole batch of events."""
    names: set[str] = set()
    characters: set[uuid.UUID] = set()
    for name, character_id in pairs:
        if character_id is not None:
            names.add(name)
            characters.add(character_id)
    found: dict[tuple[str, uuid.UUID], list] = defaultdict(list)
    if not names:
        return found
    rows = (
        AutomationRule.objects.filter(
            is_enabled=True,
            trigger_type=AutomationRule.TriggerType.EVENT,
            trigger_config__event__in=sorted(names),
            character_id__in=characters,
        )
        .order_by("created_at")
        .values_list("pk", "character_id", "trigger_config")
    )
    for pk, character_id, config in rows:
        found[(config.get("event"), character_id)].append((pk, config))
    return found


def postable_accounts(rule: AutomationRule) -> list[PlatformAccount]:
    """The character's accounts the rule may post to now, in the rule's
    platform order (oldest account first within a platform)."""
    order = {p: i for i, p in enumerate(rule.platforms)}
    return sorted(
        PlatformAccount.objects.filter(
            character_id=rule.character_id,
            platform__in=rule.platforms,
            is_connected=True,
            connection_status__in=[CS.CONNECTED, CS.RATE_LIMITED],
            auto_posting_enabled=True,
        ),
        key=lambda a: (order.get(a.platform, 99), a.created_at),
    )


def _calendar(rule: AutomationRule, now: dt.datetime) -> tuple[dt.datetime, ...]:
    tz = ZoneInfo(rule.character.timezone or "UTC")
    local = now.astimezone(tz)
    day = dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)
    week = day - dt.timedelta(days=local.weekday())
    return day, week


def rule_allowance(rule: AutomationRule, now: dt.datetime) -> int | None:
    """How many posts the limits still allow today/this week, counted on the
    character's calendar (None: no limit)."""
    if not (rule.max_posts_per_day or rule.max_posts_per_week):
        return None
    day, week = _calendar(rule, now)
    counts = (
        ScheduledPost.objects.filter(
            automation_rule=rule, scheduled_at__gte=min(day, week)
        )
        .exclude(status=SP.CANCELLED)
        .aggregate(
            day=Count("id", filter=Q(scheduled_at__gte=day)),
            week=Count("id", filter=Q(scheduled_at__gte=week)),
        )
    )
    left = []
    if rule.max_posts_per_day:
        left.append(rule.max_posts_per_day - counts["day"])
    if rule.max_posts_per_week:
        left.append(rule.max_posts_per_week - counts["week"])
    return max(0, min(left))


def _content_q(rule: AutomationRule) -> Q:
    q = Q(
        character_id=rule.character_id,
        approval_status=Content.ApprovalStatus.APPROVED,
        is_approved=True,
        is_nsfw=False,
        quality_score__gte=rule.min_content_quality,
    )
    kinds = (
        [rule.content_type]
        if rule.content_type and rule.content_type != AutomationRule.ContentType.MIXED
        else ["image", "video", "text"]
    )
    q &= Q(content_type__in=kinds)
    if rule.content_category:
        q &= Q(content_category=rule.content_category)
    return q


def pick_content(rule: AutomationRule, *, prefer: Iterable[Any] = ()) -> Content | None:
    """Approved content for the rule, least used first, not already queued.

    The row is locked (SKIP LOCKED) until the run commits, so two runs at the
    same moment never take the same piece.
    """
    queued = ScheduledPost.objects.filter(
        content=OuterRef("pk"), status__in=[SP.SCHEDULED, SP.PROCESSING]
    )
    qs = (
        Content.objects.filter(_content_q(rule))
        .filter(~Exists(queued))
        .order_by("times_used", F("last_used_at").asc(nulls_first=True), "created_at")
        .select_for_update(skip_locked=True, of=("self",))
    )
    prefer = list(prefer)
    if prefer:
        chosen = _first_safe(qs.filter(pk__in=prefer))
        if chosen is not None:
            return chosen
    return _first_safe(qs)


def _first_safe(qs: QuerySet[Content], *, tries: int = 20) -> Content | None:
    """The first row whose file stays inside MEDIA_ROOT.

    A row written around validation (plain SQL) with an unsafe path is skipped
    and logged, never scheduled: one query per unsafe row met, so normally one.
    """
    skipped: list[Any] = []
    for _ in range(tries):
        content = qs.exclude(pk__in=skipped).first() if skipped else qs.first()
        if content is None or not content.file_path:
            return content
        problem = media_path_problem(content.file_path)
        if problem is None:
            return content
        logger.warning(
            "content %s not scheduled, its file path is unsafe: %s",
            content.pk,
            problem,
            extra={"character_id": content.character_id},
        )
        skipped.append(content.pk)
    return None
