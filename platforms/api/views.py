from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from characters.models import Character
from config.api import CONFLICT, CreatedCursorPagination, ModelViewSet, state_action
from config.api_fast import CompiledPages, ValuesListMixin
from config.csv_io import (
    IMPORT_SCHEMA,
    CSVTextParser,
    export_response,
    import_response,
)
from config.exceptions import InvalidTransition
from config.timezones import localize
from platforms import services
from platforms.adapters import AdapterError
from platforms.api.serializers import (
    BestTimesSerializer,
    ConnectionTestSerializer,
    EngagementActionSerializer,
    MarkPublishedSerializer,
    PlatformAccountSerializer,
    PostingSlotsSerializer,
    PostSerializer,
    RescheduleSerializer,
    ScheduledPostSerializer,
    SpreadPlanSerializer,
    SpreadSerializer,
)
from platforms.filtersets import (
    EngagementActionFilterSet,
    PlatformAccountFilterSet,
    PostFilterSet,
    ScheduledPostFilterSet,
)
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost
from platforms.resources import ScheduledPostResource
from platforms.selectors import account_best_times, account_slots
from platforms.slots import Slot


class CanChange(BasePermission):
    """Actions that change a row (or call its platform) need change_<model>,
    whatever their HTTP method maps to."""

    def has_permission(self, request, view):
        opts = view.queryset.model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


CHANGE = [IsAuthenticated, CanChange]


class CanAdd(BasePermission):
    """Scheduling in bulk needs add_<model> (whatever the HTTP method)."""

    def has_permission(self, request, view):
        opts = view.queryset.model._meta
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")


EXPORT_MAX = 20_000


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

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: PostingSlotsSerializer},
        description="The account's weekly posting slots (weekday 0 = Monday), on "
        "its character's clock (`timezone`).",
    )
    @extend_schema(
        methods=["PUT"],
        request=PostingSlotsSerializer,
        responses={200: PostingSlotsSerializer},
        description="Replace the account's weekly posting slots.",
    )
    @action(detail=True, methods=["get", "put"], url_path="slots")
    def slots(self, request, pk=None):
        account = self.get_object()
        if request.method == "PUT":
            if not request.user.has_perm("platforms.change_platformaccount"):
                raise PermissionDenied()
            body = PostingSlotsSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            services.posting_slots_set(
                account=account,
                slots=[
                    Slot(s["weekday"], s["time"]) for s in body.validated_data["slots"]
                ],
                actor=request.user,
            )
        slots = sorted(account_slots(account_ids=[account.pk])[account.pk])
        zone_name = account.character.timezone or "UTC"
        return Response(
            PostingSlotsSerializer(
                {
                    "slots": [{"weekday": s.weekday, "time": s.time} for s in slots],
                    "timezone": zone_name,
                }
            ).data
        )

    @extend_schema(
        responses={200: BestTimesSerializer},
        description=(
            "The hours and weekdays (on the character's clock) at which this "
            "account's own published posts of the last BEST_TIME_WINDOW_DAYS "
            "days got the most likes, comments and shares per post, each with "
            "the number of posts behind it. No suggestion (empty lists, "
            "`has_suggestion` false, `reason` says why) from fewer than "
            "BEST_TIME_MIN_POSTS posts."
        ),
    )
    @action(detail=True, methods=["get"], url_path="best-times")
    def best_times(self, request, pk=None):
        account = self.get_object()
        best = account_best_times(account_id=account.pk)
        return Response(BestTimesSerializer(best).data)


class PostViewSet(ValuesListMixin, ModelViewSet):
    queryset = Post.objects.all()
    serializer_class = PostSerializer
    filterset_class = PostFilterSet
    pagination_class = CreatedCursorPagination
    ordering_fields = ["created_at", "published_at"]
    compiled_pages = CompiledPages()  # pages compiled once per shape

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

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action in ("update", "partial_update"):
            # the platform's rules (ScheduledPost.clean) read both
            queryset = queryset.select_related("platform_account", "content").defer(
                "platform_account__auth_data"
            )
        return queryset

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
            "A person saw this post on its platform: records it as a publish "
            "does, with its URL. For a post published by hand (a platform "
            "without an adapter, status scheduled) the URL is its platform id; "
            "for a post whose outcome is unknown (failed, 'Outcome unknown') "
            "the platform is asked whether the link is the account's post (400 "
            "on the url when it is not). 409 for any other post."
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

    @extend_schema(
        request=SpreadSerializer,
        responses={
            200: SpreadPlanSerializer,
            201: SpreadPlanSerializer,
            400: OpenApiResponse(
                description="A field's error ({field: [messages]}), or the plan "
                "(as for 200) with each row's problems."
            ),
        },
        description=(
            "Spread approved items of one character over the next free posting "
            "slots of the chosen accounts: each item a post on each account, the "
            "first item at the first free slot. A slot is free when the account "
            "has no post scheduled, being published or published at that minute. "
            "All or none: 201 with the plan and the new posts' ids; 400 with every "
            "row's problems; `dry_run` answers the plan (200) and schedules nothing."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="spread",
        permission_classes=[IsAuthenticated, CanAdd],
    )
    def spread(self, request):
        body = SpreadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        start = data.get("start")
        character = (
            Character.objects.only("pk", "timezone")
            .filter(pk=data["character"])
            .first()
        )
        if character is None:
            raise ValidationError({"character": "No such character."})
        if start is not None and timezone.is_naive(start):
            start = localize(start, character.timezone or "UTC", field="start")
        args = {
            "character_id": character.pk,
            "content_ids": data["content"],
            "account_ids": data["accounts"],
            "start": start,
        }
        plan = services.scheduled_posts_spread_plan(**args)
        if data["dry_run"] or not plan.ok:
            answer = SpreadPlanSerializer(plan).data
            return Response(answer, status=200 if plan.ok else 400)
        try:
            created = services.scheduled_posts_spread(**args, actor=request.user)
        except DjangoValidationError:
            # taken meanwhile: answer the plan as it is now
            plan = services.scheduled_posts_spread_plan(**args)
            return Response(SpreadPlanSerializer(plan).data, status=400)
        answer = SpreadPlanSerializer(plan).data
        answer["created"] = [str(p.pk) for p in created]
        return Response(answer, status=status.HTTP_201_CREATED)

    @extend_schema(
        **IMPORT_SCHEMA,
        description=(
            "Import scheduled posts from a CSV body (Content-Type: text/csv; "
            "columns character, platform, scheduled_at, timezone, content, caption, "
            "hashtags, post_type). scheduled_at: ISO with an offset, or a wall-clock "
            "time read in the row's timezone (default: the character's). Every row "
            "goes through the scheduling rules; all rows or none are scheduled. "
            "?dry_run=1 answers the row report (200) and writes nothing; otherwise "
            "201, or 400 with each wrong row's errors by column."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[CSVTextParser],
        permission_classes=[IsAuthenticated, CanAdd],
    )
    def import_csv(self, request):
        return import_response(ScheduledPostResource(), request)

    @extend_schema(
        responses={(200, "text/csv"): str},
        description="The scheduled posts as CSV (the list's filters apply), in the "
        "columns the import reads plus id, account and status.",
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export_csv(self, request):
        queryset = ScheduledPostResource.export_queryset(
            self.filter_queryset(self.get_queryset())
        )
        return export_response(
            ScheduledPostResource(), queryset[:EXPORT_MAX], "scheduled-posts.csv"
        )

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
