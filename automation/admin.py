"""Back-office for automation rules."""

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from automation.models import AutomationRule, AutomationRun
from automation.rules import (
    DEFAULT_MILESTONE,
    EVENTS,
    PLACEHOLDERS,
    next_run,
    validate_cron,
)
from automation.services import (
    automation_rules_disable,
    automation_rules_enable,
    automation_rules_run_now,
)
from config.admin_site import (
    CharacterZoneMixin,
    ProjectAdmin,
    changelist_url,
    local_time,
    local_time_column,
    report,
    selected_count,
)
from content.forms import GenerationSettingsForm
from platforms.models import Platform

TRIGGER_FIELDS = ("tc_cron", "tc_event", "tc_every", "tc_hashtags")


class AutomationRuleForm(GenerationSettingsForm):
    """trigger_config and generation_settings as fields that explain
    themselves; the JSON is built from them (other keys are kept)."""

    # Checkboxes rather than the ArrayField's comma-separated text box.
    platforms = forms.MultipleChoiceField(
        choices=Platform.choices, widget=forms.CheckboxSelectMultiple
    )
    tc_cron = forms.CharField(
        required=False,
        label="Schedule (cron)",
        max_length=100,
        help_text=(
            "For 'schedule' rules: minute hour day-of-month month day-of-week, on "
            "the character's clock. Examples: <code>0 9 * * *</code> every day at "
            "09:00; <code>0 9,19 * * 1-5</code> weekdays at 09:00 and 19:00; "
            "<code>30 18 * * 6</code> Saturdays at 18:30."
        ),
    )
    tc_event = forms.ChoiceField(
        required=False,
        label="Event",
        choices=[("", "---------"), *EVENTS.items()],
        help_text="For 'event' rules: what makes the rule run.",
    )
    tc_every = forms.IntegerField(
        required=False,
        label="Every (followers)",
        min_value=1,
        help_text=(
            "For the follower milestone event: run each time the followers cross "
            f"a multiple of this number (default {DEFAULT_MILESTONE})."
        ),
    )
    tc_hashtags = forms.CharField(
        required=False,
        label="Template hashtags",
        help_text=(
            "With the 'template' hashtag strategy: words added as hashtags to "
            "every post, separated by spaces or commas (e.g. <code>sunset, "
            "travel</code>). 'auto' takes them from the content's tags and the "
            "character's topics; 'none' adds none."
        ),
    )
    settings_empty = None

    class Meta:
        model = AutomationRule
        exclude = ("trigger_config", "generation_settings")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = getattr(self.instance, "trigger_config", None) or {}
        if isinstance(config, dict):
            self.initial.setdefault("tc_cron", config.get("cron", ""))
            self.initial.setdefault("tc_event", config.get("event", ""))
            self.initial.setdefault("tc_every", config.get("every"))
            self.initial.setdefault("tc_hashtags", " ".join(config.get("hashtags", [])))
        quality = self.fields.get("min_content_quality")
        if quality is not None:
            quality.help_text = (
                "0 to 1: a run takes only approved content whose quality score is "
                "at least this (0 takes everything, 1 only the best)."
            )

    def clean(self):
        data = super().clean()
        trigger = data.get("trigger_type")
        config = dict(getattr(self.instance, "trigger_config", None) or {})
        for key in ("cron", "event", "every", "hashtags"):
            config.pop(key, None)
        if trigger == AutomationRule.TriggerType.SCHEDULE:
            if not data.get("tc_cron"):
                self.add_error("tc_cron", "A schedule rule needs a cron expression.")
            else:
                config["cron"] = " ".join(data["tc_cron"].split())
        elif trigger == AutomationRule.TriggerType.EVENT:
            if not data.get("tc_event"):
                self.add_error("tc_event", "An event rule needs an event.")
            else:
                config["event"] = data["tc_event"]
                if data["tc_event"] == "follower_milestone" and data.get("tc_every"):
                    config["every"] = data["tc_every"]
        tags = [t for t in re.split(r"[\s,]+", data.get("tc_hashtags") or "") if t]
        if tags:
            config["hashtags"] = [t.lstrip("#") for t in tags]
        self.instance.trigger_config = config
        return data

    def _update_errors(self, errors):
        # AutomationRule.clean names trigger_config, which this form shows as
        # fields: its messages go under the field the trigger type uses
        if hasattr(errors, "error_dict") and "trigger_config" in errors.error_dict:
            moved = dict(errors.error_dict)
            target = (
                "tc_cron"
                if self.cleaned_data.get("trigger_type") == "schedule"
                else "tc_event"
            )
            moved.setdefault(target, []).extend(moved.pop("trigger_config"))
            errors = ValidationError(moved)
        super()._update_errors(errors)  # type: ignore[misc]


RUNS_SHOWN = 10


def runs_table(rule_id) -> str:
    """A rule's latest runs: when, what asked, state, outcome and why (one query)."""
    runs = list(
        AutomationRun.objects.filter(rule_id=rule_id)
        .select_related("rule__character")
        .order_by("-created_at")[:RUNS_SHOWN]
    )
    if not runs:
        return mark_safe(  # constant markup, nothing to escape
            '<div id="rule-runs" data-pending="0"><p class="help">No run yet.</p></div>'
        )
    zone = runs[0].rule.character.timezone
    rows = format_html_join(
        "",
        '<tr class="run-{}"><td>{}</td><td>{}</td><td>{}</td>'
        '<td class="outcome-{}">{}</td><td class="num">{}</td><td>{}</td></tr>',
        (
            (
                run.status,
                local_time(run.created_at, zone),
                run.get_trigger_display(),
                format_html(
                    '<span class="state state-{}">{}</span>',
                    run.status,
                    run.get_status_display(),
                ),
                run.outcome or "",
                run.get_outcome_display() if run.outcome else "waiting for a worker",
                run.scheduled_count,
                run.reason or ("" if run.outcome != "scheduled" else "-"),
            )
            for run in runs
        ),
    )
    pending = sum(1 for run in runs if run.status == AutomationRun.Status.QUEUED)
    return format_html(
        '<div id="rule-runs" data-pending="{}"><table class="page-table">'
        "<thead><tr><th>Asked at</th><th>By</th><th>State</th><th>Outcome</th>"
        "<th>Posts</th><th>Why</th></tr></thead><tbody>{}</tbody></table>"
        '<p class="help"><a href="{}">All runs of this rule</a></p></div>',
        pending,
        rows,
        changelist_url(AutomationRun, rule__id__exact=rule_id),
    )


@admin.register(AutomationRule)
class AutomationRuleAdmin(CharacterZoneMixin, ProjectAdmin):
    form = AutomationRuleForm
    change_form_template = "admin/automation/automationrule/change_form.html"
    list_display = (
        "name",
        "character",
        "trigger_type",
        "is_enabled",
        "platform_list",
        "content_type",
        "runs",
        "last_executed_local",
        "next_run_local",
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
        "next_runs",
        "latest_runs",
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
                    "trigger_type",
                    "tc_cron",
                    ("tc_event", "tc_every"),
                    "platforms",
                )
            },
        ),
        (
            "Content",
            {
                "fields": (
                    ("content_type", "content_category", "min_content_quality"),
                    "caption_template",
                    ("hashtag_strategy", "mention_strategy"),
                    "tc_hashtags",
                )
            },
        ),
        (
            "Generating content when there is none",
            {
                "description": (
                    "With a prompt template, a run that finds no content queues a "
                    "generation job with these settings (empty fields: the "
                    "backend's defaults and the character's appearance)."
                ),
                "fields": (
                    "prompt_template",
                    ("gs_width", "gs_height"),
                    ("gs_steps", "gs_cfg_scale", "gs_seed"),
                    ("gs_sampler", "gs_base_model"),
                    "gs_content_category",
                    "gs_other",
                ),
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
                    "latest_runs",
                    ("times_executed", "success_count", "failure_count"),
                    ("last_executed_at", "next_run_at"),
                    "next_runs",
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    last_executed_local = local_time_column("last_executed_at", "Last run")

    @admin.display(description="Runs", ordering="times_executed")
    def runs(self, obj):
        return (
            f"{obj.times_executed} ({obj.success_count} scheduled, "
            f"{obj.failure_count} nothing)"
        )

    next_run_local = local_time_column("next_run_at", "Next run")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [f for f in fieldsets if f[0] != "Runs"]
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        field = form.base_fields.get("caption_template")
        if field is not None:
            field.help_text = "Placeholders: " + ", ".join(
                f"{{{k}}} ({v})" for k, v in PLACEHOLDERS.items()
            )
        return form

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "<uuid:pk>/run-now/",
                self.admin_site.admin_view(self.run_now_view),
                name="automation_automationrule_run_now",
            ),
            path(
                "<uuid:pk>/runs/",
                self.admin_site.admin_view(self.runs_view),
                name="automation_automationrule_runs",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Latest runs")
    def latest_runs(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        return runs_table(obj.pk)

    @admin.display(description="Next runs")
    def next_runs(self, obj):
        if obj is None or obj.trigger_type != AutomationRule.TriggerType.SCHEDULE:
            return "Only 'schedule' rules run at set times."
        try:
            expr = validate_cron((obj.trigger_config or {}).get("cron"))
        except ValidationError:
            return "-"
        zone = obj.character.timezone
        after, times = timezone.now(), []
        for _ in range(3):
            after = next_run(expr, zone, after)
            times.append(after)
        note = "" if obj.is_enabled else " (the rule is disabled: it will not run)"
        return format_html(
            "{}{}",
            format_html_join(" · ", "{}", ((local_time(t, zone),) for t in times)),
            note,
        )

    def runs_view(self, request, pk):
        """The latest runs table (HTML), polled by the rule's page while a run
        waits for its worker."""
        rule = self.get_object(request, str(pk))
        if rule is None or not self.has_view_permission(request, rule):
            raise PermissionDenied
        with timezone.override(rule.character.timezone):
            return HttpResponse(runs_table(rule.pk))

    def run_now_view(self, request, pk):
        """The "Run now" button of a rule's page: queue one run, come back."""
        rule = self.get_object(request, str(pk))
        if rule is None or not self.has_change_permission(request, rule):
            raise PermissionDenied
        if request.method == "POST":
            result = automation_rules_run_now(
                queryset=AutomationRule.objects.filter(pk=rule.pk), actor=request.user
            )
            self._tell(request, result)
        return redirect(
            reverse("admin:automation_automationrule_change", args=[rule.pk]) + "#runs"
        )

    def _tell(self, request, result) -> None:
        """Say what "Run now" did, with a link to where each outcome appears."""
        if len(result.queued) == 1:
            run = result.queued[0]
            url = reverse("admin:automation_automationrule_change", args=[run.rule_id])
            text = format_html(
                "Run queued. Its outcome (posts scheduled, or why not) appears "
                'under <a href="{}#runs">the rule\'s latest runs</a> when a worker '
                "has run it, usually within a minute.",
                url,
            )
        else:
            ids = ",".join(str(run.rule_id) for run in result.queued)
            text = format_html(
                '{} rule(s) queued to run. Their outcomes appear under <a href="{}">'
                "their runs</a> when a worker has run them.",
                len(result.queued),
                changelist_url(AutomationRun, rule__in=ids),
            )
        if not result.queued:
            text = mark_safe("No run queued.")
        extra = []
        if result.busy:
            extra.append(
                f"{len(result.busy)} already had a run queued or running (left alone)"
            )
        if result.disabled:
            extra.append(f"{len(result.disabled)} disabled (enable them first)")
        if extra:
            text = format_html("{} {}.", text, "; ".join(extra).capitalize())
        self.message_user(
            request, text, messages.SUCCESS if result.queued else messages.WARNING
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
        self._tell(request, result)


@admin.register(AutomationRun)
class AutomationRunAdmin(CharacterZoneMixin, ProjectAdmin):
    """What each run of a rule did (read-only: runs are written by the engine)."""

    character_path = "rule__character"
    list_display = (
        "created_local",
        "rule",
        "trigger",
        "slot_local",
        "status",
        "outcome",
        "scheduled_count",
        "reason",
    )
    list_filter = ("trigger", "status", "outcome")
    list_select_related = ("rule__character",)
    raw_id_fields = ("rule",)
    readonly_fields = ("requested_by",)
    search_fields = ("rule__name",)
    ordering = ("-created_at",)

    created_local = local_time_column(
        "created_at", "Asked at", zone_of=lambda run: run.rule.character.timezone
    )
    slot_local = local_time_column(
        "slot", "Slot", zone_of=lambda run: run.rule.character.timezone
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
