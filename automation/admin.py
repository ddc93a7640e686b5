"""Back-office for automation rules."""

from django import forms
from django.contrib import admin, messages

from automation.models import AutomationRule, AutomationRun
from automation.services import (
    automation_rules_disable,
    automation_rules_enable,
    automation_rules_run_now,
)
from config.admin_site import ProjectAdmin, report, selected_count
from platforms.models import Platform


class AutomationRuleForm(forms.ModelForm):
    # Checkboxes rather than the ArrayField's comma-separated text box.
    platforms = forms.MultipleChoiceField(
        choices=Platform.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = AutomationRule
        fields = "__all__"  # noqa: DJ007 (the admin narrows it to its fieldsets)


@admin.register(AutomationRule)
class AutomationRuleAdmin(ProjectAdmin):
    form = AutomationRuleForm
    list_display = (
        "name",
        "character",
        "trigger_type",
        "is_enabled",
        "platform_list",
        "content_type",
        "times_executed",
        "success_count",
        "failure_count",
        "last_executed_at",
        "next_run_at",
    )
    list_filter = ("is_enabled", "trigger_type", "content_type", "hashtag_strategy")
    search_fields = ("name",)
    ordering = ("name",)
    list_select_related = ("character",)
    autocomplete_fields = ("character",)
    actions = ("enable", "disable", "run_now")
    readonly_fields = (
        "times_executed",
        "last_executed_at",
        "success_count",
        "failure_count",
        "next_run_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "character",
                    "name",
                    "description",
                    "is_enabled",
                    ("trigger_type", "trigger_config"),
                    "platforms",
                )
            },
        ),
        (
            "Content",
            {
                "fields": (
                    ("content_type", "content_category", "min_content_quality"),
                    "prompt_template",
                    "generation_settings",
                    "caption_template",
                    ("hashtag_strategy", "mention_strategy"),
                )
            },
        ),
        (
            "Limits and engagement",
            {
                "fields": (
                    ("max_posts_per_day", "max_posts_per_week", "cooldown_minutes"),
                    ("auto_like", "auto_comment", "auto_follow"),
                    "engagement_frequency",
                )
            },
        ),
        (
            "Runs",
            {
                "fields": (
                    ("times_executed", "success_count", "failure_count"),
                    ("last_executed_at", "next_run_at"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    @admin.display(description="Platforms")
    def platform_list(self, obj):
        labels = dict(Platform.choices)
        return ", ".join(labels.get(p, p) for p in obj.platforms or [])

    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable(self, request, queryset):
        changed = automation_rules_enable(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "enabled")

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable(self, request, queryset):
        changed = automation_rules_disable(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "disabled")

    @admin.action(description="Run selected rules now", permissions=["change"])
    def run_now(self, request, queryset):
        result = automation_rules_run_now(queryset=queryset, actor=request.user)
        parts = [f"{len(result.queued)} rule(s) queued to run"]
        if result.busy:
            parts.append(f"{len(result.busy)} already queued or running (left alone)")
        if result.disabled:
            parts.append(f"{len(result.disabled)} disabled (enable them first)")
        self.message_user(
            request,
            "; ".join(parts) + ". Each run's outcome appears under Automation runs.",
            messages.SUCCESS if result.queued else messages.WARNING,
        )


@admin.register(AutomationRun)
class AutomationRunAdmin(ProjectAdmin):
    """What each run of a rule did (read-only: runs are written by the engine)."""

    list_display = (
        "created_at",
        "rule",
        "trigger",
        "slot",
        "status",
        "outcome",
        "scheduled_count",
        "reason",
    )
    list_filter = ("trigger", "status", "outcome")
    list_select_related = ("rule",)
    raw_id_fields = ("rule",)
    readonly_fields = ("requested_by",)
    search_fields = ("rule__name",)
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
