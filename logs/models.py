"""Application and audit logs, and the outbox of events."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from characters.models import Character
from config.fields import (
    attempt_journal,
    choices_check,
    created_at,
    defaulted,
    uuid_pk,
)
from content.models import Content
from platforms.models import PlatformAccount, Post


class SystemLogLevel(models.TextChoices):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class SystemLog(models.Model):
    """One log line: an application event, an error or an audit record."""

    Level = SystemLogLevel

    id = uuid_pk()
    log_level = models.CharField(max_length=20, choices=Level.choices)
    component = models.CharField(max_length=100, null=True, blank=True)
    message = models.TextField()
    character = models.ForeignKey(
        Character,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    platform_account = models.ForeignKey(
        PlatformAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    content = models.ForeignKey(
        Content,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    post = models.ForeignKey(
        Post,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    metadata = models.JSONField(null=True, blank=True)
    created_at = created_at()

    class Meta:
        db_table = "system_logs"
        ordering = ["-created_at"]
        constraints = [
            choices_check("log_level", SystemLogLevel, name="log_level_check"),
        ]
        indexes = [
            models.Index(fields=["log_level"], name="idx_logs_level"),
            models.Index(
                fields=["component"],
                name="idx_logs_component",
                condition=models.Q(component__isnull=False),
            ),
            models.Index(
                fields=["character"],
                name="idx_logs_character",
                condition=models.Q(character__isnull=False),
            ),
            models.Index(fields=["-created_at"], name="idx_logs_created"),
            models.Index(
                fields=["-created_at", "log_level"], name="idx_logs_created_level"
            ),
            models.Index(
                fields=["-created_at"],
                name="idx_logs_error",
                condition=models.Q(log_level__in=["error", "critical"]),
            ),
            # Added: ON DELETE SET NULL from accounts, content and posts looks
            # rows up by these columns; without an index each delete scans the table.
            models.Index(
                fields=["platform_account"],
                name="idx_logs_platform_account",
                condition=models.Q(platform_account__isnull=False),
            ),
            models.Index(
                fields=["content"],
                name="idx_logs_content",
                condition=models.Q(content__isnull=False),
            ),
            models.Index(
                fields=["post"],
                name="idx_logs_post",
                condition=models.Q(post__isnull=False),
            ),
            GinIndex(
                OpClass(Upper("message"), name="gin_trgm_ops"), name="trgm_logs_message"
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.log_level}] {self.component or '-'}: {self.message[:80]}"


class EventStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class Event(models.Model):
    """Something that happened, in the outbox until its consumers have it.

    Written by `logs.events.emit` in the producer's transaction (it exists
    exactly when what it reports was committed); drained by the dispatcher
    (logs.outbox) on the queue machine, which hands each batch to the
    consumers named in settings.EVENT_CONSUMERS.
    """

    Status = EventStatus

    id = uuid_pk()
    name = models.CharField(max_length=50)
    # Not a foreign key: an event is a message about the past; it stays
    # readable (and deliverable) after the character is purged, and an insert
    # takes no lock on the characters row.
    character_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict, db_default={})
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.PENDING)
    )
    # the queue machine (config/workqueue.py): a dispatcher's lease while
    # 'processing', "not before" (a retry's backoff) while 'pending'
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempt_started_at, attempt_count = attempt_journal()
    error_message = models.TextField(null=True, blank=True)
    created_at = created_at()

    class Meta:
        db_table = "events"
        ordering = ["-created_at"]
        constraints = [
            choices_check("status", EventStatus, name="events_status_check"),
        ]
        indexes = [
            # Polled by logs.tasks.dispatch_events (the claim's first query:
            # pending events, oldest first).
            models.Index(
                fields=["created_at"],
                name="idx_events_pending",
                condition=models.Q(status="pending"),
            ),
            # logs.tasks.dispatch_events again: the claim's second query
            # (a dispatcher died holding these).
            models.Index(
                fields=["locked_until"],
                name="idx_events_processing",
                condition=models.Q(status="processing"),
            ),
            # The admin's newest-first list and the retention of done events
            # (logs.tasks.purge_old_logs), oldest first.
            models.Index(fields=["created_at"], name="idx_events_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"
