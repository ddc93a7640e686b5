"""Writes on content and generation jobs (admin actions and API actions), and
uploads into a character's media library."""

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from config.transitions import transition
from content import media
from content.models import Content, ContentGeneration
from logs.models import SystemLog
from logs.services import actor_metadata, system_log_write

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


def _emit_approved(pairs) -> None:
    """Event rules on 'content_approved' run for the characters concerned."""
    from automation.engine import emit

    by_character: dict = {}
    for pk, character_id in pairs:
        by_character.setdefault(character_id, []).append(str(pk))
    emit(
        "content_approved",
        {cid: {"content_ids": ids} for cid, ids in by_character.items()},
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


# --- The media library: uploads and thumbnails ------------------------------------


@dataclass
class UploadResult:
    """What an upload did: the rows it created and each refused file's reason."""

    created: list[Content] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def _take_file(
    character_id, upload: UploadedFile, defaults: dict
) -> tuple[Content, list[Path]]:
    """Write one upload under MEDIA_ROOT, read what it is and make its
    thumbnail. Returns the unsaved row and the files written; on a refusal
    (MediaRejected) nothing stays on disk."""
    name = upload.name or "file"
    if media.extension_of(name) not in media.ALLOWED_EXTENSIONS:
        raise media.MediaRejected(
            f"Files of this type are not taken (allowed: {media.allowed_summary()})."
        )
    if upload.size is not None and upload.size > media.max_upload_bytes():
        raise media.MediaRejected(
            f"The file is {upload.size / (1024 * 1024):.1f} MB; the library takes "
            f"files up to {media.max_upload_bytes() / (1024 * 1024):.1f} MB."
        )
    folder = media.library_folder(character_id)
    incoming = media.inside_media_root(f"{folder}/.incoming-{uuid.uuid4().hex}")
    written: list[Path] = []
    try:
        incoming.parent.mkdir(parents=True, exist_ok=True)
        with incoming.open("wb") as out:
            written.append(incoming)
            for chunk in upload.chunks():
                out.write(chunk)
        facts = media.inspect(incoming)
        relative = media.stored_name(character_id, name, facts)
        final = media.inside_media_root(relative)
        os.replace(incoming, final)
        written = [final]
        row = Content(
            id=uuid.uuid4(),
            character_id=character_id,
            content_type=facts.content_type,
            file_path=relative,
            file_size=facts.file_size,
            width=facts.width,
            height=facts.height,
            duration=facts.duration,
            mime_type=facts.mime_type,
            **defaults,
            approval_status=Content.ApprovalStatus.PENDING,
            is_approved=False,
        )
        thumb = media.thumbnail_name(character_id, row.id)
        thumb_path = media.inside_media_root(thumb)
        if media.make_thumbnail(final, thumb_path, facts.content_type):
            written.append(thumb_path)
            row.thumbnail_path = thumb
        return row, written
    except Exception:
        _remove_files(written)
        raise


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


UPLOAD_FIELDS = frozenset(
    {
        "tags",
        "content_category",
        "folder_path",
        "is_nsfw",
        "prompt",
        "negative_prompt",
    }
)


def content_upload(
    *,
    character_id,
    files: list[UploadedFile],
    actor=None,
    defaults: dict | None = None,
) -> UploadResult:
    """Add uploaded files to a character's library, awaiting approval.

    Each file is checked on its own (type allowlist, size limit, what its
    bytes really are): a refused file is reported with its reason and leaves
    nothing behind; the others are added in one transaction (if that fails,
    their files are removed too).
    """
    defaults = dict(defaults or {})
    unknown = set(defaults) - UPLOAD_FIELDS
    if unknown:
        raise ValueError(f"Not set on upload: {', '.join(sorted(unknown))}.")
    result = UploadResult()
    taken: list[tuple[Content, list[Path]]] = []
    for upload in files:
        try:
            taken.append(_take_file(character_id, upload, defaults))
        except media.MediaRejected as exc:
            result.errors.append((upload.name or "file", exc.message))
    if not taken:
        return result
    rows = [row for row, _ in taken]
    try:
        for row in rows:
            row.full_clean(exclude=["character"])
        with transaction.atomic():
            Content.objects.bulk_create(rows)
            system_log_write(
                level=SystemLog.Level.INFO,
                component=COMPONENT,
                message=f"{len(rows)} file(s) uploaded to the media library",
                character_id=character_id,
                metadata={
                    "by": actor_metadata(actor),
                    "content_ids": [str(r.pk) for r in rows],
                },
            )
    except Exception:
        for _, paths in taken:
            _remove_files(paths)
        raise
    result.created = rows
    return result


def content_thumbnail_ensure(content: Content) -> str | None:
    """The content's thumbnail path, made once (and stored) when it has none.

    For content that came without one (generated, imported): images and
    videos get a JPEG under thumbs/<character>/; audio and text have none.
    """
    if content.thumbnail_path:
        return content.thumbnail_path
    if content.content_type not in Content.VISUAL_TYPES or not content.file_path:
        return None
    try:
        source = media.inside_media_root(content.file_path)
        relative = media.thumbnail_name(content.character_id, content.pk)
        target = media.inside_media_root(relative)
    except media.MediaRejected:
        return None
    if not source.is_file():
        return None
    try:
        made = media.make_thumbnail(source, target, content.content_type)
    except (OSError, ValueError):
        made = False
    if not made:
        return None
    Content.objects.filter(pk=content.pk, thumbnail_path__isnull=True).update(
        thumbnail_path=relative
    )
    content.thumbnail_path = relative
    return relative
