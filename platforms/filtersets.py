import django_filters as filters

from config.filters import LiveCharacterFilter, UTCDateTimeFilter
from content.filtersets import TagListFilter
from platforms.models import (
    EngagementAction,
    Platform,
    PlatformAccount,
    Post,
    PostType,
    ScheduledPost,
)


def _range(field, kind=UTCDateTimeFilter):
    return (
        kind(field_name=field, lookup_expr="gte"),
        kind(field_name=field, lookup_expr="lt"),
    )


class PlatformAccountFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=Platform.choices)
    connection_status = filters.ChoiceFilter(
        choices=PlatformAccount.ConnectionStatus.choices
    )
    username = filters.CharFilter(
        field_name="account_username", lookup_expr="icontains"
    )

    class Meta:
        model = PlatformAccount
        fields = ["character", "platform", "connection_status", "is_connected"]


class PostFilterSet(filters.FilterSet):
    character = LiveCharacterFilter()
    platform = filters.ChoiceFilter(choices=Platform.choices)
    post_type = filters.ChoiceFilter(choices=PostType.choices)
    status = filters.ChoiceFilter(choices=Post.Status.choices)
    hashtags = TagListFilter(field_name="hashtags", lookup_expr="contains")
    hashtags_any = TagListFilter(field_name="hashtags", lookup_expr="overlap")
    published_after, published_before = _range("published_at")
    created_after, created_before = _range("created_at")

    class Meta:
        model = Post
        fields = ["character", "platform_account", "platform", "post_type", "status"]


class ScheduledPostFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ScheduledPost.Status.choices)
    post_type = filters.ChoiceFilter(choices=PostType.choices)
    scheduled_after, scheduled_before = _range("scheduled_at")
    hashtags = TagListFilter(field_name="hashtags", lookup_expr="contains")
    hashtags_any = TagListFilter(field_name="hashtags", lookup_expr="overlap")

    class Meta:
        model = ScheduledPost
        fields = ["character", "platform_account", "status", "post_type"]


class EngagementActionFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=Platform.choices)
    action_type = filters.ChoiceFilter(choices=EngagementAction.ActionType.choices)
    status = filters.ChoiceFilter(choices=EngagementAction.Status.choices)
    created_after, created_before = _range("created_at")

    class Meta:
        model = EngagementAction
        fields = ["character", "platform_account", "platform", "action_type", "status"]
