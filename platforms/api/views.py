from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from config.api import CONFLICT, CreatedCursorPagination, ModelViewSet, state_action
from config.api_fast import ValuesListMixin
from config.exceptions import InvalidTransition
from config.timezones import localize
from platforms import services
from platforms.adapters import AdapterError
from platforms.api.serializers import (
    ConnectionTestSerializer,
    EngagementActionSerializer,
    MarkPublishedSerializer,
    PlatformAccountSerializer,
    PostSerializer,
    RescheduleSerializer,
    ScheduledPostSerializer,
)
from platforms.filtersets import (
    EngagementActionFilterSet,
    PlatformAccountFilterSet,
    PostFilterSet,
    ScheduledPostFilterSet,
)
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost


class CanChange(BasePermission):
    """Actions that change a row (or call its platform) need change_<model>,
    whatever their HTTP method maps to."""

    def has_permission(self, request, view):
        opts = view.queryset.model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


CHANGE = [IsAuthenticated, CanChange]


class PlatformAccountViewSet(ModelViewSet):
    # defer: auth_data is never returned, so it is never decrypted either.
    queryset = PlatformAccount.objects.defer("auth_data")
    serializer_class = PlatformAccountSerializer
    filterset_class = PlatformAccountFilterSet
    ordering_fields = ["created_at", "platform", "connection_status"]
    ordering = ["-created_at"]

    def perform_destroy(self, instance):
        if not self.request.user.has_perm("platforms.delete_platformaccount"):
            raise PermissionDenied()
        instance.delete()

    @extend_schema(
        request=None,
        responses={200: ConnectionTestSerializer},
        description=(
            "Asks the platform who the stored credentials belong to (its identity "
            "call) and reports what it saw; changes nothing. `status` is ok, "
            "failed, no_api (a platform published by hand) or no_credentials."
        ),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="test-connection",
        permission_classes=CHANGE,
    )
    def test_connection(self, request, pk=None):
        account = self.get_object()
        result = services.platform_account_test_connection(account_id=account.pk)
        return Response(ConnectionTestSerializer(result).data)


class PostViewSet(ValuesListMixin, ModelViewSet):
    queryset = Post.objects.all()
    serializer_class = PostSerializer
    filterset_class = PostFilterSet
    pagination_class = CreatedCursorPagination
    ordering_fields = ["created_at", "published_at"]

    @extend_schema(
        description=(
            "Takes the post down on its platform (through the account's adapter) "
            "and marks the row 'deleted'; the row and its metrics are kept. "
            "409 when the platform refuses or cannot be reached."
        ),
        responses={204: None, **CONFLICT},
    )
    def destroy(self, request, *args, **kwargs):
        post = self.get_object()
        try:
            services.post_take_down(post=post, actor=request.user)
        except AdapterError as exc:
            raise InvalidTransition(
                f"The post could not be taken down on {post.platform}: {exc.message}"
            ) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduledPostViewSet(ModelViewSet):
    queryset = ScheduledPost.objects.all()
    serializer_class = ScheduledPostSerializer
    filterset_class = ScheduledPostFilterSet
    ordering_fields = ["scheduled_at", "created_at", "status"]
    ordering = ["scheduled_at"]

    @state_action(ScheduledPostSerializer)
    def cancel(self, request, pk=None):
        count = services.scheduled_posts_cancel(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only scheduled or failed posts can be cancelled.")

    @state_action(ScheduledPostSerializer, url_path="publish-now")
    def publish_now(self, request, pk=None):
        count = services.scheduled_posts_publish_now(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only scheduled posts can be published now.")

    @state_action(ScheduledPostSerializer)
    def retry(self, request, pk=None):
        count = services.scheduled_posts_retry(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only failed posts can be retried.")

    @state_action(
        ScheduledPostSerializer,
        request=MarkPublishedSerializer,
        description=(
            "A person published this post by hand (a platform without an "
            "adapter): records it as a publish does, with its URL. 409 when the "
            "post is not scheduled or its platform is published by the engine."
        ),
        url_path="mark-published",
        permission_classes=CHANGE,
    )
    def mark_published(self, request, pk=None):
        body = MarkPublishedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.scheduled_post_mark_published(
            scheduled_post_id=self.get_object().pk,
            url=body.validated_data["url"],
            actor=request.user,
        )
        return self.answer()

    @state_action(ScheduledPostSerializer, request=RescheduleSerializer)
    def reschedule(self, request, pk=None):
        body = RescheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        when = body.validated_data["scheduled_at"]
        if timezone.is_naive(when):  # a wall-clock time in the post's own zone
            when = localize(when, self.get_object().timezone, field="scheduled_at")
        count = services.scheduled_posts_reschedule(
            queryset=self.the_row(), scheduled_at=when, actor=request.user
        )
        return self.changed(
            count, "Published or publishing posts cannot be rescheduled."
        )


class EngagementActionViewSet(ModelViewSet):
    queryset = EngagementAction.objects.all()
    serializer_class = EngagementActionSerializer
    filterset_class = EngagementActionFilterSet
    pagination_class = CreatedCursorPagination

    @state_action(EngagementActionSerializer)
    def cancel(self, request, pk=None):
        count = services.engagement_actions_cancel(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only pending engagement actions can be cancelled.")

    @state_action(EngagementActionSerializer)
    def retry(self, request, pk=None):
        count = services.engagement_actions_retry(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only failed or cancelled actions can be retried.")

    @state_action(
        EngagementActionSerializer,
        description="A person performed this action by hand (a platform without "
        "an adapter).",
        url_path="mark-done",
        permission_classes=CHANGE,
    )
    def mark_done(self, request, pk=None):
        count = services.engagement_action_mark_done(
            action_id=self.get_object().pk, actor=request.user
        )
        return self.changed(
            count,
            "Only a pending action of a platform published by hand can be marked done.",
        )
