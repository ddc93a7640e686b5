import django_filters as filters

from config.filters import UTCDateTimeFilter
from logs.models import SystemLog, Webhook, WebhookDelivery


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


class WebhookFilterSet(filters.FilterSet):
    class Meta:
        model = Webhook
        fields = ["is_active", "format"]


class WebhookDeliveryFilterSet(filters.FilterSet):
    # by id: a ModelChoiceFilter would load (and decrypt) the webhook
    webhook = filters.UUIDFilter(field_name="webhook_id")
    status = filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["webhook", "status", "event_name"]
