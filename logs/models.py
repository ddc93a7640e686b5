"""Application and audit logs."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from characters.models import Character
from config.fields import choices_check, created_at, uuid_pk
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
