"""Writes on content and generation jobs (admin actions and API actions)."""

from typing import Any

from config.transitions import transition
from content.models import Content, ContentGeneration
from logs.events import emit_many

COMPONENT = "content_service"
APPROVED = Content.ApprovalStatus.APPROVED


def content_approve(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        field="approval_status",
        allowed_from=[Content.ApprovalStatus.PENDING, Content.ApprovalStatus.REJECTED],
        changes={
            "approval_status": APPROVED,
            "is_approved": True,
            "rejection_reason": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Content approved",
        after=_emit_approved,
    )


def _emit_approved(pairs: list[tuple[Any, Any]]) -> None:
    """One 'content_approved' event per character, in the same transaction."""
    by_character: dict[Any, list[str]] = {}
    for pk, character_id in pairs:
        by_character.setdefault(character_id, []).append(str(pk))
    emit_many(
        "content_approved",
        ((cid, {"content_ids": ids}) for cid, ids in by_character.items()),
    )


def content_reject(*, queryset, reason: str, actor=None) -> int:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A rejection needs a reason.")
    return transition(
        queryset=queryset,
        field="approval_status",
        allowed_from=[Content.ApprovalStatus.PENDING, APPROVED],
        changes={
            "approval_status": Content.ApprovalStatus.REJECTED,
            "is_approved": False,
            "rejection_reason": reason,
        },
        actor=actor,
        component=COMPONENT,
        message=f"Content rejected: {reason}",
    )


def content_mark_nsfw(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        field="is_nsfw",
        allowed_from=[False],
        changes={"is_nsfw": True},
        actor=actor,
        component=COMPONENT,
        message="Content marked NSFW",
    )


def generations_cancel(*, queryset, actor=None) -> int:
    """Cancel jobs not yet finished; a worker never starts a cancelled job."""
    S = ContentGeneration.Status
    return transition(
        queryset=queryset,
        allowed_from=[S.PENDING, S.PROCESSING],
        changes={"status": S.CANCELLED, "locked_until": None},
        actor=actor,
        component=COMPONENT,
        message="Generation cancelled",
    )


def generations_retry(*, queryset, actor=None) -> int:
    """Put failed or cancelled jobs back in the queue with fresh retries."""
    S = ContentGeneration.Status
    return transition(
        queryset=queryset,
        allowed_from=[S.FAILED, S.CANCELLED],
        changes={
            "status": S.PENDING,
            "retry_count": 0,
            "error_message": None,
            "started_at": None,
            "completed_at": None,
            "duration_seconds": None,
            "locked_until": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Generation queued again",
    )
