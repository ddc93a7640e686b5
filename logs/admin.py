"""Back-office for system logs: the audit trail is read, never edited."""

import json

from django.contrib import admin
from django.utils.html import format_html

from config.admin_site import BigTableAdmin, recent_filter, report, selected_count
from logs.models import Event, SystemLog
from logs.outbox import events_retry


@admin.register(SystemLog)
class SystemLogAdmin(BigTableAdmin):
    list_display = (
        "created_at",
        "log_level",
        "component",
        "short_message",
        "character",
    )
    list_filter = (
        "log_level",
        recent_filter("created_at", title="created", parameter="created"),
    )
    search_fields = ("message",)
    ordering = ("-created_at",)
    sortable_by = ("created_at", "log_level")
    list_select_related = ("character",)
    raw_id_fields = ("character", "platform_account", "content", "post")
    fields = (
        ("created_at", "log_level", "component"),
        "message",
        ("character", "platform_account"),
        ("content", "post"),
        "readable_metadata",
    )
    readonly_fields = (
        "created_at",
        "log_level",
        "component",
        "message",
        "character",
        "platform_account",
        "content",
        "post",
        "readable_metadata",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 100 else obj.message[:99] + "…"

    @admin.display(description="Metadata")
    def readable_metadata(self, obj):
        if not obj.metadata:
            return "-"
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
            json.dumps(obj.metadata, indent=2, sort_keys=True, ensure_ascii=False),
        )


@admin.register(Event)
class EventAdmin(BigTableAdmin):
    """The outbox: what happened, and whether its consumers have it (read-only;
    failed events can be queued again)."""

    list_display = ("created_at", "name", "status", "attempt_count", "character_id")
    list_filter = (
        "status",
        "name",
        recent_filter("created_at", title="created", parameter="created"),
    )
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    list_select_related = ()
    actions = ("retry",)
    fields = (
        ("created_at", "name", "status"),
        ("character_id", "attempt_count", "locked_until"),
        "error_message",
        "readable_payload",
    )
    readonly_fields = fields[0] + fields[1] + ("error_message", "readable_payload")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("logs.change_event")

    @admin.action(
        description="Queue selected failed events again", permissions=["retry"]
    )
    def retry(self, request, queryset):
        changed = events_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")

    @admin.display(description="Payload")
    def readable_payload(self, obj):
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
            json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False),
        )
