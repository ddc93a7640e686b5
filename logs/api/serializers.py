from rest_framework import serializers

from logs.models import SystemLog


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
