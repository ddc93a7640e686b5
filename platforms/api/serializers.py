from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from characters.models import Character
from config.api import FullCleanModelSerializer
from config.timezones import is_known_zone, localize, zone
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


class WallClockDateTimeField(serializers.DateTimeField):
    """An ISO time with an offset is an instant; one without is a wall-clock
    time in the post's zone (resolved by the serializer's validate)."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            return value
        return super().enforce_timezone(value)


class ScheduledPostSerializer(CharacterFieldMixin, FullCleanModelSerializer):
    scheduled_at = WallClockDateTimeField(
        help_text=(
            "With an offset (2026-12-24T19:00:00+01:00 or ...Z): that instant. "
            "Without one (2026-12-24T19:00:00): that time on the wall clock of "
            "`timezone`. Answers give it in the post's own zone."
        )
    )
    timezone = serializers.CharField(
        required=False,
        max_length=50,
        help_text=(
            "IANA zone the post is planned in (default: the character's); a "
            "time without an offset is read in it."
        ),
    )

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

    def validate(self, attrs):
        instance = self.instance
        zone_name = attrs.get("timezone") or getattr(instance, "timezone", None)
        if not zone_name:
            # the character is read only when the post names no zone
            character = attrs.get("character") or getattr(instance, "character", None)
            zone_name = getattr(character, "timezone", None) or "UTC"
        if instance is None or "timezone" in attrs:
            if not is_known_zone(zone_name):
                raise serializers.ValidationError(
                    {
                        "timezone": f"{zone_name} is not a known time zone; use an "
                        "IANA name such as Europe/Berlin."
                    }
                )
            attrs["timezone"] = zone_name
        when = attrs.get("scheduled_at")
        if when is not None and timezone.is_naive(when):
            try:
                attrs["scheduled_at"] = localize(when, zone_name)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(
                    {"scheduled_at": exc.messages}
                ) from exc
        return super().validate(attrs)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.scheduled_at is not None:
            data["scheduled_at"] = instance.scheduled_at.astimezone(
                zone(instance.timezone)
            ).isoformat()
        return data


class EngagementActionSerializer(CharacterFieldMixin, FullCleanModelSerializer):
    class Meta:
        model = EngagementAction
        fields = "__all__"
        read_only_fields = ["status"]


class RescheduleSerializer(serializers.Serializer):
    scheduled_at = WallClockDateTimeField(
        help_text="With an offset: that instant; without: on the post's own clock."
    )


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


class PostingSlotSerializer(serializers.Serializer):
    """One weekly slot: weekday 0 (Monday) to 6 and a time on the
    character's clock."""

    weekday = serializers.IntegerField(min_value=0, max_value=6)
    time = serializers.TimeField(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"])


class PostingSlotsSerializer(serializers.Serializer):
    slots = PostingSlotSerializer(many=True, max_length=7 * 24)  # type: ignore[call-arg]
    timezone = serializers.CharField(read_only=True)


class SpreadSerializer(serializers.Serializer):
    character = serializers.UUIDField()
    content = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=500,
        help_text="Approved items of the character, in the order they go out.",
    )
    accounts = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=20
    )
    start = WallClockDateTimeField(
        required=False,
        allow_null=True,
        help_text="The first slot after this time (default: now). Without an "
        "offset: on the character's clock.",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Only answer the plan; schedule nothing."
    )


class SpreadRowSerializer(serializers.Serializer):
    content = serializers.UUIDField(source="content.pk")
    account = serializers.UUIDField(source="account.pk")
    platform = serializers.CharField(source="account.platform")
    scheduled_at = serializers.DateTimeField(allow_null=True)
    problems = serializers.ListField(child=serializers.CharField())


class SpreadPlanSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    timezone = serializers.CharField()
    errors = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField()
    )
    rows = SpreadRowSerializer(many=True)
    created = serializers.ListField(child=serializers.UUIDField(), required=False)


class TimeSlotSerializer(serializers.Serializer):
    value = serializers.IntegerField(
        help_text="The hour (0-23) or the weekday (0 = Monday)."
    )
    name = serializers.CharField(help_text="'19:00' or 'Tuesday'.")
    posts = serializers.IntegerField(help_text="Published posts behind it.")
    average = serializers.FloatField(help_text="Likes + comments + shares per post.")
    lift = serializers.FloatField(
        help_text="Its average over the account's average (1.5: 50 % better)."
    )


class BestTimesSerializer(serializers.Serializer):
    account = serializers.UUIDField(source="account_id")
    timezone = serializers.CharField(
        help_text="The character's time zone: the clock of the hours and weekdays."
    )
    posts = serializers.IntegerField(
        help_text="Published posts of the window the suggestion is drawn from."
    )
    minimum = serializers.IntegerField(
        help_text="Posts needed for a suggestion (BEST_TIME_MIN_POSTS)."
    )
    window_days = serializers.IntegerField()
    average = serializers.FloatField(help_text="Likes + comments + shares per post.")
    has_suggestion = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why there is no suggestion, or ''.")
    hours = serializers.SerializerMethodField()
    weekdays = serializers.SerializerMethodField()

    @staticmethod
    def _slots(slots, name: str) -> list[dict]:
        return list(
            TimeSlotSerializer(
                [{**vars(s), "name": getattr(s, name)} for s in slots], many=True
            ).data
        )

    @extend_schema_field(TimeSlotSerializer(many=True))
    def get_hours(self, best) -> list[dict]:
        return self._slots(best.hours, "hour_label")

    @extend_schema_field(TimeSlotSerializer(many=True))
    def get_weekdays(self, best) -> list[dict]:
        return self._slots(best.weekdays, "weekday_label")
