"""The text queue: the persona writes, on the queue machine (config/workqueue.py).

1. The claim takes pending jobs by priority, then oldest first, through the
   partial index idx_text_generations_pending (a job waiting out its backoff
   carries a "not before" in locked_until), plus 'processing' jobs whose
   lease ran out. Never inside a web request: the admin and the API only add
   jobs (content.captions) and kick the task.
2. A job builds its prompt (content.persona: one place), journals the attempt
   with the rendered prompt (`begin`, committed before the paid call), calls
   the text backend (a voice preview: three calls), parses and fits the text
   to the platform's limits, screens it with the moderator, and in one
   transaction records the text, the model, the token usage and the timing
   and puts the text where it belongs (content.captions.apply_result), but
   only if this worker still holds the job.
3. Retries with backoff on 429 (at least the server's Retry-After), 5xx and
   timeouts; a 4xx is a permanent error, with the server's reason. A job
   taken in doubt (its worker stopped mid-call) counts as a failed attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.workqueue import Claimed, Drain, WorkQueue, fail_on_error
from content import captions
from content.models import TextGeneration
from content.moderation import Moderator, Verdict, get_moderator
from content.persona import Persona, WritingTask, persona_prompt, task_prompt
from content.text_backends import (
    TextBackend,
    TextError,
    TextRefused,
    TextRequest,
    TextResult,
    get_text_backend,
)

logger = logging.getLogger(__name__)
S = TextGeneration.Status
P = TextGeneration.Purpose
PREVIEW_SAMPLES = 3

QUEUE = WorkQueue(
    TextGeneration,
    waiting=S.PENDING,
    processing=S.PROCESSING,
    order_by=("priority", "created_at"),
    lease_seconds=lambda: settings.TEXT_LEASE_SECONDS,
    backoff=lambda: (settings.TEXT_RETRY_BASE_SECONDS, settings.TEXT_RETRY_MAX_SECONDS),
)


@dataclass(frozen=True)
class Plan:
    """What one job sends: the prompts, its calls, and how to fit the answers."""

    system: str
    user: str
    temperature: float
    requests: tuple[TextRequest, ...]
    limits: captions.CaptionLimits
    hashtags: bool


def plan_for(job: TextGeneration) -> Plan:
    """The job's prompt: the persona's (one place) and its task's."""
    character = job.character
    personality = getattr(character, "personality", None)
    persona = Persona.of(character, personality)
    context: dict[str, Any] = job.context if isinstance(job.context, dict) else {}
    visual = job.content is None or job.content.content_type in ("image", "video")
    limits = captions.caption_limits(job.platform, media=visual)
    max_chars = int(context.get("max_chars") or limits.max_chars)
    subject = context.get("subject") or captions.describe_content(job.content)
    if job.purpose == P.CONTENT_CAPTION and job.content is None:
        raise TextRefused("Its content no longer exists.")
    task = WritingTask(
        purpose=job.purpose,
        subject=subject,
        platform=limits.label,
        max_chars=min(max_chars, limits.max_chars),
        max_hashtags=limits.max_hashtags,
        action_type=str(context.get("action_type") or ""),
        answering=str(context.get("answering") or ""),
        tags=tuple(job.content.tags or ()) if job.content else (),
    )
    system, user = persona_prompt(persona), task_prompt(task)
    temperature = (
        float(job.temperature) if job.temperature is not None else persona.temperature
    )
    samples = PREVIEW_SAMPLES if job.purpose == P.VOICE_PREVIEW else 1
    seed = job.pk.int % (2**31)
    requests = tuple(
        TextRequest(
            system=system,
            user=user,
            persona=persona,
            task=task,
            temperature=temperature,
            max_tokens=settings.TEXT_MAX_TOKENS,
            seed=seed + n,
        )
        for n in range(samples)
    )
    return Plan(
        system=system,
        user=user,
        temperature=temperature,
        requests=requests,
        limits=captions.CaptionLimits(
            limits.platform,
            limits.label,
            task.max_chars,
            limits.max_hashtags if task.wants_hashtags else 0,
            limits.length,
        ),
        hashtags=task.wants_hashtags,
    )


def claim_text_jobs(*, limit: int = 5, now: dt.datetime | None = None) -> list[Any]:
    return [item.id for item in QUEUE.claim(limit=limit, now=now)]


class _Batch:
    def __init__(
        self,
        items: list[Claimed],
        backend: TextBackend | None,
        moderator: Moderator | None,
    ):
        self.backend = backend or get_text_backend()
        self.moderator = moderator
        self.calls = dict(
            TextGeneration.objects.filter(pk__in=[i.id for i in items]).values_list(
                "pk", "purpose"
            )
        )

    def call_timeout(self, item: Claimed) -> float:
        calls = PREVIEW_SAMPLES if self.calls.get(item.id) == P.VOICE_PREVIEW else 1
        screen = self.moderator.call_timeout if self.moderator else 0.0
        return calls * (float(self.backend.call_timeout) + screen)

    def __call__(self, item: Claimed) -> str:
        return _run(item, self.backend, self.moderator)


def _run(item: Claimed, backend: TextBackend, moderator: Moderator | None) -> str:
    job = (
        QUEUE.mine(item)
        .select_related("character", "character__personality", "content")
        .first()
    )
    if job is None:
        return "skipped"  # cancelled (or taken over) before it started
    if item.in_doubt_since is not None:
        return _failed(job, item, item.doubt("the text"), retryable=True)
    try:
        plan = plan_for(job)
    except TextRefused as exc:
        return _failed(job, item, exc.message, retryable=False)
    now = timezone.now()
    # the journal, with the prompt as sent: committed before the paid call
    if not QUEUE.begin(
        item,
        now=now,
        started_at=now,
        completed_at=None,
        system_prompt=plan.system,
        user_prompt=plan.user,
        temperature=round(plan.temperature, 2),
    ):
        return "skipped"
    started = time.monotonic()
    try:
        results = [backend.complete(request) for request in plan.requests]
        texts = [_fit(plan, result.text) for result in results]
        if not any(text for text, _ in texts):
            raise TextError("The text backend wrote nothing usable.")
        verdicts = [
            moderator.check(_joined(text, tags)) if moderator else Verdict(False)
            for text, tags in texts
        ]
    except TextError as exc:
        return _failed(
            job, item, exc.message, retryable=exc.retryable, retry_after=exc.retry_after
        )
    elapsed = time.monotonic() - started
    return _complete(job, item, backend, results, texts, verdicts, elapsed)


def _fit(plan: Plan, raw: str) -> tuple[str, list[str]]:
    caption, hashtags = captions.parse_caption(raw)
    if not plan.hashtags:
        hashtags = []
    return captions.fit_caption(plan.limits, caption, hashtags)


def _joined(text: str, tags: list[str]) -> str:
    return " ".join([text, *(f"#{t}" for t in tags)])


def _complete(
    job: TextGeneration,
    item: Claimed,
    backend: TextBackend,
    results: list[TextResult],
    texts: list[tuple[str, list[str]]],
    verdicts: list[Verdict],
    elapsed: float,
) -> str:
    preview = job.purpose == P.VOICE_PREVIEW
    reasons = [v.reason for v in verdicts if v.flagged]
    held = "; ".join(dict.fromkeys(reasons)) if reasons else None
    text, hashtags = texts[0]
    status = S.HELD if held and not preview else S.COMPLETED

    def tokens(name: str) -> int | None:
        values = [getattr(r, name) for r in results if getattr(r, name) is not None]
        return sum(values) if values else None

    with transaction.atomic():
        # still ours? (not cancelled, not taken over after an expired lease)
        if QUEUE.mine(item).select_for_update().first() is None:
            return "skipped"
        QUEUE.finish(
            item,
            status=status,
            result_text=text,
            result_hashtags=hashtags or None,
            samples=[
                {
                    "caption": t,
                    "hashtags": h,
                    **({"flagged": v.reason} if v.flagged else {}),
                }
                for (t, h), v in zip(texts, verdicts, strict=True)
            ]
            if preview
            else None,
            moderation_reason=held,
            backend=backend.name[:100],
            model=(results[0].model or "")[:200] or None,
            prompt_tokens=tokens("prompt_tokens"),
            completion_tokens=tokens("completion_tokens"),
            duration_ms=max(0, round(elapsed * 1000)),
            completed_at=timezone.now(),
            error_message=None,
        )
        if not preview:
            captions.apply_result(job, text=text, hashtags=hashtags, held=held)
    if held and not preview:
        logger.warning(
            "text job %s held by moderation: %s",
            job.pk,
            held,
            extra={"character_id": job.character_id},
        )
        return "held"
    return "completed"


def _failed(
    job: TextGeneration,
    item: Claimed,
    message: str,
    *,
    retryable: bool,
    retry_after: float | None = None,
) -> str:
    attempt = job.retry_count + 1
    now = timezone.now()
    if retryable and attempt <= job.max_retries:
        QUEUE.retry_later(
            item,
            attempt=attempt,
            message=message,
            at_least=retry_after or 0,
            started_at=None,
        )
        return "retry"
    if retryable:
        message = f"Gave up after {job.max_retries} retries: {message}"
    with transaction.atomic():
        if QUEUE.finish(
            item,
            status=S.FAILED,
            started_at=job.started_at or now,
            completed_at=now,
            error_message=message[:2000],
        ):
            captions.apply_failure(job, message)
    logger.warning(
        "text job %s failed: %s",
        job.pk,
        message,
        extra={"character_id": job.character_id},
    )
    return "failed"


def process_text_queue(
    *,
    batch: int = 10,
    time_budget: float | None = None,
    backend: TextBackend | None = None,
    moderator: Moderator | None = None,
    now: dt.datetime | None = None,
) -> Counter:
    """Ask for the texts engagement actions wait for, then claim and write
    until no job is left or the budget is spent."""
    captions.engagement_texts_request()
    try:
        screen = moderator or get_moderator()
    except TextRefused as exc:
        # misconfigured moderation: nothing goes out unscreened
        logger.error("text queue not run: %s", exc.message)
        return Counter(not_configured=1)
    try:
        writer = backend or get_text_backend()
    except TextRefused as exc:
        logger.error("text queue not run: %s", exc.message)
        return Counter(not_configured=1)
    return Drain(
        QUEUE,
        budget=time_budget or settings.QUEUE_TASK_BUDGET,
        batch=batch,
        prepare=lambda items: _Batch(items, writer, screen),
        on_error=fail_on_error(QUEUE, _failed),
        now=now,
    ).run()
