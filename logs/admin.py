"""Back-office for system logs: the audit trail is read, never edited."""

import json

from django.contrib import admin
from django.utils.html import format_html

from config.admin_site import BigTableAdmin, recent_filter
from logs.models import SystemLog


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
