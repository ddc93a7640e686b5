"""The content generation queue.

1. `claim_generations` takes pending jobs by priority (1 first), then oldest
   first, with SELECT ... FOR UPDATE SKIP LOCKED through the partial index
   idx_generations_pending, plus 'processing' jobs whose lease ran out (a
   worker died), and marks them 'processing' with a lease and started_at.
2. `run_generation` builds the request from the job and the character's
   appearance, calls the backend, writes the files under MEDIA_ROOT and, in
   one transaction, creates the content rows and completes the job, but only
   if the job is still this worker's (a job cancelled meanwhile keeps nothing).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from automation.engine import emit
from characters.models import CharacterAppearance
from content.backends import (
    GeneratedImage,
    GenerationError,
    GenerationRequest,
    Unsupported,
    get_backend,
)
from content.models import Content, ContentGeneration

logger = logging.getLogger(__name__)
S = ContentGeneration.Status
IMAGE_JOBS = (ContentGeneration.JobType.IMAGE, ContentGeneration.JobType.BATCH)


def claim_generations(*, limit: int = 5, now=None) -> list[uuid.UUID]:
    now = now or timezone.now()
    lease = dt.timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            ContentGeneration.objects.filter(status=S.PENDING)
            # a job waiting out its retry backoff carries a "not before" lease
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("priority", "created_at")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if len(ids) < limit:
            ids += list(
                ContentGeneration.objects.filter(
                    status=S.PROCESSING, locked_until__lt=now
                )
                .order_by("locked_until")
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[: limit - len(ids)]
            )
        if ids:
            ContentGeneration.objects.filter(pk__in=ids).update(
                status=S.PROCESSING,
                locked_until=now + lease,
                started_at=now,
                completed_at=None,
            )
    return ids


def build_request(job: ContentGeneration) -> GenerationRequest:
    """The job's prompt and settings, with the character's appearance folded in."""
    appearance = CharacterAppearance.objects.filter(
        character_id=job.character_id
    ).first()
    opts = job.generation_settings if isinstance(job.generation_settings, dict) else {}
    prefix = (appearance.default_prompt_prefix or "").strip() if appearance else ""
    prompt = f"{prefix}, {job.prompt}" if prefix else job.prompt
    negatives = [
        (job.negative_prompt or "").strip(),
        ((appearance.negative_prompt or "") if appearance else "").strip(),
    ]

    def number(key, default, cast, low, high):
        try:
            value = cast(opts.get(key, default))
        except (TypeError, ValueError):
            return default
        return min(high, max(low, value))

    return GenerationRequest(
        prompt=prompt,
        negative_prompt=", ".join(n for n in negatives if n),
        width=number("width", 512, int, 64, 2048),
        height=number("height", 768, int, 64, 2048),
        steps=number("steps", 30, int, 1, 150),
        cfg_scale=number("cfg_scale", 7.0, float, 1.0, 30.0),
        seed=number("seed", -1, int, -1, 2**32 - 1),
        sampler=opts.get("sampler") or opts.get("sampler_name"),
        base_model=opts.get("base_model")
        or (appearance.base_model if appearance else None),
        batch_size=job.batch_size,
    )


def run_generation(job_id, *, backend=None) -> str:
    """Run one claimed job. Returns completed, retry, failed or skipped."""
    job = ContentGeneration.objects.filter(pk=job_id, status=S.PROCESSING).first()
    if job is None:
        return "skipped"  # cancelled (or taken over) before it started
    started = time.monotonic()
    try:
        if job.job_type not in IMAGE_JOBS:
            raise Unsupported(
                f"No generation backend makes {job.job_type} content yet; "
                "only image and batch jobs run."
            )
        request = build_request(job)
        images = (backend or get_backend()).generate_images(request)
        if not images:
            raise GenerationError("The backend returned no image.")
    except GenerationError as exc:
        return _failed(job, exc.message, retryable=exc.retryable)
    elapsed = time.monotonic() - started
    files = _write_files(job, images)
    return _complete(job, request, images, files, elapsed)


def _write_files(job, images: list[GeneratedImage]) -> list[str]:
    folder = Path("generated") / str(job.character_id)
    (Path(settings.MEDIA_ROOT) / folder).mkdir(parents=True, exist_ok=True)
    paths = []
    for n, image in enumerate(images, start=1):
        relative = folder / f"{job.pk}-{n}.{image.extension}"
        (Path(settings.MEDIA_ROOT) / relative).write_bytes(image.data)
        paths.append(str(relative))
    return paths


def _complete(job, request, images, files, elapsed: float) -> str:
    now = timezone.now()
    seconds = max(0, round(elapsed))
    category = (job.generation_settings or {}).get("content_category")
    with transaction.atomic():
        # still ours? (not cancelled, not taken over after an expired lease)
        locked = (
            ContentGeneration.objects.filter(pk=job.pk, status=S.PROCESSING)
            .select_for_update()
            .first()
        )
        if locked is None:
            _remove(files)
            return "skipped"
        rows = Content.objects.bulk_create(
            [
                Content(
                    character_id=job.character_id,
                    content_type=Content.ContentType.IMAGE,
                    content_category=category if isinstance(category, str) else None,
                    file_path=path,
                    file_size=len(image.data),
                    width=image.width,
                    height=image.height,
                    mime_type=image.mime_type,
                    prompt=request.prompt,
                    negative_prompt=request.negative_prompt or None,
                    generation_settings={
                        **request.settings_record(),
                        "generation_id": str(job.pk),
                    },
                    generation_time_seconds=seconds,
                    seed=image.seed,
                )
                for path, image in zip(files, images, strict=True)
            ]
        )
        ContentGeneration.objects.filter(pk=job.pk).update(
            status=S.COMPLETED,
            generated_content_ids=[c.pk for c in rows],
            success_count=len(rows),
            failure_count=max(0, job.batch_size - len(rows)),
            completed_at=now,
            duration_seconds=max(0, round((now - locked.started_at).total_seconds())),
            locked_until=None,
            error_message=None,
        )
        emit(
            "generation_completed",
            {
                job.character_id: {
                    "generation_id": str(job.pk),
                    "content_ids": [str(c.pk) for c in rows],
                }
            },
        )
    logger.info("generation %s made %d image(s)", job.pk, len(rows))
    return "completed"


def _remove(files: list[str]) -> None:
    for path in files:
        (Path(settings.MEDIA_ROOT) / path).unlink(missing_ok=True)


def _failed(job, message: str, *, retryable: bool) -> str:
    attempt = job.retry_count + 1
    mine = ContentGeneration.objects.filter(pk=job.pk, status=S.PROCESSING)
    if retryable and attempt <= job.max_retries:
        delay = min(
            settings.GENERATION_RETRY_MAX_SECONDS,
            settings.GENERATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
        )
        mine.update(
            status=S.PENDING,
            retry_count=F("retry_count") + 1,
            started_at=None,
            # not before: the backoff (claims skip pending jobs leased ahead)
            locked_until=timezone.now() + dt.timedelta(seconds=delay),
            error_message=(
                f"Attempt {attempt} failed, retrying in {delay} s: {message}"[:2000]
            ),
        )
        return "retry"
    now = timezone.now()
    if retryable:
        message = f"Gave up after {job.max_retries} retries: {message}"
    mine.update(
        status=S.FAILED,
        failure_count=job.batch_size,
        completed_at=now,
        duration_seconds=max(0, round((now - job.started_at).total_seconds()))
        if job.started_at
        else None,
        locked_until=None,
        error_message=message[:2000],
    )
    logger.warning(
        "generation %s failed: %s",
        job.pk,
        message,
        extra={"character_id": job.character_id},
    )
    return "failed"


def process_generation_queue(
    *, batch: int = 5, time_budget: float = 50.0, backend=None
) -> int:
    """Claim and run jobs until none are left or the budget is spent."""
    deadline = time.monotonic() + time_budget
    done = 0
    while time.monotonic() < deadline:
        ids = claim_generations(limit=batch)
        if not ids:
            break
        for job_id in ids:
            if run_generation(job_id, backend=backend) == "completed":
                done += 1
    return done
