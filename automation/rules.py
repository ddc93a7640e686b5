"""What a valid rule is, and when a schedule rule runs next (a leaf module).

Imports no project module, so the model (`AutomationRule.clean()` and
`save()`), the engine and the admin all use it without an import circle.

Schedules: a 'schedule' rule's trigger_config holds {"cron": "m h dom mon
dow"}, evaluated on the character's wall clock. Each wall-clock time fires at
most once: on the autumn DST change a 02:30 rule runs once (not twice), and
on the spring change a time that does not exist (02:30 in Europe/Berlin) runs
an hour later.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from croniter import croniter
from django.core.exceptions import ValidationError
from django.utils import timezone

# The Celery task that runs one rule (sent by name: automation.tasks.run_rule).
RUN_RULE_TASK = "automation.tasks.run_rule"

# The events an 'event' rule may listen to (emitted through logs.events).
EVENTS = {
    "content_approved": "Content approved",
    "post_published": "Post published",
    "generation_completed": "Generation completed",
    "follower_milestone": "Follower milestone",
}
DEFAULT_MILESTONE = 1000

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


def validate_cron(expr: object) -> str:
    """The expression, normalised, or a ValidationError saying what is wrong."""
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


def validate_trigger_config(trigger_type: str, config: object) -> None:
    if not isinstance(config, dict):
        raise ValidationError("trigger_config must be a JSON object.")
    if trigger_type == "schedule":
        validate_cron(config.get("cron"))
    elif trigger_type == "event":
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


def validate_caption_template(template: str | None) -> None:
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


class ScheduledRule(Protocol):
    """What `schedule_next` reads of a rule (an AutomationRule)."""

    is_enabled: bool
    trigger_type: str
    trigger_config: Any
    character_id: Any

    @property
    def character(self) -> Any: ...


def schedule_next(
    rule: ScheduledRule, *, now: dt.datetime | None = None
) -> dt.datetime | None:
    """The next_run_at a rule should carry from now on (None: not scheduled)."""
    if not (rule.is_enabled and rule.trigger_type == "schedule" and rule.character_id):
        return None
    try:
        expr = validate_cron((rule.trigger_config or {}).get("cron"))
    except ValidationError:
        return None
    return next_run(expr, rule.character.timezone, now or timezone.now())
