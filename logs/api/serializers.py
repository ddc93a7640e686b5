from rest_framework import serializers

from config.api import FullCleanModelSerializer
from logs.event_names import NOTIFIABLE_CHOICES
from logs.models import SystemLog, Webhook, WebhookDelivery
from logs.webhook_rules import masked_url


class SystemLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemLog
        fields = "__all__"


class AuditEventSerializer(serializers.Serializer):
    """One audit event: who (actor, door), when, what (label, changes, data)."""

    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="insert, update, delete, credentials, approval"
    )
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    door = serializers.CharField(help_text="admin, api, web, command, task or sql")
    actor = serializers.CharField()
    context = serializers.JSONField(allow_null=True)  # type: ignore[assignment]
    context_id = serializers.UUIDField(allow_null=True)
    db_session = serializers.CharField()
    data = serializers.JSONField(  # type: ignore[assignment]
        help_text="the row as it was after the change"
    )

    def to_representation(self, instance):
        from logs.audit import serialize

        return super().to_representation(serialize(instance))


class WebhookSerializer(FullCleanModelSerializer):
    """A webhook: `secret` and `url` are write-only (the URL of a Slack or
    Discord webhook holds its token); `url_display` shows scheme and host."""

    url = serializers.CharField(
        write_only=True, required=False, max_length=2000, help_text="http(s) only"
    )
    url_display = serializers.SerializerMethodField()
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=200,
        style={"input_type": "password"},
        help_text="At least 16 characters; never returned.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=NOTIFIABLE_CHOICES), allow_empty=False
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "url",
            "url_display",
            "events",
            "format",
            "is_active",
            "secret",
            "created_at",
            "updated_at",
        ]

    def get_url_display(self, obj: Webhook) -> str:
        return masked_url(obj.url)

    def validate(self, attrs):
        if self.instance is None:
            missing = {
                name: ["This field is required."]
                for name in ("url", "secret")
                if not attrs.get(name)
            }
            if missing:
                raise serializers.ValidationError(missing)
        return super().validate(attrs)


class WebhookBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "name"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook = WebhookBriefSerializer(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook",
            "event_id",
            "event_name",
            "status",
            "attempt_count",
            "last_response_code",
            "response_excerpt",
            "duration_ms",
            "error_message",
            "body",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields
