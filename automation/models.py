"""Automation rules that fill a character's publishing schedule."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Upper

from automation.rules import (
    schedule_next,
    validate_caption_template,
    validate_trigger_config,
)
from characters.models import Character
from config.fields import (
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
from platforms.models import Platform


def validate_platforms(value) -> None:
    if not value:
        raise ValidationError("Choose at least one platform.", code="required")
    unknown = sorted(set(value) - set(Platform.values))
    if unknown:
        raise ValidationError(
            "Unknown platform(s): %(unknown)s. Known: %(known)s.",
            code="invalid_platform",
            params={
                "unknown": ", ".join(map(str, unknown)),
                "known": ", ".join(Platform.values),
            },
        )


class AutomationRuleTriggerType(models.TextChoices):
    SCHEDULE = "schedule"
    EVENT = "event"
    MANUAL = "manual"


class AutomationRuleContentType(models.TextChoices):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    MIXED = "mixed"


class AutomationRuleHashtagStrategy(models.TextChoices):
    AUTO = "auto"
    TEMPLATE = "template"
    NONE = "none"


class AutomationRule(models.Model):
    """A rule that picks content and schedules posts for a character."""

    TriggerType = AutomationRuleTriggerType

    ContentType = AutomationRuleContentType

    HashtagStrategy = AutomationRuleHashtagStrategy

    id = uuid_pk()
    character = models.ForeignKey(
        Character,
        on_delete=models.CASCADE,
        related_name="automation_rules",
        db_index=False,
    )
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    is_enabled = models.BooleanField(**defaulted(True))
    trigger_type = models.CharField(max_length=50, choices=TriggerType.choices)
    trigger_config = models.JSONField(default=dict)
    platforms = ArrayField(
        models.CharField(max_length=50, choices=Platform.choices),
        validators=[validate_platforms],
    )
    content_type = models.CharField(
        max_length=20, choices=ContentType.choices, null=True, blank=True
    )
    content_category = models.CharField(max_length=50, null=True, blank=True)
    prompt_template = models.TextField(null=True, blank=True)
    generation_settings = models.JSONField(
        null=True, blank=True, validators=[validate_generation_settings]
    )
    min_content_quality = unit_interval("0.7")
    caption_template = models.TextField(null=True, blank=True)
    hashtag_strategy = models.CharField(
        max_length=50, choices=HashtagStrategy.choices, null=True, blank=True
    )
    mention_strategy = models.CharField(max_length=50, null=True, blank=True)
    auto_like = models.BooleanField(**defaulted(False))
    auto_comment = models.BooleanField(**defaulted(False))
    auto_follow = models.BooleanField(**defaulted(False))
    engagement_frequency = models.CharField(max_length=50, null=True, blank=True)
    max_posts_per_day = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    max_posts_per_week = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    cooldown_minutes = non_negative(60)
    times_executed = non_negative(editable=False)
    last_executed_at = models.DateTimeField(null=True, blank=True, editable=False)
    success_count = non_negative(editable=False)
    failure_count = non_negative(editable=False)
    # Deviation: when a 'schedule' rule is next due, so that one indexed query a
    # minute finds the due rules (no PeriodicTask per rule).
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "automation_rules"
        ordering = ["name"]
        constraints = [
            choices_check(
                "trigger_type", AutomationRuleTriggerType, name="trigger_type_check"
            ),
            choices_check(
                "content_type",
                AutomationRuleContentType,
                name="automation_rules_content_type_check",
                nullable=True,
            ),
            choices_check(
                "hashtag_strategy",
                AutomationRuleHashtagStrategy,
                name="hashtag_strategy_check",
                nullable=True,
            ),
            # The document checks only that the array is not empty; unknown
            # platform names are rejected too.
            models.CheckConstraint(
                condition=models.Q(
                    platforms__len__gt=0, platforms__contained_by=Platform.values
                ),
                name="platforms_check",
                violation_error_message=(
                    "platforms needs at least one of: " + ", ".join(Platform.values)
                ),
            ),
            range_check("min_content_quality", 0, 1, table="automation_rules"),
            min_check(
                "max_posts_per_day",
                0,
                table="automation_rules",
                nullable=True,
                strict=True,
            ),
            min_check(
                "max_posts_per_week",
                0,
                table="automation_rules",
                nullable=True,
                strict=True,
            ),
            min_check("cooldown_minutes", 0, table="automation_rules"),
            min_check("times_executed", 0, table="automation_rules"),
            min_check("success_count", 0, table="automation_rules"),
            min_check("failure_count", 0, table="automation_rules"),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_automation_rules_character"),
            models.Index(
                fields=["is_enabled"],
                name="idx_automation_rules_enabled",
                condition=models.Q(is_enabled=True),
            ),
            models.Index(fields=["trigger_type"], name="idx_automation_rules_trigger"),
            GinIndex(fields=["platforms"], name="idx_automation_rules_platforms"),
            # Polled every minute by automation.tasks.dispatch_due_rules.
            models.Index(
                fields=["next_run_at"],
                name="idx_automation_rules_due",
                condition=models.Q(is_enabled=True, trigger_type="schedule"),
            ),
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"), name="trgm_rules_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """A schedule rule's next run is computed from now whenever it is saved."""
        self.next_run_at = schedule_next(self)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "next_run_at" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "next_run_at"]
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        errors = {}
        for name, check in (
            (
                "trigger_config",
                lambda: validate_trigger_config(self.trigger_type, self.trigger_config),
            ),
            (
                "caption_template",
                lambda: validate_caption_template(self.caption_template),
            ),
            (
                "prompt_template",
                lambda: validate_caption_template(self.prompt_template),
            ),
        ):
            try:
                check()
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)


class AutomationRunTrigger(models.TextChoices):
    SCHEDULE = "schedule"
    EVENT = "event"
    MANUAL = "manual"


class AutomationRunStatus(models.TextChoices):
    QUEUED = "queued"
    DONE = "done"
    ABANDONED = "abandoned"


class AutomationRunOutcome(models.TextChoices):
    SCHEDULED = "scheduled"
    NOTHING = "nothing"
    SKIPPED = "skipped"


class AutomationRun(models.Model):
    """One run of a rule: what asked for it, its slot, and what it did.

    Keyed by rule and `key` (the cron slot, the event and its payload, or the
    manual request), so a replay of the same slot creates nothing; at most one
    manual run of a rule is queued at a time.
    """

    Trigger = AutomationRunTrigger
    Status = AutomationRunStatus
    Outcome = AutomationRunOutcome

    id = uuid_pk()
    rule = models.ForeignKey(
        AutomationRule, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    # "schedule:<slot>", "event:<event>:<payload digest>" or "manual:<request>"
    key = models.CharField(max_length=200)
    slot = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.QUEUED)
    )
    outcome = models.CharField(
        max_length=20, choices=Outcome.choices, null=True, blank=True
    )
    reason = models.TextField(null=True, blank=True)
    scheduled_count = non_negative()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = created_at()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "automation_runs"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "trigger", AutomationRunTrigger, name="automation_runs_trigger_check"
            ),
            choices_check(
                "status", AutomationRunStatus, name="automation_runs_status_check"
            ),
            choices_check(
                "outcome",
                AutomationRunOutcome,
                name="automation_runs_outcome_check",
                nullable=True,
            ),
            models.UniqueConstraint(
                fields=["rule", "key"],
                name="unique_automation_run_key",
                violation_error_message="This rule already ran for that slot.",
            ),
            models.UniqueConstraint(
                fields=["rule"],
                condition=models.Q(trigger="manual", status="queued"),
                name="one_queued_manual_run",
                violation_error_message="A run of this rule is already queued.",
            ),
        ]
        indexes = [
            # A rule's latest runs (admin, API).
            models.Index(
                fields=["rule", "-created_at"], name="idx_automation_runs_rule"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} run of {self.rule_id} ({self.status})"


# --- The audit trail (logs/models.py explains it) ----------------------------------

import pghistory  # noqa: E402

from logs.models import audit_model, changed  # noqa: E402

# Rules: the settings a person edits; the engine's counters and next run time
# are in the snapshot but changing them alone is not an edit.
_RULE_SETTINGS = [
    "character",
    "name",
    "description",
    "is_enabled",
    "trigger_type",
    "trigger_config",
    "platforms",
    "content_type",
    "content_category",
    "prompt_template",
    "generation_settings",
    "min_content_quality",
    "caption_template",
    "hashtag_strategy",
    "mention_strategy",
    "auto_like",
    "auto_comment",
    "auto_follow",
    "engagement_frequency",
    "max_posts_per_day",
    "max_posts_per_week",
    "cooldown_minutes",
]
_RULE_ENGINE = [
    "times_executed",
    "last_executed_at",
    "success_count",
    "failure_count",
    "next_run_at",
]
audit_model(
    AutomationRule,
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(condition=changed(AutomationRule, *_RULE_SETTINGS)),
    pghistory.DeleteEvent(),
    table="audit_automation_rules",
    short="rule",
    fields=["id", *_RULE_SETTINGS, *_RULE_ENGINE, "created_at"],
)
