import django_filters as filters

from analytics.models import Analytics
from platforms.models import Platform


class AnalyticsFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=Platform.choices)
    metric_type = filters.ChoiceFilter(choices=Analytics.MetricType.choices)
    date_from = filters.DateFilter(field_name="metric_date", lookup_expr="gte")
    date_to = filters.DateFilter(field_name="metric_date", lookup_expr="lte")

    class Meta:
        model = Analytics
        fields = ["character", "platform_account", "platform", "metric_type"]


class AnalyticsSeriesFilterSet(AnalyticsFilterSet):
    character = filters.UUIDFilter(required=True)
    metric_type = filters.ChoiceFilter(
        choices=Analytics.MetricType.choices, required=True
    )
