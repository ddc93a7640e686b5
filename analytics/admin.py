"""Back-office for the analytics table (read by date, written by the sync)."""

from django.contrib import admin

from analytics.models import Analytics
from config.admin_site import BigTableAdmin, recent_filter


@admin.register(Analytics)
class AnalyticsAdmin(BigTableAdmin):
    list_display = (
        "metric_date",
        "character",
        "platform",
        "metric_type",
        "value",
    )
    list_filter = (
        "metric_type",
        "platform",
        recent_filter("metric_date", title="date", parameter="date", date=True),
    )
    # characters.name has its trigram index; the join is to a small table.
    search_fields = ("character__name",)
    ordering = ("-metric_date",)
    sortable_by = ("metric_date", "metric_type", "value")
    list_select_related = ("character",)
    autocomplete_fields = ("character", "platform_account")
    readonly_fields = ("created_at",)

    @admin.display(description="Value", ordering="metric_value")
    def value(self, obj):
        return obj.display_value
