"""Reads on content."""

from content.models import Content


def content_for_character(
    *,
    character_id,
    content_type: str | None = None,
    approved: bool | None = True,
    limit: int = 20,
):
    """The document's query pattern 3: a character's content, newest first.

    With approved=True and a type this uses idx_content_char_type_created.
    """
    qs = Content.objects.filter(character_id=character_id)
    if content_type is not None:
        qs = qs.filter(content_type=content_type)
    if approved is not None:
        qs = qs.filter(is_approved=approved)
    return qs.order_by("-created_at")[:limit]
