"""Back-office for the analytics table (read by date, written by the sync),
and the analytics pages for people (analytics/views.py)."""

from django.contrib import admin
from django.urls import path

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

    change_list_template = "admin/analytics/analytics/change_list.html"

    def get_urls(self):
        from analytics import views

        site = self.admin_site

        def page(view):
            def with_context(request, **kwargs):
                return view(request, admin_context=site.each_context(request), **kwargs)

            return site.admin_view(with_context)

        return [
            path(
                "overview/",
                page(views.overview_page),
                name="analytics_analytics_overview",
            ),
            path(
                "overview/<uuid:character_id>/",
                page(views.overview_page),
                name="analytics_analytics_character_overview",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Value", ordering="metric_value")
    def value(self, obj):
        return obj.display_value
