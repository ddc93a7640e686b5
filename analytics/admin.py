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
        return metric_display(obj.metric_type, obj.metric_value)


def metric_display(metric_type: str, value) -> str:
    """Counts are whole numbers ('259,156'); a rate is a percentage ('3.45 %')."""
    if value is None:
        return "-"
    if metric_type == Analytics.MetricType.ENGAGEMENT_RATE:
        return f"{value:.2f} %"
    return f"{round(value):,}"
