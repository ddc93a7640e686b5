from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api import ReasonSerializer
from config.api_schema import ErrorSerializer
from config.transitions import require_one
from content import services
from content.api.serializers import ContentGenerationSerializer, ContentSerializer
from content.filtersets import ContentFilterSet, ContentGenerationFilterSet
from content.models import Content, ContentGeneration

CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="Not allowed now.")}


class ContentViewSet(viewsets.ModelViewSet):
    queryset = Content.objects.all()
    serializer_class = ContentSerializer
    filterset_class = ContentFilterSet
    ordering_fields = ["created_at", "quality_score", "last_used_at", "times_used"]
    ordering = ["-created_at"]

    def _one(self):
        return Content.objects.filter(pk=self.get_object().pk)

    def _answer(self):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=None, responses={200: ContentSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        count = services.content_approve(queryset=self._one(), actor=request.user)
        require_one(count, "Only pending or rejected content can be approved.")
        return self._answer()

    @extend_schema(
        request=ReasonSerializer, responses={200: ContentSerializer, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        count = services.content_reject(
            queryset=self._one(),
            reason=body.validated_data["reason"],
            actor=request.user,
        )
        require_one(count, "Only pending or approved content can be rejected.")
        return self._answer()


class ContentGenerationViewSet(viewsets.ModelViewSet):
    queryset = ContentGeneration.objects.all()
    serializer_class = ContentGenerationSerializer
    filterset_class = ContentGenerationFilterSet
    ordering_fields = ["created_at", "priority", "status"]
    ordering = ["-created_at"]

    def _one(self):
        return ContentGeneration.objects.filter(pk=self.get_object().pk)

    def _answer(self):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request=None, responses={200: ContentGenerationSerializer, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        count = services.generations_cancel(queryset=self._one(), actor=request.user)
        require_one(count, "Only pending or processing generations can be cancelled.")
        return self._answer()

    @extend_schema(
        request=None, responses={200: ContentGenerationSerializer, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        count = services.generations_retry(queryset=self._one(), actor=request.user)
        require_one(count, "Only failed or cancelled generations can be retried.")
        return self._answer()
