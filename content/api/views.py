from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from config.api import (
    CreatedCursorPagination,
    ModelPermissions,
    ModelViewSet,
    ReadOnlyModelViewSet,
    ReasonSerializer,
    reason_given,
    state_action,
)
from config.api_fast import CompiledPages, ValuesListMixin
from config.csv_io import (
    IMPORT_SCHEMA,
    CSVTextParser,
    export_response,
    import_response,
)
from config.transitions import require_one
from content import services
from content.api.serializers import (
    ContentGenerationSerializer,
    ContentSerializer,
    TextGenerationSerializer,
    WriteCaptionSerializer,
)
from content.filtersets import (
    ContentFilterSet,
    ContentGenerationFilterSet,
    TextGenerationFilterSet,
)
from content.models import Content, ContentGeneration, TextGeneration
from content.resources import ContentResource

EXPORT_MAX = 20_000


class CanImport(BasePermission):
    """An import adds and changes content: both permissions."""

    def has_permission(self, request, view):
        return request.user.has_perm("content.add_content") and request.user.has_perm(
            "content.change_content"
        )


class ContentViewSet(ValuesListMixin, ModelViewSet):
    queryset = Content.objects.all()
    serializer_class = ContentSerializer
    filterset_class = ContentFilterSet
    ordering_fields = ["created_at", "quality_score", "last_used_at", "times_used"]
    ordering = ["-created_at"]
    compiled_pages = CompiledPages()  # pages compiled once per shape

    @extend_schema(
        **IMPORT_SCHEMA,
        description=(
            "Import content metadata from a CSV body (Content-Type: text/csv). A "
            "row with an id changes that item's content_category, tags, "
            "folder_path, is_nsfw, caption, hashtags, prompt, negative_prompt (the "
            "columns present); a row without one adds a file already under "
            "MEDIA_ROOT (character, file_path) awaiting approval. All rows or "
            "none; ?dry_run=1 answers the row report and writes nothing."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[CSVTextParser],
        permission_classes=[IsAuthenticated, CanImport],
    )
    def import_csv(self, request):
        return import_response(ContentResource(), request)

    @extend_schema(
        responses={(200, "text/csv"): str},
        description="Content metadata as CSV (the list's filters apply).",
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export_csv(self, request):
        queryset = ContentResource.export_queryset(
            self.filter_queryset(self.get_queryset())
        )
        return export_response(
            ContentResource(), queryset[:EXPORT_MAX], "content-metadata.csv"
        )

    @state_action(ContentSerializer)
    def approve(self, request, pk=None):
        count = services.content_approve(queryset=self.the_row(), actor=request.user)
        return self.changed(count, "Only pending or rejected content can be approved.")

    @state_action(ContentSerializer, request=ReasonSerializer)
    def reject(self, request, pk=None):
        count = services.content_reject(
            queryset=self.the_row(), reason=reason_given(request), actor=request.user
        )
        return self.changed(count, "Only pending or approved content can be rejected.")

    @state_action(
        TextGenerationSerializer,
        code=status.HTTP_202_ACCEPTED,
        request=WriteCaptionSerializer,
        url_path="write-caption",
    )
    def write_caption(self, request, pk=None):
        """Ask the text queue for a caption in the persona's voice (202: the
        job; the caption lands on the content, awaiting approval)."""
        body = WriteCaptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        jobs = services.content_captions_request(
            queryset=self.the_row(),
            platform=body.validated_data.get("platform"),
            actor=request.user,
        )
        require_one(len(jobs), "A caption is already being written for this content.")
        return Response(
            TextGenerationSerializer(jobs[0]).data, status=status.HTTP_202_ACCEPTED
        )

    @state_action(ContentSerializer, url_path="approve-caption")
    def approve_caption(self, request, pk=None):
        count = services.content_caption_approve(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(
            count, "Only a pending, flagged or rejected caption can be approved."
        )

    @state_action(
        ContentSerializer, request=ReasonSerializer, url_path="reject-caption"
    )
    def reject_caption(self, request, pk=None):
        count = services.content_caption_reject(
            queryset=self.the_row(), reason=reason_given(request), actor=request.user
        )
        return self.changed(
            count, "Only a pending, flagged or approved caption can be rejected."
        )


class ReviewPermissions(ModelPermissions):
    """Text jobs are never added through the API: its POSTs are reviews."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


class TextGenerationViewSet(ReadOnlyModelViewSet):
    """Text jobs: what the persona wrote, the prompt, the model and the tokens."""

    permission_classes = [ReviewPermissions]
    queryset = TextGeneration.objects.all()
    serializer_class = TextGenerationSerializer
    filterset_class = TextGenerationFilterSet
    pagination_class = CreatedCursorPagination
    ordering = ["-created_at"]

    @state_action(TextGenerationSerializer)
    def approve(self, request, pk=None):
        """Approve a text held by moderation: it goes where it was meant to."""
        count = services.text_generations_approve(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only a text held by moderation can be approved.")

    @state_action(TextGenerationSerializer)
    def reject(self, request, pk=None):
        count = services.text_generations_reject(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "Only a text held by moderation can be rejected.")


class ContentGenerationViewSet(ModelViewSet):
    queryset = ContentGeneration.objects.all()
    serializer_class = ContentGenerationSerializer
    filterset_class = ContentGenerationFilterSet
    ordering_fields = ["created_at", "priority", "status"]
    ordering = ["-created_at"]

    @state_action(ContentGenerationSerializer)
    def cancel(self, request, pk=None):
        count = services.generations_cancel(queryset=self.the_row(), actor=request.user)
        return self.changed(
            count, "Only pending or processing generations can be cancelled."
        )

    @state_action(ContentGenerationSerializer)
    def retry(self, request, pk=None):
        count = services.generations_retry(queryset=self.the_row(), actor=request.user)
        return self.changed(
            count, "Only failed or cancelled generations can be retried."
        )
