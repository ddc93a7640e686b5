"""Generated media (content) and the generation jobs that produce it."""

from collections.abc import Collection

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models.functions import Upper

from characters.models import Character, adult_only_message, is_adult
from config.fields import (
    attempt_journal,
    choices_check,
    created_at,
    decimal_range,
    defaulted,
    min_check,
    non_negative,
    range_check,
    unit_interval,
    updated_at,
    uuid_pk,
)
from content.generation_settings import validate_generation_settings
from content.media_paths import validate_media_path


class ContentContentType(models.TextChoices):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    AUDIO = "audio"


class ContentApprovalStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ContentCaptionStatus(models.TextChoices):
    """The review of a content's caption, apart from its media's approval."""

    NONE = "none", "No caption"
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    FLAGGED = "flagged", "Held by moderation"


VISUAL_CONTENT_TYPES = (ContentContentType.IMAGE.value, ContentContentType.VIDEO.value)

# Stands where a rule's {ai_caption} goes in a scheduled post's caption while
# the persona writes it (content.captions); never published (the publish step).
AI_CAPTION_MARKER = "[AI caption being written]"


def nsfw_clean(obj: models.Model) -> None:
    """NSFW content and NSFW generation jobs are adult-only."""
    if getattr(obj, "is_nsfw", False) and getattr(obj, "character_id", None):
        age = obj.character.age  # type: ignore[attr-defined]
        if not is_adult(age):
            raise ValidationError({"is_nsfw": adult_only_message(age)})


class Content(models.Model):
    """One generated file (image, video, text or audio) in a character's library."""

    ContentType = ContentContentType

    ApprovalStatus = ContentApprovalStatus

    CaptionStatus = ContentCaptionStatus

    VISUAL_TYPES = VISUAL_CONTENT_TYPES

    id = uuid_pk()
    character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="content", db_index=False
    )
    content_type = models.CharField(max_length=20, choices=ContentType.choices)
    content_category = models.CharField(max_length=50, null=True, blank=True)
    is_nsfw = models.BooleanField(**defaulted(False))
    file_url = models.TextField(null=True, blank=True, validators=[URLValidator()])
    # relative to MEDIA_ROOT; resolved through content.media_paths before any read
    file_path = models.TextField(validators=[validate_media_path])
    thumbnail_url = models.TextField(null=True, blank=True, validators=[URLValidator()])
    thumbnail_path = models.TextField(
        null=True, blank=True, validators=[validate_media_path]
    )
    file_size = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    width = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    height = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    duration = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)]
    )
    mime_type = models.CharField(max_length=100, null=True, blank=True)
    prompt = models.TextField(null=True, blank=True)
    negative_prompt = models.TextField(null=True, blank=True)
    generation_settings = models.JSONField(null=True, blank=True)
    generation_time_seconds = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)]
    )
    seed = models.BigIntegerField(null=True, blank=True)
    quality_score = unit_interval(None, null=True, blank=True)
    is_approved = models.BooleanField(**defaulted(False), editable=False)
    approval_status = models.CharField(
        max_length=20,
        choices=ApprovalStatus.choices,
        **defaulted(ApprovalStatus.PENDING),
    )
    rejection_reason = models.TextField(null=True, blank=True)
    times_used = non_negative(editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    tags = ArrayField(models.TextField(), null=True, blank=True)
    folder_path = models.TextField(null=True, blank=True)
    # Deviation: the caption and hashtags the persona wrote for this content,
    # reviewed apart from the media. A change of text after approval puts it
    # back to 'pending' (trigger content_caption_review, content 0004).
    caption = models.TextField(null=True, blank=True)
    hashtags = ArrayField(models.TextField(), null=True, blank=True)
    caption_status = models.CharField(
        max_length=20,
        choices=CaptionStatus.choices,
        **defaulted(CaptionStatus.NONE),
        editable=False,
    )
    # why the caption was flagged by moderation or rejected by a person
    caption_note = models.TextField(null=True, blank=True, editable=False)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "content"
        verbose_name_plural = "content"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "content_type", ContentContentType, name="content_type_check"
            ),
            choices_check(
                "approval_status", ContentApprovalStatus, name="approval_status_check"
            ),
            range_check("quality_score", 0, 1, table="content", nullable=True),
            min_check("times_used", 0, table="content"),
            models.CheckConstraint(
                condition=models.Q(file_size__isnull=True) | models.Q(file_size__gt=0),
                name="file_size_check",
                violation_error_message="file_size must be greater than 0.",
            ),
            # Added: dimensions and durations are positive when present.
            min_check("width", 1, table="content", nullable=True),
            min_check("height", 1, table="content", nullable=True),
            min_check("duration", 0, table="content", nullable=True),
            min_check("generation_time_seconds", 0, table="content", nullable=True),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        content_type__in=VISUAL_CONTENT_TYPES,
                        width__isnull=False,
                        height__isnull=False,
                    )
                    | ~models.Q(content_type__in=VISUAL_CONTENT_TYPES)
                ),
                name="dimensions_check",
                violation_error_message="Images and videos need a width and a height.",
            ),
            # Deviation: is_approved is derived from approval_status.
            models.CheckConstraint(
                condition=(
                    models.Q(is_approved=True, approval_status="approved")
                    | (
                        models.Q(is_approved=False)
                        & ~models.Q(approval_status="approved")
                    )
                ),
                name="content_approval_consistency_check",
                violation_error_message="is_approved must match approval_status.",
            ),
            choices_check(
                "caption_status", ContentCaptionStatus, name="caption_status_check"
            ),
            # Deviation: a caption's review state exists only with a caption.
            models.CheckConstraint(
                condition=(
                    (models.Q(caption__isnull=True) | models.Q(caption=""))
                    & models.Q(caption_status="none")
                )
                | (
                    models.Q(caption__isnull=False)
                    & ~models.Q(caption="")
                    & ~models.Q(caption_status="none")
                ),
                name="content_caption_status_consistency_check",
                violation_error_message=(
                    "A caption's review status is 'none' exactly when there is "
                    "no caption."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_content_character"),
            models.Index(fields=["content_type"], name="idx_content_type"),
            models.Index(
                fields=["content_category"],
                name="idx_content_category",
                condition=models.Q(content_category__isnull=False),
            ),
            models.Index(
                fields=["is_approved"],
                name="idx_content_approved",
                condition=models.Q(is_approved=True),
            ),
            models.Index(
                fields=["is_nsfw"],
                name="idx_content_nsfw",
                condition=models.Q(is_nsfw=True),
            ),
            models.Index(fields=["-created_at"], name="idx_content_created"),
            models.Index(
                fields=["-quality_score"],
                name="idx_content_quality",
                condition=models.Q(quality_score__isnull=False),
            ),
            GinIndex(fields=["tags"], name="idx_content_tags"),
            models.Index(fields=["approval_status"], name="idx_content_status"),
            # Added: the document's query pattern 3 (character, type, approved,
            # newest first) as one composite index.
            models.Index(
                fields=["character", "content_type", "-created_at"],
                name="idx_content_char_type_created",
                condition=models.Q(is_approved=True),
            ),
            GinIndex(
                OpClass(Upper("prompt"), name="gin_trgm_ops"),
                name="trgm_content_prompt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_content_type_display()} {self.file_path}"

    def clean(self):
        super().clean()
        if self.content_type in self.VISUAL_TYPES:
            errors = {
                f: "Images and videos need a width and a height."
                for f in ("width", "height")
                if getattr(self, f) is None
            }
            if errors:
                raise ValidationError(errors)
        nsfw_clean(self)
        self.is_approved = self.approval_status == self.ApprovalStatus.APPROVED
        # the database trigger does the same for every write (plain SQL too)
        if not (self.caption or "").strip():
            self.caption_status = self.CaptionStatus.NONE
        elif self.caption_status == self.CaptionStatus.NONE:
            self.caption_status = self.CaptionStatus.PENDING

    @property
    def caption_approved(self) -> bool:
        return bool(self.caption) and self.caption_status == (
            ContentCaptionStatus.APPROVED
        )


class ContentGenerationJobType(models.TextChoices):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    AUDIO = "audio"
    BATCH = "batch"


class ContentGenerationStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ContentGeneration(models.Model):
    """A queued or finished job that generates content for a character."""

    JobType = ContentGenerationJobType

    Status = ContentGenerationStatus
    # being generated or completed: a record of what was asked and drawn
    RECORD_STATUSES = {
        ContentGenerationStatus.PROCESSING: "being generated",
        ContentGenerationStatus.COMPLETED: "completed",
    }

    id = uuid_pk()
    character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="generations", db_index=False
    )
    job_type = models.CharField(max_length=50, choices=JobType.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.PENDING)
    )
    priority = models.IntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10)], **defaulted(5)
    )
    prompt = models.TextField()
    negative_prompt = models.TextField(null=True, blank=True)
    # {} is a valid job ("the defaults"): blank, never NULL
    generation_settings = models.JSONField(
        default=dict, blank=True, validators=[validate_generation_settings]
    )
    # Deviation: the job draws adult-only (NSFW) content; its results are
    # marked NSFW. Only for adult characters (see Content.is_nsfw).
    is_nsfw = models.BooleanField(**defaulted(False))
    batch_size = models.IntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)], **defaulted(1)
    )
    generated_content_ids = ArrayField(
        models.UUIDField(), null=True, blank=True, editable=False
    )
    success_count = non_negative(editable=False)
    failure_count = non_negative(editable=False)
    error_message = models.TextField(null=True, blank=True, editable=False)
    retry_count = non_negative(editable=False)
    max_retries = models.IntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(10)], **defaulted(3)
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    duration_seconds = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)], editable=False
    )
    # Deviation: a worker's lease on a 'processing' job; a job whose lease ran
    # out was abandoned by a dead worker and is taken again.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Deviation: the attempt journal (config/workqueue.py).
    attempt_started_at, attempt_count = attempt_journal()
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "content_generations"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "status",
                ContentGenerationStatus,
                name="content_generations_status_check",
            ),
            choices_check("job_type", ContentGenerationJobType, name="job_type_check"),
            range_check("priority", 1, 10, table="content_generations"),
            range_check("batch_size", 1, 100, table="content_generations"),
            min_check("success_count", 0, table="content_generations"),
            min_check("failure_count", 0, table="content_generations"),
            min_check("retry_count", 0, table="content_generations"),
            range_check("max_retries", 0, 10, table="content_generations"),
            min_check(
                "duration_seconds", 0, table="content_generations", nullable=True
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(started_at__isnull=True, completed_at__isnull=True)
                    | models.Q(started_at__isnull=False, completed_at__isnull=True)
                    | models.Q(
                        started_at__isnull=False,
                        completed_at__gte=models.F("started_at"),
                    )
                ),
                name="timing_check",
                violation_error_message=(
                    "completed_at needs started_at and cannot be before it."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_generations_character"),
            models.Index(fields=["status"], name="idx_generations_status"),
            models.Index(
                fields=["priority", "created_at"], name="idx_generations_priority"
            ),
            models.Index(fields=["job_type"], name="idx_generations_job_type"),
            models.Index(fields=["-created_at"], name="idx_generations_created"),
            # Polled by the generation queue (content.tasks.process_generation_queue).
            models.Index(
                fields=["priority", "created_at"],
                name="idx_generations_pending",
                condition=models.Q(status="pending"),
            ),
            GinIndex(
                OpClass(Upper("prompt"), name="gin_trgm_ops"),
                name="trgm_generations_prompt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_job_type_display()} generation {self.id}"

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        """{} is a valid job (blank), None is not: the column is NOT NULL, and
        a blank field's own check lets None through."""
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if self.generation_settings is None and "generation_settings" not in (
            exclude or ()
        ):
            field = ContentGeneration._meta.get_field("generation_settings")
            message = getattr(field, "error_messages", {})["null"]
            errors.setdefault("generation_settings", []).append(
                ValidationError(message, code="null")
            )
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        super().clean()
        nsfw_clean(self)


class TextGenerationPurpose(models.TextChoices):
    CONTENT_CAPTION = "content_caption", "Caption for content"
    POST_CAPTION = "post_caption", "Caption for a scheduled post"
    ENGAGEMENT = "engagement", "Comment or reply"
    VOICE_PREVIEW = "voice_preview", "Voice preview"


class TextGenerationStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    HELD = "held", "Held by moderation"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class TextGeneration(models.Model):
    """A queued or finished job that writes text in a character's voice.

    Deviation: a table of its own, not job_type 'text' on content_generations:
    its targets (a content's caption, a scheduled post's caption, an engagement
    action's comment) are rows that exist already, it records the rendered
    prompt, the model and the token usage, and its calls take seconds where an
    image takes minutes, so it has its own queue and budget (content.textgen).
    """

    Purpose = TextGenerationPurpose

    Status = TextGenerationStatus

    id = uuid_pk()
    character = models.ForeignKey(
        Character,
        on_delete=models.CASCADE,
        related_name="text_generations",
        db_index=False,
    )
    purpose = models.CharField(max_length=30, choices=Purpose.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.PENDING)
    )
    priority = models.IntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10)], **defaulted(5)
    )
    # the content a caption is written for (content_caption), or shown to the
    # writer (post_caption)
    content = models.ForeignKey(
        Content,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="text_generations",
        db_index=False,
    )
    # whose limits the text must fit (caption length, hashtag count)
    platform = models.CharField(max_length=50, null=True, blank=True)
    # what the prompt needs besides the character: the text being answered,
    # the caption frame of a post, the limits, the number of samples
    context = models.JSONField(default=dict, db_default={}, blank=True)
    # the rendered prompt, kept with what it produced
    system_prompt = models.TextField(null=True, blank=True, editable=False)
    user_prompt = models.TextField(null=True, blank=True, editable=False)
    temperature = decimal_range(None, "0", "2", null=True, blank=True)
    result_text = models.TextField(null=True, blank=True, editable=False)
    result_hashtags = ArrayField(
        models.TextField(), null=True, blank=True, editable=False
    )
    # voice previews: [{"caption": ..., "hashtags": [...]}, ...]
    samples = models.JSONField(null=True, blank=True, editable=False)
    moderation_reason = models.TextField(null=True, blank=True, editable=False)
    backend = models.CharField(max_length=100, null=True, blank=True, editable=False)
    model = models.CharField(max_length=200, null=True, blank=True, editable=False)
    prompt_tokens = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)], editable=False
    )
    completion_tokens = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)], editable=False
    )
    duration_ms = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)], editable=False
    )
    error_message = models.TextField(null=True, blank=True, editable=False)
    retry_count = non_negative(editable=False)
    max_retries = models.IntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(10)], **defaulted(3)
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # a worker's lease on a 'processing' job; on a 'pending' one, "not before"
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempt_started_at, attempt_count = attempt_journal()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "text_generations"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "purpose", TextGenerationPurpose, name="text_generations_purpose_check"
            ),
            choices_check(
                "status", TextGenerationStatus, name="text_generations_status_check"
            ),
            range_check("priority", 1, 10, table="text_generations"),
            range_check("max_retries", 0, 10, table="text_generations"),
            range_check("temperature", 0, 2, table="text_generations", nullable=True),
            min_check("retry_count", 0, table="text_generations"),
            *(
                min_check(f, 0, table="text_generations", nullable=True)
                for f in ("prompt_tokens", "completion_tokens", "duration_ms")
            ),
            models.CheckConstraint(
                condition=~models.Q(purpose="content_caption")
                | models.Q(content__isnull=False),
                name="text_generations_content_caption_check",
                violation_error_message="A content caption job needs its content.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["completed", "held"])
                | models.Q(completed_at__isnull=False),
                name="text_generations_completed_at_check",
                violation_error_message="A finished text job needs completed_at.",
            ),
        ]
        indexes = [
            # Polled by the text queue (content.tasks.process_text_queue).
            models.Index(
                fields=["priority", "created_at"],
                name="idx_text_generations_pending",
                condition=models.Q(status="pending"),
            ),
            # A character's jobs, newest first (its voice preview, the admin).
            models.Index(
                fields=["character", "-created_at"],
                name="idx_text_generations_character",
            ),
            # ON DELETE CASCADE from content looks jobs up by content_id.
            models.Index(
                fields=["content"],
                name="idx_text_generations_content",
                condition=models.Q(content__isnull=False),
            ),
            models.Index(fields=["status"], name="idx_text_generations_status"),
            # The API's cursor pagination walks jobs by created_at.
            models.Index(fields=["-created_at"], name="idx_text_generations_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {str(self.id)[:8]} ({self.status})"

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)
