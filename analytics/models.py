"""Daily metrics per character and platform account."""

from django.db import models

from characters.models import Character
from config.fields import choices_check, created_at, uuid_pk
from platforms.models import Platform, PlatformAccount, account_consistency_clean


class AnalyticsMetricType(models.TextChoices):
    FOLLOWER_COUNT = "follower_count"
    FOLLOWING_COUNT = "following_count"
    POST_COUNT = "post_count"
    ENGAGEMENT_RATE = "engagement_rate"
    LIKES_COUNT = "likes_count"
    COMMENTS_COUNT = "comments_count"
    SHARES_COUNT = "shares_count"
    VIEWS_COUNT = "views_count"
    REACH = "reach"
    IMPRESSIONS = "impressions"


class Analytics(models.Model):
    """One metric of one day for a character (and, usually, one of its accounts)."""

    MetricType = AnalyticsMetricType

    id = uuid_pk()
    character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="analytics", db_index=False
    )
    platform_account = models.ForeignKey(
        PlatformAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="analytics",
        db_index=False,
    )
    metric_date = models.DateField()
    platform = models.CharField(
        max_length=50, choices=Platform.choices, null=True, blank=True
    )
    metric_type = models.CharField(max_length=50, choices=MetricType.choices)
    metric_value = models.DecimalField(max_digits=12, decimal_places=2)
    metadata = models.JSONField(null=True, blank=True)
    created_at = created_at()

    class Meta:
        db_table = "analytics"
        verbose_name_plural = "analytics"
        ordering = ["-metric_date"]
        constraints = [
            choices_check(
                "platform", Platform, name="analytics_platform_check", nullable=True
            ),
            choices_check("metric_type", AnalyticsMetricType, name="metric_type_check"),
            # NULLS NOT DISTINCT: without it, character-wide rows (no account)
            # could be inserted twice for the same day and metric.
            models.UniqueConstraint(
                fields=["character", "platform_account", "metric_date", "metric_type"],
                name="unique_metric",
                nulls_distinct=False,
                violation_error_message="This metric is already recorded for that day.",
            ),
            # Added: an account's row names the account's platform.
            models.CheckConstraint(
                condition=models.Q(platform_account__isnull=True)
                | models.Q(platform__isnull=False),
                name="analytics_account_platform_check",
                violation_error_message="A row for an account needs its platform.",
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_analytics_character"),
            models.Index(fields=["-metric_date"], name="idx_analytics_date"),
            models.Index(
                fields=["platform"],
                name="idx_analytics_platform",
                condition=models.Q(platform__isnull=False),
            ),
            models.Index(fields=["metric_type"], name="idx_analytics_type"),
            models.Index(
                fields=["character", "-metric_date"],
                name="idx_analytics_character_date",
            ),
            models.Index(
                fields=["character", "platform", "-metric_date"],
                name="idx_analytics_char_plat_date",
                condition=models.Q(platform__isnull=False),
            ),
            # Added: deleting an account cascades through this column.
            models.Index(
                fields=["platform_account"],
                name="idx_analytics_account",
                condition=models.Q(platform_account__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_type} {self.metric_date}: {self.display_value}"

    @property
    def display_value(self) -> str:
        """Counts as whole numbers ('259,156'), a rate as a percentage ('3.45 %')."""
        if self.metric_value is None:
            return "-"
        if self.metric_type == AnalyticsMetricType.ENGAGEMENT_RATE:
            return f"{self.metric_value:.2f} %"
        return f"{round(self.metric_value):,}"

    def clean(self) -> None:
        super().clean()
        if self.platform_account is not None and not self.platform:
            self.platform = self.platform_account.platform
        account_consistency_clean(self, check_platform=True)
