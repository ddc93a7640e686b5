"""Generated media (content) and the generation jobs that produce it."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models.functions import Upper

from characters.models import Character
from config.fields import (
    attempt_journal,
    choices_check,
    created_at,
    defaulted,
    min_check,
    non_negative,
    range_check,
    unit_interval,
    updated_at,
    uuid_pk,
)
from content.generation_settings import validate_generation_settings


class ContentContentType(models.TextChoices):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    AUDIO = "audio"


class ContentApprovalStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


VISUAL_CONTENT_TYPES = (ContentContentType.IMAGE.value, ContentContentType.VIDEO.value)


class Content(models.Model):
    """One generated file (image, video, text or audio) in a character's library."""

    ContentType = ContentContentType

    ApprovalStatus = ContentApprovalStatus

    VISUAL_TYPES = VISUAL_CONTENT_TYPES

    id = uuid_pk()
    character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="content", db_index=False
    )
    content_type = models.CharField(max_length=20, choices=ContentType.choices)
    content_category = models.CharField(max_length=50, null=True, blank=True)
    is_nsfw = models.BooleanField(**defaulted(False))
    file_url = models.TextField(null=True, blank=True, validators=[URLValidator()])
    file_path = models.TextField()
    thumbnail_url = models.TextField(null=True, blank=True, validators=[URLValidator()])
    thumbnail_path = models.TextField(null=True, blank=True)
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
        self.is_approved = self.approval_status == self.ApprovalStatus.APPROVED


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
