from rest_framework import serializers

from characters.models import Character
from config.api import FullCleanModelSerializer
from content.models import Content, ContentGeneration, TextGeneration
from platforms.models import Platform


class ContentSerializer(FullCleanModelSerializer):
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())

    class Meta:
        model = Content
        fields = "__all__"
        # Approval goes through the approve/reject actions (audited); the
        # caption's review through approve-caption / reject-caption.
        read_only_fields = ["approval_status", "rejection_reason"]


class ContentGenerationSerializer(FullCleanModelSerializer):
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())

    class Meta:
        model = ContentGeneration
        fields = "__all__"
        # State moves through the cancel/retry actions and the workers.
        read_only_fields = ["status", "retry_count"]


class TextGenerationSerializer(serializers.ModelSerializer):
    """What the persona wrote, with the prompt that made it (read-only)."""

    total_tokens = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = TextGeneration
        fields = "__all__"
        read_only_fields = [f.name for f in TextGeneration._meta.concrete_fields]


class WriteCaptionSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(
        choices=Platform.choices,
        required=False,
        allow_null=True,
        help_text="Whose limits the caption fits; default: the character's "
        "strictest platform.",
    )
