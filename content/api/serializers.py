from rest_framework import serializers

from characters.models import Character
from config.api import FullCleanModelSerializer
from content.models import Content, ContentGeneration


class ContentSerializer(FullCleanModelSerializer):
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())

    class Meta:
        model = Content
        fields = "__all__"
        # Approval goes through the approve/reject actions (audited).
        read_only_fields = ["approval_status", "rejection_reason"]


class ContentGenerationSerializer(FullCleanModelSerializer):
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())

    class Meta:
        model = ContentGeneration
        fields = "__all__"
        # State moves through the cancel/retry actions and the workers.
        read_only_fields = ["status", "retry_count"]
