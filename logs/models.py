"""Application and audit logs, and the outbox of events."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models.functions import Upper
from django_cryptography.fields import encrypt

from characters.models import Character
from config.fields import (
    attempt_journal,
    choices_check,
    created_at,
    defaulted,
    non_negative,
    updated_at,
    uuid_pk,
)
from content.models import Content
from logs.event_names import (
    NOTIFIABLE_CHOICES,
    validate_notifiable,
)
from logs.webhook_rules import validate_webhook_url
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
        # the audit trail (audit_* tables): Administrators only (config/permissions)
        permissions = [("read_audit_trail", "Can read the audit trail")]
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


# --- Notifications: outgoing webhooks and e-mail ------------------------------


class WebhookFormat(models.TextChoices):
    GENERIC = "generic", "Generic JSON"
    SLACK = "slack", "Slack-compatible"
    DISCORD = "discord", "Discord-compatible"


class Webhook(models.Model):
    """An outgoing webhook: where the chosen events are sent, signed."""

    Format = WebhookFormat

    id = uuid_pk()
    name = models.CharField(max_length=100, unique=True)
    # Slack's and Discord's URLs carry their token in the path: pages, the
    # API and logs show logs.webhook_rules.masked_url, never this in full.
    url = models.CharField(
        "URL",
        max_length=2000,
        validators=[validate_webhook_url],
        help_text="http:// or https://; the receiver's address.",
    )
    events = ArrayField(
        models.CharField(max_length=50, choices=NOTIFIABLE_CHOICES),
        validators=[validate_notifiable],
        help_text="The events sent to this webhook.",
    )
    # bytea holding django-cryptography's token (like platform_accounts.
    # auth_data); write-only in the admin and the API.
    secret = encrypt(
        models.CharField(max_length=200, validators=[MinLengthValidator(16)])
    )
    format = models.CharField(
        max_length=20, choices=Format.choices, **defaulted(Format.GENERIC)
    )
    is_active = models.BooleanField(**defaulted(True))
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "webhooks"
        ordering = ["name"]
        constraints = [
            choices_check("format", WebhookFormat, name="webhooks_format_check"),
            models.CheckConstraint(
                condition=models.Q(events__len__gt=0),
                name="webhooks_events_check",
                violation_error_message="Choose at least one event.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event (or a test) for one webhook: a queue row and its log line."""

    Status = WebhookDeliveryStatus

    id = uuid_pk()
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # None for "Send test"; an event is delivered once per webhook
    # (webhook_deliveries_once_per_event) however often it is dispatched.
    event_id = models.UUIDField(null=True, blank=True)
    event_name = models.CharField(max_length=50)
    # the JSON sent, the same bytes on every attempt (signed per attempt)
    body = models.TextField()
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.PENDING)
    )
    # the queue machine (config/workqueue.py): a sender's lease while
    # 'processing', "not before" (the backoff) while 'pending'
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempt_started_at, attempt_count = attempt_journal()
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # the start of the receiver's answer, scrubbed (logs.scrub)
    response_excerpt = models.TextField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    created_at = created_at()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            choices_check(
                "status",
                WebhookDeliveryStatus,
                name="webhook_deliveries_status_check",
            ),
            models.UniqueConstraint(
                fields=["webhook", "event_id"],
                name="webhook_deliveries_once_per_event",
            ),
        ]
        indexes = [
            # Polled by logs.tasks.deliver_webhooks (the claim's first query).
            models.Index(
                fields=["created_at"],
                name="idx_webhook_deliveries_pending",
                condition=models.Q(status="pending"),
            ),
            # logs.tasks.deliver_webhooks again: expired leases.
            models.Index(
                fields=["locked_until"],
                name="idx_webhook_deliveries_proc",
                condition=models.Q(status="processing"),
            ),
            # The delivery log, newest first (admin, API), and its retention.
            models.Index(fields=["-created_at"], name="idx_webhook_deliveries_at"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} ({self.status})"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class NotificationDelivery(models.TextChoices):
    IMMEDIATE = "immediate"
    DIGEST = "digest"


class Notification(models.Model):
    """One event to tell one user by e-mail: at once, or in their digest."""

    Status = NotificationStatus
    Delivery = NotificationDelivery

    id = uuid_pk()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    event_id = models.UUIDField()
    event_name = models.CharField(max_length=50)
    character_id = models.UUIDField(null=True, blank=True)
    # the line the e-mail says, written when the event was handled (the
    # outbox keeps events for days only)
    summary = models.TextField()
    occurred_at = models.DateTimeField()
    delivery = models.CharField(max_length=20, choices=Delivery.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.PENDING)
    )
    attempt_count = non_negative(editable=False)
    error_message = models.TextField(null=True, blank=True)
    created_at = created_at()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "status", NotificationStatus, name="notifications_status_check"
            ),
            choices_check(
                "delivery", NotificationDelivery, name="notifications_delivery_check"
            ),
            models.UniqueConstraint(
                fields=["user", "event_id"], name="notifications_once_per_event"
            ),
        ]
        indexes = [
            # Read by logs.tasks.send_notifications and the digest: a user's
            # waiting notifications, oldest first.
            models.Index(
                fields=["delivery", "user", "created_at"],
                name="idx_notifications_pending",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["-created_at"], name="idx_notifications_at"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} for user {self.user_id} ({self.status})"


# --- The audit trail ------------------------------------------------------------
# Who changed what, when, and through which door, recorded by PostgreSQL
# triggers (django-pghistory), so queryset.update(), bulk writes and plain SQL
# are recorded too. One event table per tracked model (audit_*), never
# system_logs: log retention does not touch them (AUDIT_RETENTION_DAYS does,
# and keeps them forever by default). The context (door, user, request or task)
# is copied into each row (pgh_context); a change made outside the application
# (psql) has none, and its database role and client are in pgh_db_session.
# logs/audit.py reads them; README and docs/operations.md say how.

import pghistory  # noqa: E402
from pghistory.models import Event as HistoryEvent  # noqa: E402

from characters.models import CharacterAppearance, CharacterPersonality  # noqa: E402
from platforms.models import ScheduledPost  # noqa: E402


class AuditEvent(HistoryEvent):
    """Base of every audit event table: the database session that made the change."""

    pgh_db_session = models.TextField(
        db_default=models.Func(
            template=(
                "(current_user || ' via ' || coalesce(nullif(current_setting("
                "'application_name', true), ''), '?') || ' from ' || "
                "coalesce(host(inet_client_addr()), 'local socket'))"
            ),
            output_field=models.TextField(),
        ),
        editable=False,
    )

    class Meta:
        abstract = True


def changed_sql(model, *fields) -> str:
    """SQL: any of these columns changed (IS DISTINCT FROM) in a row trigger."""
    columns = [model._meta.get_field(name).column for name in fields]
    return " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c in columns)


def changed(model, *fields):
    # parenthesised: pgtrigger writes the condition as WHEN <condition>
    return pghistory.Condition(f"({changed_sql(model, *fields)})")


def audit_model(model, *trackers, table: str, short: str, fields=None):
    return pghistory.track(
        *trackers,
        fields=fields,
        app_label="logs",
        model_name=f"{model.__name__}Event",
        base_model=AuditEvent,
        context_field=pghistory.ContextJSONField(),
        # indexed with pgh_created_at below, not on its own
        obj_field=pghistory.ObjForeignKey(db_index=False),
        meta={
            "db_table": table,
            "indexes": [
                models.Index(
                    fields=["pgh_obj", "-pgh_created_at"], name=f"idx_audit_{short}_obj"
                ),
                models.Index(fields=["-pgh_created_at"], name=f"idx_audit_{short}_at"),
            ],
        },
    )(model)


def _row_events():
    # fresh trackers per model: pghistory fills a tracker in for its model
    return pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent()


audit_model(Character, *_row_events(), table="audit_characters", short="char")
audit_model(
    CharacterPersonality,
    *_row_events(),
    table="audit_character_personalities",
    short="pers",
)
audit_model(
    CharacterAppearance,
    *_row_events(),
    table="audit_character_appearances",
    short="appear",
)

# Platform accounts: never the credentials (only that they changed; the key
# names come with the context); the synced counters change all day long and
# are not what an auditor asks about.
_ACCOUNT_SYNCED = (
    "follower_count",
    "following_count",
    "post_count",
    "last_synced_at",
    "last_activity_at",
    "rate_limit_remaining",
    "rate_limit_reset_at",
    "last_rate_limit_hit_at",
    "updated_at",
)
# Literal lists, not "every field but": a field added later (a new secret, the
# engine's bookkeeping) is not recorded until someone decides it should be.
_ACCOUNT_SETTINGS = [
    "character",
    "platform",
    "account_username",
    "account_id",
    "account_url",
    "auth_type",
    "is_connected",
    "connection_status",
    "auto_posting_enabled",
    "auto_engagement_enabled",
    "posting_frequency",
    "engagement_frequency",
]
audit_model(
    PlatformAccount,
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(condition=changed(PlatformAccount, *_ACCOUNT_SETTINGS)),
    pghistory.UpdateEvent(
        "credentials", condition=changed(PlatformAccount, "auth_data")
    ),
    pghistory.DeleteEvent(),
    table="audit_platform_accounts",
    short="acct",
    fields=["id", *_ACCOUNT_SETTINGS, *_ACCOUNT_SYNCED, "created_at"],
)

# Rules: tracked in automation/models.py (with these helpers), so that this
# module does not import the automation app (whose engine logs here).

# Content: the approval decisions only (the library itself is the generator's).
audit_model(
    Content,
    pghistory.UpdateEvent(
        "approval",
        condition=changed(Content, "approval_status", "rejection_reason", "is_nsfw"),
    ),
    table="audit_content_approvals",
    short="approval",
    fields=[
        "character",
        "approval_status",
        "is_approved",
        "rejection_reason",
        "is_nsfw",
    ],
)

# Scheduled posts: created, deleted, and every change a person (or a retry)
# makes; not the publisher's claim/lease bookkeeping (processing, published).
_SCHEDULE_EDITS = (
    "scheduled_at",
    "timezone",
    "content",
    "additional_content_ids",
    "caption",
    "hashtags",
    "post_type",
    "platform_account",
    "max_retries",
    "character",
)
audit_model(
    ScheduledPost,
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(
        condition=pghistory.Condition(
            f"(({changed_sql(ScheduledPost, *_SCHEDULE_EDITS)}) OR "
            # cancelled, or taken out of failed/cancelled (retry, reschedule)
            "(OLD.status IS DISTINCT FROM NEW.status AND (NEW.status = 'cancelled' "
            "OR OLD.status IN ('failed', 'cancelled'))))"
        )
    ),
    pghistory.DeleteEvent(),
    table="audit_scheduled_posts",
    short="sched",
    fields=[
        "id",
        *_SCHEDULE_EDITS,
        "status",
        "automation_rule",
        "post",
        "created_at",
        "published_at",
    ],
)
