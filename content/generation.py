"""The content generation queue, on the queue machine (config/workqueue.py).

1. The claim takes pending jobs by priority (1 first), then oldest first,
   through the partial index idx_generations_pending (a job waiting out its
   retry backoff carries a "not before" in locked_until), plus 'processing'
   jobs whose lease ran out (a worker died).
2. `run_generation` journals the attempt (`attempt_started_at`, started_at),
   builds the request from the job and the character's appearance, calls the
   backend, writes the files under MEDIA_ROOT and, in one transaction,
   creates the content rows and completes the job, but only if this worker
   still holds it (a job cancelled meanwhile keeps nothing).
3. A job taken in doubt (its earlier attempt began and its worker stopped) has
   lost whatever that attempt drew: it counts as a failed attempt and is drawn
   again after the backoff, within max_retries; the message names the
   interrupted attempt. A job is started only when the drain's budget can fit
   the backend's timeout.
4. Each job type has its backend (content.backends.backend_for): a video job
   without a video-capable backend, or an appearance whose face settings
   cannot be used, fails at once, before any attempt begins. The appearance's
   face reference, method, weight and LoRA go with the request.
5. A job with `"write_caption": true` in its generation_settings (copied from
   its rule's) asks the text queue for a caption of each content it made.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from characters.models import CharacterAppearance
from config.workqueue import Claimed, Drain, WorkQueue, fail_on_error
from content import captions
from content.backends import (
    GeneratedImage,
    GenerationBackend,
    GenerationError,
    GenerationRequest,
    Unsupported,
    backend_for,
)
from content.faces import FaceError, face_reference, lora_term
from content.models import Content, ContentGeneration
from logs.events import emit

logger = logging.getLogger(__name__)
S = ContentGeneration.Status
IMAGE_JOBS = (ContentGeneration.JobType.IMAGE, ContentGeneration.JobType.BATCH)
VIDEO = ContentGeneration.JobType.VIDEO


QUEUE = WorkQueue(
    ContentGeneration,
    waiting=S.PENDING,
    processing=S.PROCESSING,
    order_by=("priority", "created_at"),
    lease_seconds=lambda: settings.GENERATION_LEASE_SECONDS,
    backoff=lambda: (
        settings.GENERATION_RETRY_BASE_SECONDS,
        settings.GENERATION_RETRY_MAX_SECONDS,
    ),
)


def claim_generations(*, limit: int = 5, now=None) -> list[uuid.UUID]:
    return [item.id for item in QUEUE.claim(limit=limit, now=now)]


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

    try:
        face = face_reference(appearance)
        lora = lora_term(appearance, opts.get("lora_weight"))
    except FaceError as exc:
        raise (GenerationError if exc.retryable else Unsupported)(
            f"The character's appearance: {exc.message}"
        ) from exc
    video = job.job_type == VIDEO
    return GenerationRequest(
        prompt=prompt,
        negative_prompt=", ".join(n for n in negatives if n),
        width=number("width", 832 if video else 512, int, 64, 2048),
        height=number("height", 480 if video else 768, int, 64, 2048),
        steps=number("steps", 30, int, 1, 150),
        cfg_scale=number("cfg_scale", 7.0, float, 1.0, 30.0),
        seed=number("seed", -1, int, -1, 2**32 - 1),
        sampler=opts.get("sampler") or opts.get("sampler_name"),
        base_model=opts.get("base_model")
        or (appearance.base_model if appearance else None),
        batch_size=1 if video else job.batch_size,
        kind="video" if video else "image",
        job_type=job.job_type,
        face=face,
        lora=lora,
        frames=number("frames", 49, int, 1, 1000),
        fps=number("fps", 16, int, 1, 60),
    )


class _Batch:
    """One backend per job type for a batch (made when first needed)."""

    def __init__(self, items: list[Claimed], backend: GenerationBackend | None = None):
        self.default = backend
        self.backends: dict[str, GenerationBackend] = {}
        self.types = dict(
            ContentGeneration.objects.filter(pk__in=[i.id for i in items]).values_list(
                "pk", "job_type"
            )
        )

    def backend(self, job_type: str) -> GenerationBackend:
        """The job type's backend (Unsupported when there is none)."""
        kind = VIDEO if job_type == VIDEO else "image"
        if kind not in self.backends:
            self.backends[kind] = backend_for(job_type, self.default)
        return self.backends[kind]

    def call_timeout(self, item: Claimed) -> float:
        try:
            return float(self.backend(self.types.get(item.id, "image")).call_timeout)
        except Unsupported:
            return 0.0  # fails at once, before any call

    def __call__(self, item: Claimed) -> str:
        return _run(item, self)


def run_generation(job_id, *, backend=None) -> str:
    """Run one job this worker holds (claimed). Returns completed, retry,
    failed or skipped."""
    job = ContentGeneration.objects.filter(pk=job_id, status=S.PROCESSING).first()
    if job is None or job.locked_until is None:
        return "skipped"  # cancelled (or taken over) before it started
    item = Claimed(job.pk, job.locked_until, job.attempt_started_at, job.attempt_count)
    return _run(item, _Batch([item], backend))


def _run(item: Claimed, batch: _Batch) -> str:
    job = QUEUE.mine(item).first()
    if job is None:
        return "skipped"  # cancelled (or taken over) before it started
    if item.in_doubt_since is not None:
        return _failed(job, item, item.doubt("the result"), retryable=True)
    # what cannot work at all fails at once, before an attempt begins
    try:
        backend = batch.backend(job.job_type)
        request = build_request(job)
    except GenerationError as exc:
        return _failed(job, item, exc.message, retryable=exc.retryable)
    now = timezone.now()
    if not QUEUE.begin(item, started_at=now, completed_at=None, now=now):
        return "skipped"
    job.started_at = now
    started = time.monotonic()
    try:
        images = backend.generate(request)
        if not images:
            raise GenerationError("The backend returned no file.")
    except GenerationError as exc:
        return _failed(job, item, exc.message, retryable=exc.retryable)
    elapsed = time.monotonic() - started
    files = _write_files(job, images)
    return _complete(job, item, request, images, files, elapsed)


def _write_files(job, images: list[GeneratedImage]) -> list[str]:
    folder = Path("generated") / str(job.character_id)
    (Path(settings.MEDIA_ROOT) / folder).mkdir(parents=True, exist_ok=True)
    paths = []
    for n, image in enumerate(images, start=1):
        relative = folder / f"{job.pk}-{n}.{image.extension}"
        (Path(settings.MEDIA_ROOT) / relative).write_bytes(image.data)
        paths.append(str(relative))
    return paths


def _complete(job, item: Claimed, request, images, files, elapsed: float) -> str:
    now = timezone.now()
    seconds = max(0, round(elapsed))
    category = (job.generation_settings or {}).get("content_category")
    with transaction.atomic():
        # still ours? (not cancelled, not taken over after an expired lease)
        locked = QUEUE.mine(item).select_for_update().first()
        if locked is None:
            _remove(files)
            return "skipped"
        rows = Content.objects.bulk_create(
            [
                Content(
                    character_id=job.character_id,
                    content_type=image.content_type,
                    is_nsfw=job.is_nsfw,
                    duration=image.duration,
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
            attempt_started_at=None,
            error_message=None,
        )
        settings_ = job.generation_settings or {}
        if isinstance(settings_, dict) and settings_.get("write_caption") is True:
            captions.content_caption_jobs(rows)
        emit(
            "generation_completed",
            {
                "generation_id": str(job.pk),
                "content_ids": [str(c.pk) for c in rows],
            },
            character_id=job.character_id,
        )
    logger.info("generation %s made %d file(s)", job.pk, len(rows))
    return "completed"


def _remove(files: list[str]) -> None:
    for path in files:
        (Path(settings.MEDIA_ROOT) / path).unlink(missing_ok=True)


def _failed(job, item: Claimed, message: str, *, retryable: bool) -> str:
    attempt = job.retry_count + 1
    if retryable and attempt <= job.max_retries:
        QUEUE.retry_later(item, attempt=attempt, message=message, started_at=None)
        return "retry"
    now = timezone.now()
    if retryable:
        message = f"Gave up after {job.max_retries} retries: {message}"
    started_at = job.started_at or now
    with transaction.atomic():
        failed = QUEUE.finish(
            item,
            status=S.FAILED,
            failure_count=job.batch_size,
            started_at=started_at,
            completed_at=now,
            duration_seconds=max(0, round((now - started_at).total_seconds())),
            error_message=message[:2000],
        )
        if failed:
            emit(
                "generation_failed",
                {"generation_id": str(job.pk), "error": message[:2000]},
                character_id=job.character_id,
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
    return Drain(
        QUEUE,
        budget=time_budget,
        batch=batch,
        prepare=lambda items: _Batch(items, backend),
        on_error=fail_on_error(QUEUE, _failed),
    ).run()["completed"]
