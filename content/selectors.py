"""Reads on content."""

import datetime as dt
import uuid

from django.db.models import QuerySet

from content.models import Content, ContentGeneration, TextGeneration


def content_for_character(
    *,
    character_id: uuid.UUID | str,
    content_type: str | None = None,
    approved: bool | None = True,
    limit: int = 20,
) -> QuerySet[Content]:
    """The document's query pattern 3: a character's content, newest first.

    With approved=True and a type this uses idx_content_char_type_created.
    """
    qs = Content.objects.filter(character_id=character_id)
    if content_type is not None:
        qs = qs.filter(content_type=content_type)
    if approved is not None:
        qs = qs.filter(is_approved=approved)
    return qs.order_by("-created_at")[:limit]


def generation_queue_stats(*, failed_since: dt.datetime) -> dict[str, int]:
    """Pending and processing jobs, and jobs failed since `failed_since`.

    One aggregate over the rows in those states only (idx_generations_status),
    never over the whole table.
    """
    from django.db.models import Count, Q

    S = ContentGeneration.Status
    return ContentGeneration.objects.filter(
        Q(status__in=[S.PENDING, S.PROCESSING])
        | Q(status=S.FAILED, updated_at__gte=failed_since)
    ).aggregate(
        pending=Count("pk", filter=Q(status=S.PENDING)),
        processing=Count("pk", filter=Q(status=S.PROCESSING)),
        failed=Count("pk", filter=Q(status=S.FAILED)),
    )


def latest_voice_preview(*, character_id: uuid.UUID | str) -> TextGeneration | None:
    """The character's newest voice preview (idx_text_generations_character)."""
    return (
        TextGeneration.objects.filter(
            character_id=character_id, purpose=TextGeneration.Purpose.VOICE_PREVIEW
        )
        .order_by("-created_at")
        .first()
    )
