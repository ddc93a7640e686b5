"""Where the persona's text goes: captions of content and scheduled posts, and
the comments of engagement actions; what is written, asked for and held.

- Content captions: written by a text job (on generation completion, on
  demand), reviewed apart from the media (`Content.caption_status`). A caption
  changed after approval is 'pending' again (the content_caption_review
  trigger). A scheduled post without a caption of its own publishes its
  content's caption, which must then be approved.
- Rule captions: `{ai_caption}` in a rule's caption_template is the content's
  approved caption; without one, the post is scheduled with the template's
  text around a marker and waits ('writing') while a text job writes its
  caption; if the text backend fails, the marker becomes the template's
  `{caption}` text and the fallback is logged.
- Engagement: comment and reply actions without text get a text job (a sweep
  over pending actions, whatever wrote them); the engagement queue takes only
  actions that have their text, so none is performed without it.
- Moderation: a flagged text is held (the job 'held', a content caption or a
  post's caption 'flagged', an action's text not filled) for a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from content.models import AI_CAPTION_MARKER, Content, TextGeneration
from logs.services import system_log_write
from platforms.adapters import adapter_class_for
from platforms.adapters.rules import PostDraft
from platforms.models import EngagementAction, Platform, PlatformAccount, ScheduledPost

logger = logging.getLogger(__name__)
TG = TextGeneration.Status
P = TextGeneration.Purpose
SPC = ScheduledPost.CaptionStatus
CC = Content.CaptionStatus
EA = EngagementAction.Status
COMPONENT = "persona_text"

SENTINEL = AI_CAPTION_MARKER
# How many hashtags the persona writes per platform (within the platform's own
# limit); captions for no platform in particular get the default.
HASHTAGS_WANTED = {"instagram": 12, "twitter": 2, "youtube": 5, "telegram": 3}
DEFAULT_HASHTAGS = 5
DEFAULT_CAPTION_MAX = 2200
# Comments and replies stay short whatever the platform allows.
REPLY_MAX = 280
HASHTAG_WORD = re.compile(r"#?([^\W_][\w]*)", re.UNICODE)


@dataclass(frozen=True)
class CaptionLimits:
    platform: str
    label: str
    max_chars: int
    max_hashtags: int
    length: Callable[[str], int] = len


def caption_limits(platform: str | None, *, media: bool = True) -> CaptionLimits:
    """A platform's caption length and hashtag count (its adapter's rules)."""
    cls = adapter_class_for(platform) if platform else None
    rules = cls.rules if cls else None
    if rules is None:
        label = Platform(platform).label if platform in Platform.values else ""
        return CaptionLimits(
            platform or "", label, DEFAULT_CAPTION_MAX, DEFAULT_HASHTAGS
        )
    limit = (
        rules.caption_max_with_media if media and rules.caption_max_with_media else None
    ) or rules.caption_max
    wanted = HASHTAGS_WANTED.get(platform or "", DEFAULT_HASHTAGS)
    if rules.hashtags_max is not None:
        wanted = min(wanted, rules.hashtags_max)
    return CaptionLimits(
        platform or "",
        rules.label,
        limit or DEFAULT_CAPTION_MAX,
        wanted,
        rules.caption_length,
    )


def strictest_platform(character_id: Any) -> str | None:
    """The character's platform with the shortest caption limit (a caption
    written for it fits the others), or None without accounts."""
    platforms = set(
        PlatformAccount.objects.filter(character_id=character_id).values_list(
            "platform", flat=True
        )
    )
    if not platforms:
        return None
    return min(sorted(platforms), key=lambda p: caption_limits(p).max_chars)


def parse_caption(raw: str) -> tuple[str, list[str]]:
    """A backend's answer as (caption, hashtags): the caption, then a last
    'Hashtags:' line (or a last line of bare #tags)."""
    lines = [line.rstrip() for line in (raw or "").strip().splitlines()]
    tags: list[str] = []
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        last = lines[-1].strip()
        if last.lower().startswith("hashtags:"):
            tags = HASHTAG_WORD.findall(last.split(":", 1)[1])
            lines.pop()
        elif last and all(w.startswith("#") for w in last.split()):
            tags = HASHTAG_WORD.findall(last)
            lines.pop()
    caption = "\n".join(lines).strip()
    if len(caption) >= 2 and caption[0] == caption[-1] and caption[0] in "\"'“”":
        caption = caption[1:-1].strip()
    seen: list[str] = []
    for tag in tags:
        tag = tag.lower()
        if tag not in seen:
            seen.append(tag)
    return caption, seen


def trim_to(text: str, fits: Callable[[str], bool]) -> str:
    """Drop words from the end of `text` until `fits(text)`, marking the cut."""
    if fits(text):
        return text
    words = text.split(" ")
    while words:
        words.pop()
        candidate = " ".join(words).rstrip(" ,;:-") + "…"
        if fits(candidate):
            return candidate
    return ""


def fit_caption(
    limits: CaptionLimits, caption: str, hashtags: list[str]
) -> tuple[str, list[str]]:
    """Caption and hashtags within the platform's limits, as they will be sent
    (the caption, a blank line, the hashtags)."""
    hashtags = hashtags[: limits.max_hashtags]

    def fits(text: str) -> bool:
        draft = PostDraft(post_type=None, caption=text, hashtags=tuple(hashtags))
        return limits.length(draft.text) <= limits.max_chars

    return trim_to(caption, fits), hashtags


def describe_content(content: Content | None) -> str:
    """What a content shows, for a caption prompt: its prompt without the
    appearance's style prefix."""
    if content is None or not content.prompt:
        return ""
    prompt = content.prompt
    appearance = getattr(content.character, "appearance", None)
    prefix = (appearance.default_prompt_prefix or "").strip() if appearance else ""
    if prefix and prompt.startswith(prefix):
        prompt = prompt[len(prefix) :].lstrip(" ,")
    # the persona does not name itself in its own caption
    name = content.character.name
    if name and prompt.lower().startswith(name.lower()):
        prompt = prompt[len(name) :].lstrip(" ,")
    return prompt[:300].strip()


def kick() -> None:
    """Run the text queue soon after this transaction commits (the periodic
    task is the safety net)."""
    from config.celery import app

    transaction.on_commit(
        lambda: app.send_task("content.tasks.process_text_queue"), robust=True
    )


# --- asking for text ----------------------------------------------------------------


def content_caption_jobs(
    contents: Iterable[Content],
    *,
    platform: str | None = None,
    actor: Any = None,
    priority: int = 5,
) -> list[TextGeneration]:
    """One caption job per content (not for content that has one pending)."""
    rows = list(contents)
    busy = set(
        TextGeneration.objects.filter(
            content__in=rows,
            purpose=P.CONTENT_CAPTION,
            status__in=[TG.PENDING, TG.PROCESSING],
        ).values_list("content_id", flat=True)
    )
    platforms: dict[Any, str | None] = {}
    jobs = []
    for content in rows:
        if content.pk in busy:
            continue
        if platform is None and content.character_id not in platforms:
            platforms[content.character_id] = strictest_platform(content.character_id)
        jobs.append(
            TextGeneration(
                character_id=content.character_id,
                purpose=P.CONTENT_CAPTION,
                content=content,
                platform=platform or platforms.get(content.character_id),
                priority=priority,
                requested_by=actor if getattr(actor, "pk", None) else None,
            )
        )
    created = TextGeneration.objects.bulk_create(jobs)
    if created:
        kick()
    return created


def ai_caption_for(content: Content | None) -> str:
    """`{ai_caption}` in a rule's caption template: the content's approved
    caption, or the marker a text job replaces (post_captions_request)."""
    if content is None:
        return ""
    if content.caption_approved:
        return content.caption or ""
    return SENTINEL


def post_captions_request(
    posts: Iterable[ScheduledPost], *, subject: str, fallback: str
) -> int:
    """After a rule run: posts whose caption holds the marker wait while a
    text job writes their part; `fallback` replaces the marker if it fails."""
    waiting = [p for p in posts if SENTINEL in (p.caption or "")]
    if not waiting:
        return 0
    jobs = []
    for post in waiting:
        limits = caption_limits(post.platform_account.platform, media=True)
        frame = post.caption or ""
        rest = frame.replace(SENTINEL, "")
        room = limits.max_chars - limits.length(
            PostDraft(None, rest, tuple(post.hashtags or ())).text
        )
        jobs.append(
            TextGeneration(
                character_id=post.character_id,
                purpose=P.POST_CAPTION,
                content_id=post.content_id,
                platform=post.platform_account.platform,
                priority=3,  # due now: ahead of captions for the library
                max_retries=2,  # then the template's own text goes out
                context={
                    "frame": frame,
                    "fallback": fallback,
                    "subject": subject,
                    "max_chars": max(20, room),
                },
            )
        )
    TextGeneration.objects.bulk_create(jobs)
    for post, job in zip(waiting, jobs, strict=True):
        post.caption_job = job
        post.caption_status = SPC.WRITING
    ScheduledPost.objects.bulk_update(waiting, ["caption_job", "caption_status"])
    kick()
    return len(jobs)


def engagement_texts_request(*, limit: int = 500) -> int:
    """Comment and reply actions waiting without text and without a job get
    one (whoever wrote them: the API, the admin, plain SQL)."""
    with transaction.atomic():
        actions = list(
            EngagementAction.objects.filter(
                Q(comment_text__isnull=True) | Q(comment_text=""),
                status=EA.PENDING,
                action_type__in=EngagementAction.TEXT_ACTIONS,
                text_job__isnull=True,
            )
            .select_related("platform_account")
            .defer("platform_account__auth_data")
            .order_by("created_at")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        if not actions:
            return 0
        answering = _answered_posts(actions)
        jobs = [
            TextGeneration(
                character_id=a.character_id,
                purpose=P.ENGAGEMENT,
                platform=a.platform,
                priority=4,
                context={
                    "action_type": a.action_type,
                    "answering": (
                        a.target_text or answering.get(a.target_id or "") or ""
                    )[:2000],
                    "max_chars": min(
                        REPLY_MAX, caption_limits(a.platform, media=False).max_chars
                    ),
                },
            )
            for a in actions
        ]
        TextGeneration.objects.bulk_create(jobs)
        for action, job in zip(actions, jobs, strict=True):
            action.text_job = job
        EngagementAction.objects.bulk_update(actions, ["text_job"])
    return len(jobs)


def _answered_posts(actions: list[EngagementAction]) -> dict[str, str]:
    """When an action answers one of our own posts, that post's caption."""
    from platforms.models import Post

    ids = {a.target_id for a in actions if a.target_id and not a.target_text}
    if not ids:
        return {}
    return {
        pid or "": caption or ""
        for pid, caption in Post.objects.filter(platform_post_id__in=ids).values_list(
            "platform_post_id", "caption"
        )
    }


# --- what a finished job does ---------------------------------------------------------


def apply_result(
    job: TextGeneration, *, text: str, hashtags: list[str], held: str | None
) -> None:
    """Put a written text where it belongs (in the job's transaction). `held`:
    moderation's reason when the text is kept for review."""
    if job.purpose == P.CONTENT_CAPTION and job.content_id is not None:
        Content.objects.filter(pk=job.content_id).update(
            caption=text,
            hashtags=hashtags or None,
            caption_status=CC.FLAGGED if held else CC.PENDING,
            caption_note=f"Held by moderation: {held}" if held else None,
        )
    elif job.purpose == P.POST_CAPTION:
        frame = (job.context or {}).get("frame") or SENTINEL
        ScheduledPost.objects.filter(
            caption_job=job, caption_status=SPC.WRITING
        ).update(
            caption=frame.replace(SENTINEL, text),
            caption_status=SPC.FLAGGED if held else SPC.APPROVED,
            error_message=(
                f"Waiting: its caption was held by moderation ({held}); approve "
                "the caption or edit it."
                if held
                else None
            ),
        )
    elif job.purpose == P.ENGAGEMENT:
        actions = EngagementAction.objects.filter(text_job=job, status=EA.PENDING)
        if held:
            actions.update(
                error_message=f"Waiting: its text was held by moderation ({held}); "
                "approve or reject it under Text generations."
            )
        else:
            actions.filter(Q(comment_text__isnull=True) | Q(comment_text="")).update(
                comment_text=text, error_message=None
            )


def apply_failure(job: TextGeneration, message: str) -> None:
    """A job that gave up (in its transaction)."""
    if job.purpose == P.POST_CAPTION:
        context = job.context or {}
        frame = context.get("frame") or SENTINEL
        fallback = context.get("fallback") or ""
        posts = list(
            ScheduledPost.objects.filter(
                caption_job=job, caption_status=SPC.WRITING
            ).values_list("pk", "character_id")
        )
        ScheduledPost.objects.filter(pk__in=[pk for pk, _ in posts]).update(
            caption=re.sub(r"[ \t]{2,}", " ", frame.replace(SENTINEL, fallback)).strip()
            or None,
            caption_status=SPC.APPROVED,
        )
        for pk, character_id in posts:
            system_log_write(
                level="warning",
                component=COMPONENT,
                message=(
                    f"Scheduled post {pk}: the AI caption could not be written "
                    f"({message}); its caption template's own text is used."
                )[:2000],
                character_id=character_id,
                metadata={"scheduled_post_id": str(pk), "text_job_id": str(job.pk)},
            )
    elif job.purpose == P.ENGAGEMENT:
        EngagementAction.objects.filter(
            Q(comment_text__isnull=True) | Q(comment_text=""),
            text_job=job,
            status=EA.PENDING,
        ).update(
            status=EA.FAILED,
            error_message=f"No text to post: writing it failed ({message})."[:2000],
            locked_until=None,
        )


def apply_review(job: TextGeneration, *, approved: bool) -> None:
    """A person approved (or rejected) a held text."""
    text = job.result_text or ""
    if job.purpose == P.CONTENT_CAPTION and job.content_id is not None:
        rows = Content.objects.filter(pk=job.content_id, caption=text)
        if approved:
            rows.update(caption_status=CC.APPROVED, caption_note=None)
        else:
            rows.update(caption_status=CC.REJECTED, caption_note="Rejected by staff.")
    elif job.purpose == P.POST_CAPTION:
        posts = ScheduledPost.objects.filter(
            caption_job=job, caption_status=SPC.FLAGGED
        )
        if approved:
            posts.update(caption_status=SPC.APPROVED, error_message=None)
        else:
            apply_failure_to_flagged(job)
    elif job.purpose == P.ENGAGEMENT:
        actions = EngagementAction.objects.filter(text_job=job, status=EA.PENDING)
        if approved:
            actions.filter(Q(comment_text__isnull=True) | Q(comment_text="")).update(
                comment_text=text, error_message=None
            )
        else:
            actions.update(
                status=EA.CANCELLED,
                error_message="Its text was rejected by staff.",
                locked_until=None,
            )


def apply_failure_to_flagged(job: TextGeneration) -> None:
    """A rejected post caption: the template's own text goes out instead."""
    ScheduledPost.objects.filter(caption_job=job, caption_status=SPC.FLAGGED).update(
        caption_status=SPC.WRITING
    )
    apply_failure(job, "its text was rejected by staff")
