"""The automation engine: when rules run, and what a run does.

Schedules: a 'schedule' rule's trigger_config holds {"cron": "m h dom mon dow"},
evaluated on the character's wall clock. Each wall-clock time fires at most
once: on the autumn DST change a 02:30 rule runs once (not twice), and on the
spring change a time that does not exist (02:30 in Europe/Berlin) runs an hour
later. No PeriodicTask per rule: `dispatch_due_rules` (beat, every minute)
claims the rules whose `next_run_at` has come with SKIP LOCKED through the
partial index idx_automation_rules_due, moves `next_run_at` on, and queues
one `run_rule` per due rule.

Events: 'event' rules name one of EVENTS in trigger_config {"event": ...};
`emit` queues `fire_event` only for characters that have such rules.

A run (`run_rule`) honours is_enabled, the cooldown and the daily/weekly limits
(counted on the character's calendar), picks approved content, renders the
caption, applies the hashtag strategy and schedules one post per connected
account of the rule's platforms. Every run that can do nothing says why in
system_logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import string
import uuid
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from automation.models import AutomationRule, AutomationRun
from config.celery import app as celery_app
from content.captions import ai_caption_for, post_captions_request
from content.models import Content, ContentGeneration
from logs.services import system_log_write
from platforms.models import Platform, PlatformAccount, ScheduledPost

logger = logging.getLogger(__name__)
COMPONENT = "automation"
RUN_RULE_TASK = "automation.tasks.run_rule"
FIRE_EVENT_TASK = "automation.tasks.fire_event"
EVENTS = {
    "content_approved": "Content approved",
    "post_published": "Post published",
    "generation_completed": "Generation completed",
    "follower_milestone": "Follower milestone",
}
T = AutomationRule.TriggerType
CS = PlatformAccount.ConnectionStatus
SP = ScheduledPost.Status
DEFAULT_MILESTONE = 1000

# --- validation (AutomationRule.clean) ----------------------------------------


def validate_cron(expr) -> str:
    if not isinstance(expr, str) or not expr.strip():
        raise ValidationError(
            'A schedule rule needs a cron expression, e.g. {"cron": "0 9 * * *"}.'
        )
    expr = " ".join(expr.split())
    if len(expr.split(" ")) != 5 or not croniter.is_valid(expr):
        raise ValidationError(
            "%(expr)r is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 9 * * 1-5'.",
            params={"expr": expr},
        )
    return expr


def validate_trigger_config(trigger_type: str, config) -> None:
    if not isinstance(config, dict):
        raise ValidationError("trigger_config must be a JSON object.")
    if trigger_type == T.SCHEDULE:
        validate_cron(config.get("cron"))
    elif trigger_type == T.EVENT:
        event = config.get("event")
        if event not in EVENTS:
            raise ValidationError(
                "An event rule needs trigger_config.event, one of: %(events)s.",
                params={"events": ", ".join(EVENTS)},
            )
        every = config.get("every", DEFAULT_MILESTONE)
        if event == "follower_milestone" and (
            not isinstance(every, int) or isinstance(every, bool) or every < 1
        ):
            raise ValidationError(
                "trigger_config.every (followers between milestones) must be a "
                "positive whole number."
            )
    hashtags = config.get("hashtags", [])
    if not isinstance(hashtags, list) or not all(isinstance(h, str) for h in hashtags):
        raise ValidationError("trigger_config.hashtags must be a list of words.")


PLACEHOLDERS = {
    "name": "the character's name",
    "bio": "the character's bio",
    "location": "the character's location",
    "age": "the character's age",
    "interests": "the character's interests, comma separated",
    "topics": "the personality's preferred topics, comma separated",
    "caption": "what the content shows (its prompt without the style prefix)",
    "ai_caption": "the content's approved caption in the persona's voice, or one "
    "written for the post (falls back to {caption} if the text backend fails)",
    "category": "the content's category",
    "tags": "the content's tags, comma separated",
    "platform": "the platform's name",
    "date": "today's date on the character's calendar",
    "weekday": "today's weekday on the character's calendar",
}


def validate_caption_template(template) -> None:
    if not template:
        return
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValidationError(
            "The caption template is malformed (%(error)s); write {name}-style "
            "placeholders and double braces {{ }} for literal ones.",
            params={"error": exc},
        ) from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise ValidationError(
                "Unknown placeholder {%(name)s} in the caption template. "
                "Available: %(known)s.",
                params={
                    "name": name,
                    "known": ", ".join("{" + k + "}" for k in PLACEHOLDERS),
                },
            )


# --- schedules ----------------------------------------------------------------


def next_run(expr: str, tz_name: str, after: dt.datetime) -> dt.datetime:
    """The first time after `after` that the cron expression names, as UTC.

    Iterates on the naive wall clock of the character's timezone, so every
    wall-clock time fires at most once whatever the DST changes do.
    """
    tz = ZoneInfo(tz_name or "UTC")
    wall = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    itr = croniter(expr, wall)
    for _ in range(3):
        candidate = itr.get_next(dt.datetime).replace(tzinfo=tz)
        # a nonexistent (spring) time resolves with the earlier offset: later
        # in real time; still strictly after `after`
        if candidate > after:
            return candidate.astimezone(dt.UTC)
    return candidate.astimezone(dt.UTC)  # pragma: no cover - cron guarantees progress


def schedule_next(rule: AutomationRule, *, now=None) -> dt.datetime | None:
    """The next_run_at a rule should carry from now on."""
    if not (rule.is_enabled and rule.trigger_type == T.SCHEDULE and rule.character_id):
        return None
    try:
        expr = validate_cron((rule.trigger_config or {}).get("cron"))
    except ValidationError:
        return None
    return next_run(expr, rule.character.timezone, now or timezone.now())


def _due_q(now) -> Q:
    # NULL: enabled again (or written by SQL): computed, not run, this tick
    return Q(is_enabled=True, trigger_type=T.SCHEDULE) & (
        Q(next_run_at__lte=now) | Q(next_run_at__isnull=True)
    )


def dispatch_due_rules(*, now=None, limit: int = 2000, enqueue=None) -> list:
    """Claim due schedule rules, move their next_run_at on, queue their runs.

    Returns the ids of the rules queued. One indexed query finds them; one
    UPDATE moves them all on.
    """
    now = now or timezone.now()
    enqueue = enqueue or _enqueue_run
    with transaction.atomic():
        rules = list(
            AutomationRule.objects.filter(_due_q(now))
            .order_by(F("next_run_at").asc(nulls_first=True))
            .select_related("character")
            .select_for_update(skip_locked=True, of=("self",))
            .only("id", "name", "trigger_config", "next_run_at", "character__timezone")[
                :limit
            ]
        )
        if not rules:
            return []
        moves, due, broken = [], [], []
        for rule in rules:
            try:
                expr = validate_cron((rule.trigger_config or {}).get("cron"))
            except ValidationError:
                broken.append(rule)
                continue
            moves.append(
                When(
                    pk=rule.pk, then=Value(next_run(expr, rule.character.timezone, now))
                )
            )
            if rule.next_run_at is not None:
                due.append(rule)
        if moves:
            AutomationRule.objects.filter(
                pk__in=[r.pk for r in rules if r not in broken]
            ).update(next_run_at=Case(*moves))
        if broken:
            AutomationRule.objects.filter(pk__in=[r.pk for r in broken]).update(
                is_enabled=False, next_run_at=None
            )
            for rule in broken:
                _say(
                    rule,
                    "error",
                    f"Rule '{rule.name}' was disabled: its trigger_config has no valid "
                    "cron expression.",
                )
        ids = [str(r.pk) for r in due]
        for rule in due:
            transaction.on_commit(
                partial(enqueue, str(rule.pk), rule.next_run_at.isoformat()),
                robust=True,
            )
    return ids


def _enqueue_run(rule_id: str, scheduled_for: str) -> None:
    celery_app.send_task(
        RUN_RULE_TASK,
        kwargs={
            "rule_id": rule_id,
            "trigger": "schedule",
            "scheduled_for": scheduled_for,
        },
    )


# --- events -------------------------------------------------------------------


def rules_for_event_q(event: str) -> Q:
    return Q(is_enabled=True, trigger_type=T.EVENT, trigger_config__event=event)


def listening_characters(event: str, character_ids) -> set:
    """Which of these characters have enabled rules for `event` (one query)."""
    if not character_ids:
        return set()
    return set(
        AutomationRule.objects.filter(
            rules_for_event_q(event), character_id__in=list(character_ids)
        )
        .values_list("character_id", flat=True)
        .distinct()
    )


def emit_to(event: str, character_id, payload: dict) -> None:
    """Queue `fire_event` for one character after commit (no check)."""
    transaction.on_commit(
        partial(
            celery_app.send_task,
            FIRE_EVENT_TASK,
            kwargs={"event": event, "character_id": str(character_id), **payload},
        ),
        robust=True,
    )


def emit(event: str, payloads: dict) -> int:
    """Queue `fire_event` after commit, for characters that have rules for it.

    `payloads` maps character id -> payload dict. One query decides who needs it.
    """
    listening = listening_characters(event, payloads)
    for character_id in listening:
        emit_to(event, character_id, payloads[character_id])
    return len(listening)


def fire_event(event: str, character_id, **payload) -> list[RunResult]:
    """Run the character's enabled rules for this event (one query finds them)."""
    if event not in EVENTS:
        logger.warning("unknown automation event %r ignored", event)
        return []
    rules = AutomationRule.objects.filter(
        rules_for_event_q(event), character_id=character_id
    )
    results = []
    for rule_id, config in rules.values_list("pk", "trigger_config"):
        if event == "follower_milestone" and not _crossed(config, payload):
            continue
        results.append(run_rule(rule_id, trigger="event", event=event, payload=payload))
    return results


def _crossed(config: dict, payload: dict) -> bool:
    every = config.get("every", DEFAULT_MILESTONE)
    platform = config.get("platform")
    if platform and payload.get("platform") != platform:
        return False
    try:
        before, after = int(payload["previous"]), int(payload["current"])
    except (KeyError, TypeError, ValueError):
        return False
    return after // every > before // every


# --- a run --------------------------------------------------------------------


@dataclass
class RunResult:
    rule_id: str
    outcome: str  # scheduled, nothing, skipped
    reason: str = ""
    scheduled: list = field(default_factory=list)
    content_id: object = None


def run_key(
    trigger: str, *, slot=None, event: str | None = None, payload=None
) -> str | None:
    """The key that makes a run happen once: a schedule run per cron slot, an
    event run per event and payload (a redelivered event creates nothing)."""
    if trigger == "schedule" and slot is not None:
        return f"schedule:{slot.astimezone(dt.UTC).isoformat()}"
    if trigger == "event" and event:
        digest = hashlib.sha256(
            json.dumps(payload or {}, sort_keys=True, default=str).encode()
        ).hexdigest()[:32]
        return f"event:{event}:{digest}"
    return None


def run_rule(
    rule_id,
    *,
    trigger: str = "manual",
    event: str | None = None,
    payload=None,
    scheduled_for: dt.datetime | None = None,
    run_id=None,
    now=None,
) -> RunResult:
    """One run of one rule, serialised per rule by a row lock.

    A schedule run is stamped with its slot (`scheduled_for`), so an hourly
    rule with a 60-minute cooldown is not refused because the previous run's
    task started a few seconds late. Each run writes its AutomationRun row in
    the same transaction as the posts it schedules: a manual run completes the
    row queued by "Run now" (`run_id`); a schedule or event run inserts its
    row keyed by slot, so a replay of the same slot finds it and does nothing.
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
        run = _take_run(rule, run_id, trigger, scheduled_for, event, payload)
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
        result = _run(rule, now, trigger, event, payload)
        counters = {"times_executed": F("times_executed") + 1, "last_executed_at": slot}
        if result.outcome == "scheduled":
            counters["success_count"] = F("success_count") + 1
        else:
            counters["failure_count"] = F("failure_count") + 1
        AutomationRule.objects.filter(pk=rule.pk).update(**counters)
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
    return result


def _take_run(rule, run_id, trigger, scheduled_for, event, payload):
    """This run's row, or None when the run is done already."""
    if run_id is not None:
        return (
            AutomationRun.objects.select_for_update()
            .filter(pk=run_id, rule=rule, status=AutomationRun.Status.QUEUED)
            .first()
        )
    key = run_key(trigger, slot=scheduled_for, event=event, payload=payload)
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


def _close_run(run, result: RunResult) -> None:
    AutomationRun.objects.filter(pk=run.pk).update(
        status=AutomationRun.Status.DONE,
        outcome=result.outcome,
        reason=result.reason[:2000] or None,
        scheduled_count=len(result.scheduled),
        finished_at=timezone.now(),
    )


def _why_not(rule: AutomationRule, now, slot) -> str:
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
    if _allowance(rule, now) == 0:
        return "the daily or weekly post limit is reached."
    return ""


def _calendar(rule, now):
    tz = ZoneInfo(rule.character.timezone or "UTC")
    local = now.astimezone(tz)
    day = dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)
    week = day - dt.timedelta(days=local.weekday())
    return day, week


def _allowance(rule, now) -> int | None:
    """How many posts the limits still allow today/this week (None: no limit)."""
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


def _run(rule, now, trigger, event, payload) -> RunResult:
    character = rule.character
    order = {p: i for i, p in enumerate(rule.platforms)}
    accounts = sorted(
        PlatformAccount.objects.filter(
            character=character,
            platform__in=rule.platforms,
            is_connected=True,
            connection_status__in=[CS.CONNECTED, CS.RATE_LIMITED],
            auto_posting_enabled=True,
        ),
        key=lambda a: (order.get(a.platform, 99), a.created_at),
    )
    if not accounts:
        return RunResult(
            str(rule.pk),
            "nothing",
            "no connected account with auto-posting on "
            + ", ".join(rule.platforms)
            + ".",
        )
    allowance = _allowance(rule, now)
    if allowance is not None:
        accounts = accounts[:allowance]
    content = pick_content(rule, prefer=payload.get("content_ids") or [])
    if content is None:
        reason = _no_content_reason(rule)
        if rule.prompt_template:
            job = _queue_generation(rule, now)
            reason += f" A generation job ({job.pk}) was queued from the rule's prompt template."
        return RunResult(str(rule.pk), "nothing", reason)
    # one clock for both columns: scheduled_at >= created_at holds exactly
    stamp = timezone.now()
    tz = ZoneInfo(character.timezone or "UTC")
    rows = []
    for account in accounts:
        caption = render_caption(
            rule.caption_template,
            character,
            content,
            account.platform,
            stamp.astimezone(tz),
        )
        caption, hashtags = apply_hashtags(
            rule, character, content, account.platform, caption
        )
        rows.append(
            ScheduledPost(
                character=character,
                platform_account=account,
                scheduled_at=stamp,
                created_at=stamp,
                timezone=character.timezone or "UTC",
                content=content,
                caption=caption or None,
                hashtags=hashtags or None,
                post_type=post_type_for(content.content_type, account.platform),
                status=SP.SCHEDULED,
                automation_rule=rule,
            )
        )
    created = ScheduledPost.objects.bulk_create(rows)
    # {ai_caption} without an approved caption: the persona writes it (issue 15)
    post_captions_request(
        created,
        subject=_content_caption(character, content),
        fallback=_content_caption(character, content),
    )
    return RunResult(
        str(rule.pk),
        "scheduled",
        scheduled=[r.pk for r in created],
        content_id=content.pk,
    )


def _content_q(rule) -> Q:
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


def pick_content(rule, *, prefer=()) -> Content | None:
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
    if prefer:
        chosen = qs.filter(pk__in=list(prefer)).first()
        if chosen is not None:
            return chosen
    return qs.first()


def _no_content_reason(rule) -> str:
    kind = rule.content_type or "any"
    parts = [f"no approved, non-NSFW {kind} content"]
    if rule.content_category:
        parts.append(f"in category '{rule.content_category}'")
    parts.append(f"with quality >= {rule.min_content_quality}")
    return " ".join(parts) + " that is not already queued."


def _queue_generation(rule, now) -> ContentGeneration:
    character = rule.character
    prompt = (
        render_caption(rule.prompt_template, character, None, "", now)
        or rule.prompt_template
    )
    return ContentGeneration.objects.create(
        character=character,
        job_type=ContentGeneration.JobType.IMAGE
        if rule.content_type in (None, "image", "mixed")
        else rule.content_type,
        prompt=prompt,
        generation_settings={
            **(rule.generation_settings or {}),
            **(
                {"content_category": rule.content_category}
                if rule.content_category
                else {}
            ),
            "automation_rule_id": str(rule.pk),
        },
    )


class _Blank(dict):
    def __missing__(self, key):
        return ""


def render_caption(template, character, content, platform: str, local_now) -> str:
    if not template:
        return _content_caption(character, content)
    personality = getattr(character, "personality", None)
    values = _Blank(
        name=character.name,
        bio=character.bio or "",
        location=character.location or "",
        age="" if character.age is None else str(character.age),
        interests=", ".join(character.interests or []),
        topics=", ".join((personality.preferred_topics or []) if personality else []),
        caption=_content_caption(character, content),
        ai_caption=ai_caption_for(content),
        category=(content.content_category or "") if content else "",
        tags=", ".join((content.tags or []) if content else []),
        platform=Platform(platform).label if platform in Platform.values else "",
        date=f"{local_now:%Y-%m-%d}",
        weekday=f"{local_now:%A}",
    )
    try:
        text = template.format_map(values)
    except (ValueError, KeyError, IndexError, AttributeError):
        # the template was saved around validation (plain SQL): keep it as is
        text = template
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _content_caption(character, content) -> str:
    if content is None or not content.prompt:
        return ""
    prompt = content.prompt
    appearance = getattr(character, "appearance", None)
    prefix = (appearance.default_prompt_prefix or "").strip() if appearance else ""
    if prefix and prompt.startswith(prefix):
        prompt = prompt[len(prefix) :].lstrip(" ,")
    return prompt[:200].strip()


HASHTAG_LIMITS = {"instagram": 15, "twitter": 2, "youtube": 5, "telegram": 3}
_TAG = re.compile(r"(?<!\w)#(\w+)")


def _tag(word: str) -> str:
    return re.sub(r"\W+", "", word.lower().lstrip("#"))


def apply_hashtags(rule, character, content, platform: str, caption: str):
    """Returns (caption, hashtags). 'template': the #words the template wrote
    (taken out of the caption) plus trigger_config.hashtags; 'auto': from the
    content's tags, the personality's topics and the character's interests."""
    strategy = rule.hashtag_strategy or AutomationRule.HashtagStrategy.NONE
    if strategy == AutomationRule.HashtagStrategy.NONE:
        return caption, []
    if strategy == AutomationRule.HashtagStrategy.TEMPLATE:
        words = _TAG.findall(caption) + list(
            (rule.trigger_config or {}).get("hashtags", [])
        )
        caption = re.sub(r"[ \t]{2,}", " ", _TAG.sub("", caption)).strip()
    else:
        personality = getattr(character, "personality", None)
        words = [
            *((content.tags or []) if content else []),
            *((personality.preferred_topics or []) if personality else []),
            *(character.interests or []),
        ]
    seen, tags = set(), []
    for word in words:
        tag = _tag(word)
        if tag and tag not in seen:
            seen.add(tag)
            tags.append(tag)
    return caption, tags[: HASHTAG_LIMITS.get(platform, 5)]


def post_type_for(content_type: str, platform: str) -> str:
    if platform == "twitter":
        return "tweet"
    if platform == "telegram":
        return "message"
    if content_type == "video":
        return {"instagram": "reel", "youtube": "short"}.get(platform, "video")
    return "post"


def _say(rule, level: str, message: str, *, metadata=None, content_id=None) -> None:
    system_log_write(
        level=level,
        component=COMPONENT,
        message=message[:2000],
        character_id=rule.character_id,
        content_id=content_id,
        metadata={"automation_rule_id": str(rule.pk), **(metadata or {})},
    )
