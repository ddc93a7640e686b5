from django.db import transaction
from rest_framework import serializers

from characters.models import Character
from config.api import FullCleanModelSerializer
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost
from platforms.services import (
    CREDENTIALS_PERMISSION,
    platform_account_set_credentials,
    scheduled_posts_create,
)


class CharacterFieldMixin(serializers.Serializer):
    # Live characters only: a soft-deleted character takes no new rows.
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())


class PlatformAccountSerializer(CharacterFieldMixin, FullCleanModelSerializer):
    # Write-only and never echoed; stored encrypted through the audited service.
    auth_data = serializers.JSONField(
        write_only=True, required=False, allow_null=True, style={"base_template": ""}
    )

    class Meta:
        model = PlatformAccount
        fields = "__all__"

    def validate_auth_data(self, value):
        # Any write of auth_data, null (clearing) included, needs the permission.
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.has_perm(CREDENTIALS_PERMISSION):
            raise serializers.ValidationError(
                "You do not have permission to set or clear credentials."
            )
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("auth_data must be a JSON object.")
        return value

    def validate(self, attrs):
        auth = attrs.pop("auth_data", serializers.empty)
        attrs = super().validate(attrs)
        if auth is not serializers.empty:
            attrs["auth_data"] = auth
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        has_auth = "auth_data" in validated_data
        auth = validated_data.pop("auth_data", None)
        account = super().create(validated_data)
        if has_auth:
            platform_account_set_credentials(
                account=account, auth_data=auth, actor=self.context["request"].user
            )
        return account

    @transaction.atomic
    def update(self, instance, validated_data):
        has_auth = "auth_data" in validated_data
        auth = validated_data.pop("auth_data", None)
        account = super().update(instance, validated_data)
        if has_auth:
            platform_account_set_credentials(
                account=account, auth_data=auth, actor=self.context["request"].user
            )
        return account


class PostSerializer(CharacterFieldMixin, FullCleanModelSerializer):
    class Meta:
        model = Post
        fields = "__all__"


class ScheduledPostSerializer(CharacterFieldMixin, FullCleanModelSerializer):
    class Meta:
        model = ScheduledPost
        fields = "__all__"
        # State moves through cancel / publish-now / retry / reschedule.
        read_only_fields = ["status"]

    def _clean_exclude(self):
        # a new row's created_at is the scheduling service's stamp (a time
        # just past is taken as now), not the database's now()
        return ["created_at"] if self.instance is None else []

    def create(self, validated_data):
        # the one way a post is scheduled (its rules answer 400 naming the field)
        [post] = scheduled_posts_create(posts=[ScheduledPost(**validated_data)])
        return post


class EngagementActionSerializer(CharacterFieldMixin, FullCleanModelSerializer):
    class Meta:
        model = EngagementAction
        fields = "__all__"
        read_only_fields = ["status"]


class RescheduleSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField()


class ConnectionTestSerializer(serializers.Serializer):
    """What "Test connection" saw (platforms.services.ConnectionTest)."""

    status = serializers.ChoiceField(
        choices=["ok", "failed", "no_api", "no_credentials"]
    )
    message = serializers.CharField()
    platform = serializers.CharField()
    mode = serializers.ChoiceField(choices=["live", "dry_run", "assisted"])
    account_id = serializers.CharField(allow_blank=True)
    username = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    matches_account = serializers.BooleanField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())


class MarkPublishedSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=255, help_text="The post's link on the platform."
    )
