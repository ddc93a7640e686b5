"""Writes on content and generation jobs (admin actions and API actions), and
uploads into a character's media library."""

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet

from characters.models import ADULT_AGE, Character
from config.transitions import transition
from content import captions, media
from content.models import Content, ContentGeneration, TextGeneration
from logs.events import emit_many
from logs.models import SystemLog
from logs.services import Actor, actor_metadata, system_log_write
from platforms.models import Platform

COMPONENT = "content_service"
APPROVED = Content.ApprovalStatus.APPROVED


def content_approve(*, queryset: QuerySet[Any], actor: Actor = None) -> int:
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


def content_reject(
    *, queryset: QuerySet[Content], reason: str, actor: Actor = None
) -> int:
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


def content_mark_nsfw(*, queryset: QuerySet[Any], actor: Actor = None) -> int:
    """Mark content NSFW: only an adult character's (adult-only, issue 15)."""
    return transition(
        queryset=queryset.filter(
            character_id__in=Character.all_objects.filter(age__gte=ADULT_AGE).values(
                "pk"
            )
        ),
        field="is_nsfw",
        allowed_from=[False],
        changes={"is_nsfw": True},
        actor=actor,
        component=COMPONENT,
        message="Content marked NSFW",
    )


def generations_cancel(*, queryset: QuerySet[Any], actor: Actor = None) -> int:
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


def generations_retry(*, queryset: QuerySet[Any], actor: Actor = None) -> int:
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


# --- captions and text in the persona's voice (issue 15) ------------------------------

CS = Content.CaptionStatus
TS = TextGeneration.Status


def content_captions_request(
    *, queryset: QuerySet[Content], platform: str | None = None, actor: Any = None
) -> list[TextGeneration]:
    """'Write caption': a caption job per content (admin action, API). The
    text is written by the text queue, never in the request."""
    if platform is not None and platform not in Platform.values:
        raise ValueError(f"Unknown platform {platform!r}.")
    jobs = captions.content_caption_jobs(
        queryset.select_related("character"), platform=platform, actor=actor
    )
    if jobs:
        system_log_write(
            level="info",
            component=COMPONENT,
            message=f"Caption requested for {len(jobs)} content item(s)",
            metadata={
                "by": actor_metadata(actor),
                "text_job_ids": [str(j.pk) for j in jobs],
            },
        )
    return jobs


def content_caption_approve(*, queryset: QuerySet[Content], actor: Any = None) -> int:
    """Approve the current caption (and hashtags) of the content."""
    return transition(
        queryset=queryset,
        field="caption_status",
        allowed_from=[CS.PENDING, CS.FLAGGED, CS.REJECTED],
        changes={"caption_status": CS.APPROVED, "caption_note": None},
        actor=actor,
        component=COMPONENT,
        message="Caption approved",
    )


def content_caption_reject(
    *, queryset: QuerySet[Content], reason: str, actor: Any = None
) -> int:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A rejection needs a reason.")
    return transition(
        queryset=queryset,
        field="caption_status",
        allowed_from=[CS.PENDING, CS.FLAGGED, CS.APPROVED],
        changes={"caption_status": CS.REJECTED, "caption_note": reason},
        actor=actor,
        component=COMPONENT,
        message=f"Caption rejected: {reason}",
    )


def character_voice_preview(
    *, character: Character, platform: str | None = None, actor: Any = None
) -> TextGeneration:
    """'Preview voice': three sample captions, written by the text queue."""
    if platform is not None and platform not in Platform.values:
        raise ValueError(f"Unknown platform {platform!r}.")
    job = TextGeneration.objects.create(
        character=character,
        purpose=TextGeneration.Purpose.VOICE_PREVIEW,
        platform=platform,
        priority=1,  # someone is looking at the page
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    captions.kick()
    return job


def text_generations_approve(
    *, queryset: QuerySet[TextGeneration], actor: Any = None
) -> int:
    """Approve texts held by moderation: they go where they were meant to."""
    with transaction.atomic():
        ids = list(queryset.filter(status=TS.HELD).values_list("pk", flat=True))
        changed = transition(
            queryset=TextGeneration.objects.filter(pk__in=ids),
            allowed_from=[TS.HELD],
            changes={"status": TS.COMPLETED},
            actor=actor,
            component=COMPONENT,
            message="Held text approved",
        )
        for job in TextGeneration.objects.filter(pk__in=ids, status=TS.COMPLETED):
            captions.apply_review(job, approved=True)
    return changed


def text_generations_reject(
    *, queryset: QuerySet[TextGeneration], actor: Any = None
) -> int:
    """Reject texts held by moderation: a post falls back to its template's
    text, an engagement action is cancelled, a content caption is rejected."""
    with transaction.atomic():
        ids = list(queryset.filter(status=TS.HELD).values_list("pk", flat=True))
        changed = transition(
            queryset=TextGeneration.objects.filter(pk__in=ids),
            allowed_from=[TS.HELD],
            changes={"status": TS.REJECTED},
            actor=actor,
            component=COMPONENT,
            message="Held text rejected",
        )
        for job in TextGeneration.objects.filter(pk__in=ids, status=TS.REJECTED):
            captions.apply_review(job, approved=False)
    return changed


def text_generations_retry(
    *, queryset: QuerySet[TextGeneration], actor: Any = None
) -> int:
    """Failed or cancelled text jobs back in the queue with fresh retries."""
    changed = transition(
        queryset=queryset,
        allowed_from=[TS.FAILED, TS.CANCELLED],
        changes={
            "status": TS.PENDING,
            "retry_count": 0,
            "error_message": None,
            "started_at": None,
            "completed_at": None,
            "locked_until": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Text job queued again",
    )
    if changed:
        captions.kick()
    return changed


def text_generations_cancel(
    *, queryset: QuerySet[TextGeneration], actor: Any = None
) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[TS.PENDING, TS.PROCESSING],
        changes={"status": TS.CANCELLED, "locked_until": None},
        actor=actor,
        component=COMPONENT,
        message="Text job cancelled",
    )


# --- The media library: uploads and thumbnails ------------------------------------


@dataclass
class UploadResult:
    """What an upload did: the rows it created and each refused file's reason."""

    created: list[Content] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def _take_file(
    character_id: uuid.UUID | str, upload: UploadedFile, defaults: dict
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
        row = _pending_row(relative, facts, character_id=character_id, **defaults)
        thumb = media.thumbnail_name(character_id, row.id)
        thumb_path = media.inside_media_root(thumb)
        if media.make_thumbnail(final, thumb_path, facts.content_type):
            written.append(thumb_path)
            row.thumbnail_path = thumb
        return row, written
    except Exception:
        _remove_files(written)
        raise


def _pending_row(relative: str, facts: media.MediaFacts, **fields: Any) -> Content:
    """An unsaved library row for a file, described by what it is; awaits
    approval."""
    return Content(
        id=uuid.uuid4(),
        content_type=facts.content_type,
        file_path=relative,
        file_size=facts.file_size,
        width=facts.width,
        height=facts.height,
        duration=facts.duration,
        mime_type=facts.mime_type,
        **fields,
        approval_status=Content.ApprovalStatus.PENDING,
        is_approved=False,
    )


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
    character_id: uuid.UUID | str,
    files: list[UploadedFile],
    actor: Actor = None,
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


# --- Content metadata from a CSV (content.resources) --------------------------------

# what an import may change on content that exists (what staff own in the
# admin: the library's fields, the caption and the prompt)
METADATA_FIELDS = (
    "content_category",
    "tags",
    "folder_path",
    "is_nsfw",
    "caption",
    "hashtags",
    "prompt",
    "negative_prompt",
)


def content_for_file(*, character: Character, file_path: str) -> Content:
    """An unsaved content row for a file already under MEDIA_ROOT (put there
    by a generator or a copy): the path is checked by content.media_paths
    (relative, inside the root, symlinks resolved), and what the file is
    (type, size, pixels, duration) is read from it. Awaits approval.
    Raises ValidationError {"file_path": ...}."""
    try:
        real = media.inside_media_root(file_path)
    except media.MediaRejected as exc:
        raise ValidationError({"file_path": exc.message}) from None
    if not real.is_file():
        raise ValidationError({"file_path": f"No file {file_path} under MEDIA_ROOT."})
    if media.extension_of(real.name) not in media.ALLOWED_EXTENSIONS:
        raise ValidationError(
            {
                "file_path": f"Files of this type are not taken ({media.allowed_summary()})."
            }
        )
    try:
        facts = media.inspect(real)
    except media.MediaRejected as exc:
        raise ValidationError({"file_path": exc.message}) from None
    return _pending_row(file_path, facts, character=character)


def content_problems(content: Content) -> dict[str, list[str]]:
    """What a content row (new or changed) breaks: its fields' validators
    (content.media_paths for the paths) and Content.clean (sizes, adult-only
    NSFW, the caption's review state), without a query when its character is
    loaded. {} when nothing."""
    errors: dict[str, list[str]] = {}
    try:
        content.clean_fields(exclude=["character", "id"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        content.clean()
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    return errors


def content_metadata_import(
    *,
    created: list[Content],
    updated: list[Content],
    fields: list[str],
    actor: Any = None,
) -> int:
    """Write an import, all or none: new rows in one INSERT, changed rows in
    one UPDATE of `fields` (METADATA_FIELDS only). Every row is checked
    again (`content_problems`); ValidationError {"rows": [...]} on any."""
    unknown = set(fields) - set(METADATA_FIELDS)
    if unknown:
        raise ValueError(f"Not changed by an import: {', '.join(sorted(unknown))}.")
    problems = [
        f"{row.file_path}: {m}"
        for row in [*created, *updated]
        for messages in content_problems(row).values()
        for m in messages
    ]
    if problems:
        raise ValidationError({"rows": problems})
    with transaction.atomic():
        if created:
            Content.objects.bulk_create(created)
        if updated and fields:
            Content.objects.bulk_update(updated, fields)
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=f"Content metadata imported: {len(created)} new, "
            f"{len(updated)} changed",
            metadata={
                "by": actor_metadata(actor),
                "created": [str(r.pk) for r in created][:500],
                "updated": [str(r.pk) for r in updated][:500],
            },
        )
    return len(created) + len(updated)
