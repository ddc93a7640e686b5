from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.http import parse_etags
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from characters.api.serializers import CharacterSerializer
from characters.filtersets import CharacterFilterSet
from characters.models import Character
from characters.selectors import (
    CHARACTER_CACHE_TTL,
    character_api_cache_key,
    character_with_stats_cached,
    characters_with_stats,
)
from characters.services import character_soft_delete
from config import api_gate
from config.api import ModelViewSet
from config.api_fast import CompiledGet, CompiledPages, Plan, ValuesListMixin
from config.api_renderers import answer_etag
from content.api.serializers import TextGenerationSerializer
from content.services import character_voice_preview


class CharacterViewSet(ValuesListMixin, ModelViewSet):
    """Characters with nested personality and appearance, post and platform counts."""

    # for permissions (the model); the data comes from get_queryset()
    queryset = Character.objects.all()
    serializer_class = CharacterSerializer
    filterset_class = CharacterFilterSet
    ordering_fields = ["created_at", "name", "status"]
    ordering = ["-created_at"]
    # get_queryset() is the same for everyone: pages compiled once per shape
    compiled_pages = CompiledPages()

    def get_queryset(self):
        # Query pattern 1: select_related profile rows + count subqueries.
        return characters_with_stats()

    def retrieve(self, request, *args, **kwargs):
        # The document's section 7.3: the detail read goes through the
        # five-minute Redis cache, invalidated on every edit of the character,
        # its personality or its appearance (characters/signals.py).
        # The serialized answer is cached next to the row: building it costs
        # more than the query did.
        # With it goes an ETag of the answer: a client that sends it back in
        # If-None-Match gets a 304, which costs no serialization at all.
        key = character_api_cache_key(kwargs["pk"])
        cached = api_gate.read(request, key)  # read with the token's check
        if cached is api_gate.NOT_READ:
            cached = cache.get(key)
        if isinstance(cached, tuple):
            etag, data = cached
        else:
            data = self._detail(request, kwargs["pk"])
            etag = answer_etag(data)
            cache.set(key, (etag, data), CHARACTER_CACHE_TTL)
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def gate_reads(self) -> list[str]:
        """The cache keys the gate reads in its round trip (config.api_gate)."""
        if self.action == "retrieve" and "pk" in self.kwargs:
            return [character_api_cache_key(self.kwargs["pk"])]
        return []

    def _detail(self, request, pk) -> dict:
        """The answer of a detail read, built from a values() row through the
        serializer's own fields (config.api_fast) when it qualifies."""
        plan = self._values_plan()
        try:
            if plan is None:
                character = character_with_stats_cached(pk)
                self.check_object_permissions(request, character)
                return dict(self.get_serializer(character).data)
            row = self._compiled_detail(plan).get(pk)
            if row is None:
                raise Character.DoesNotExist
        except (Character.DoesNotExist, DjangoValidationError, ValueError):
            raise NotFound("No character with this id.") from None
        self.check_object_permissions(request, row)
        return plan.render(row)

    # by the plan (kept for the process by _values_plan): its values() names
    _compiled: dict[int, CompiledGet] = {}

    @classmethod
    def _compiled_detail(cls, plan: Plan) -> CompiledGet:
        """The detail read's query, compiled once per process (two threads
        may both build it the first time: the same answer)."""
        compiled = cls._compiled.get(id(plan))
        if compiled is None:
            compiled = CompiledGet(characters_with_stats().values(*plan.sources))
            cls._compiled[id(plan)] = compiled
        return compiled

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        # Re-read with the annotations so the counts are in the answer.
        obj = self.get_queryset().get(pk=kwargs["pk"])
        response.data = self.get_serializer(obj).data
        return response

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        character = serializer.save()
        obj = self.get_queryset().get(pk=character.pk)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        character_soft_delete(character=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: TextGenerationSerializer})
    @action(detail=True, methods=["post"], url_path="preview-voice")
    def preview_voice(self, request, pk=None):
        """Three sample captions in the persona's voice, written by the text
        queue (202: the job; read it at /text-generations/{id}/)."""
        character = self.get_object()
        job = character_voice_preview(character=character, actor=request.user)
        return Response(
            TextGenerationSerializer(job).data, status=status.HTTP_202_ACCEPTED
        )
