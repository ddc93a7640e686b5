import django_filters as filters

from config.filters import UTCDateTimeFilter
from logs.models import SystemLog


class SystemLogFilterSet(filters.FilterSet):
    log_level = filters.ChoiceFilter(choices=SystemLog.Level.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = SystemLog
        fields = [
            "log_level",
            "component",
            "character",
            "platform_account",
            "content",
            "post",
        ]
