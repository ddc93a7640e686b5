"""What a run schedules: approved content, one post per connected account.

Picks the content (least used first, locked until the run commits), renders
the caption, applies the hashtag strategy and schedules one post per
connected account of the rule's platforms through
`platforms.services.scheduled_posts_create` (one INSERT). A post its
platform would refuse is left out, and the run says why; with no content
left, a rule with a prompt template queues a generation job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from automation.captions import (
    apply_hashtags,
    content_caption,
    post_type_for,
    render_caption,
)
from automation.models import AutomationRule
from automation.selectors import pick_content, postable_accounts, rule_allowance
from content.captions import post_captions_request
from content.models import ContentGeneration
from platforms.models import ScheduledPost
from platforms.services import scheduled_post_problems, scheduled_posts_create


@dataclass
class RunResult:
    rule_id: str
    outcome: str  # scheduled, nothing, skipped
    reason: str = ""
    scheduled: list = field(default_factory=list)
    content_id: Any = None


def schedule_posts(
    rule: AutomationRule, now: dt.datetime, payload: dict[str, Any]
) -> RunResult:
    """Schedule the rule's posts now (outcome 'scheduled'), or say why not
    ('nothing'). Runs inside the run's transaction."""
    character = rule.character
    accounts = postable_accounts(rule)
    if not accounts:
        return RunResult(
            str(rule.pk),
            "nothing",
            "no connected account with auto-posting on "
            + ", ".join(rule.platforms)
            + ".",
        )
    allowance = rule_allowance(rule, now)
    if allowance is not None:
        accounts = accounts[:allowance]
    content = pick_content(rule, prefer=payload.get("content_ids") or [])
    if content is None:
        reason = no_content_reason(rule)
        if rule.prompt_template:
            job = _queue_generation(rule, now)
            reason += f" A generation job ({job.pk}) was queued from the rule's prompt template."
        return RunResult(str(rule.pk), "nothing", reason)
    # one clock for both columns: scheduled_at >= created_at holds exactly
    stamp = timezone.now()
    local_now = stamp.astimezone(ZoneInfo(character.timezone or "UTC"))
    rows = []
    for account in accounts:
        caption = render_caption(
            rule.caption_template, character, content, account.platform, local_now
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
                automation_rule=rule,
            )
        )
    # what a platform would refuse is left out (the others still go out)
    problems = scheduled_post_problems(rows)
    refused = [
        f"{row.platform_account.platform}: " + " ".join(_messages(found))
        for row, found in zip(rows, problems, strict=True)
        if found
    ]
    rows = [row for row, found in zip(rows, problems, strict=True) if not found]
    if not rows:
        return RunResult(
            str(rule.pk),
            "nothing",
            "every platform would refuse the post: " + "; ".join(refused),
        )
    created = scheduled_posts_create(posts=rows)
    # {ai_caption} without an approved caption: the persona writes it (issue 15)
    post_captions_request(
        created,
        subject=content_caption(character, content),
        fallback=content_caption(character, content),
    )
    return RunResult(
        str(rule.pk),
        "scheduled",
        reason=("Left out: " + "; ".join(refused)) if refused else "",
        scheduled=[r.pk for r in created],
        content_id=content.pk,
    )


def _messages(found: dict[str, list[str]]) -> list[str]:
    return [message for messages in found.values() for message in messages]


def no_content_reason(rule: AutomationRule) -> str:
    kind = rule.content_type or "any"
    parts = [f"no approved, non-NSFW {kind} content"]
    if rule.content_category:
        parts.append(f"in category '{rule.content_category}'")
    parts.append(f"with quality >= {rule.min_content_quality}")
    return " ".join(parts) + " that is not already queued."


def _queue_generation(rule: AutomationRule, now: dt.datetime) -> ContentGeneration:
    character = rule.character
    prompt = (
        render_caption(rule.prompt_template, character, None, "", now)
        or rule.prompt_template
        or ""
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
