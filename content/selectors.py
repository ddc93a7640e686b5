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


# --- The media library ---------------------------------------------------------------

LIBRARY_STATUSES = ("pending", "approved", "rejected")


def library_items(
    *,
    character_id: uuid.UUID | str,
    status: str | None = None,
    content_type: str | None = None,
    offset: int = 0,
    limit: int = 48,
) -> tuple[list[Content], bool]:
    """One page of a character's library, newest first, and whether more
    follow (one query: LIMIT n+1, never a COUNT over the library).

    idx_content_character narrows to the character; the page is a top-N sort
    of that character's rows.
    """
    qs = Content.objects.filter(character_id=character_id)
    if status in LIBRARY_STATUSES:
        qs = qs.filter(approval_status=status)
    if content_type in Content.ContentType.values:
        qs = qs.filter(content_type=content_type)
    rows = list(qs.order_by("-created_at", "-pk")[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit


def library_counts(*, character_id: uuid.UUID | str) -> dict[str, int]:
    """{status: n, "all": n} for a character's library (one aggregate)."""
    from django.db.models import Count, Q

    counts = Content.objects.filter(character_id=character_id).aggregate(
        all=Count("pk"),
        **{s: Count("pk", filter=Q(approval_status=s)) for s in LIBRARY_STATUSES},
    )
    return {k: int(v or 0) for k, v in counts.items()}


def publishable_content(
    *, character_id: uuid.UUID | str, content_types: tuple[str, ...] | None = None
) -> QuerySet[Content]:
    """What may be put in a character's post: its own approved content (what
    the publisher accepts; NSFW items are marked where they are shown), newest
    first. Served by idx_content_char_type_created (WHERE is_approved)."""
    qs = Content.objects.filter(
        character_id=character_id,
        is_approved=True,
        approval_status=Content.ApprovalStatus.APPROVED,
    )
    if content_types:
        qs = qs.filter(content_type__in=content_types)
    return qs.order_by("-created_at", "-pk")
