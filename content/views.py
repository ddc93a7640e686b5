"""The media library pages of the back-office (mounted by ContentAdmin.get_urls).

A grid per character with upload (one or many files, dragged in or chosen),
a preview of each item with approve / reject-with-reason, and the staff-only
view that serves a library file or its thumbnail (proven inside MEDIA_ROOT).
Each page costs a fixed number of queries, whatever the library's size.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from characters.models import Character
from config.expressions import CountOf
from content import media
from content.media_paths import UnsafeMediaPath, resolve_media_path
from content.models import Content
from content.selectors import LIBRARY_STATUSES, library_counts, library_items
from content.services import (
    content_approve,
    content_reject,
    content_thumbnail_ensure,
    content_upload,
)

PER_PAGE = 48


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or many files under one name (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    uploads = MultipleFileField(
        label="Files",
        help_text=(
            f"Images, videos, audio or text ({media.allowed_summary()}), up to "
            "{limit} each. They join the library awaiting approval."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["uploads"]
        field.help_text = field.help_text.replace(
            "{limit}", filesizeformat(media.max_upload_bytes())
        )
        field.widget.attrs["accept"] = ",".join(
            sorted({*media.ALLOWED, *(f".{e}" for e in media.ALLOWED_EXTENSIONS)})
        )


class ReviewForm(forms.Form):
    content = forms.UUIDField()
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(required=False, max_length=2000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["reason"] = (data.get("reason") or "").strip()
        if data.get("decision") == "reject" and not data["reason"]:
            self.add_error("reason", "A rejection needs a reason.")
        return data


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(f"content.{perm}_content"):
        raise PermissionDenied


def library_url(character_id: Any, **params: Any) -> str:
    url = reverse("admin:content_content_library", args=[character_id])
    return f"{url}?{urlencode(params)}" if params else url


def file_url(content: Content, *, thumbnail: bool = False) -> str:
    name = (
        "admin:content_content_thumbnail" if thumbnail else "admin:content_content_file"
    )
    return reverse(name, args=[content.pk])


def describe(content: Content) -> str:
    """'image/png · 1.2 MB · 1080x1350' / '… · 0:42' for video and audio."""
    parts = [content.mime_type or content.get_content_type_display()]
    if content.file_size:
        parts.append(filesizeformat(content.file_size))
    if content.width and content.height:
        parts.append(f"{content.width}x{content.height}")
    if content.duration is not None and content.content_type in ("video", "audio"):
        parts.append(f"{content.duration // 60}:{content.duration % 60:02d}")
    return " · ".join(parts)


def library_index(request: HttpRequest, admin_context: dict) -> HttpResponse:
    """Characters, with how much of each one's library awaits review (2 queries)."""
    _need(request, "view")
    pending = Content.objects.filter(
        character_id=OuterRef("pk"), approval_status=Content.ApprovalStatus.PENDING
    )
    characters = list(
        Character.objects.annotate(pending=CountOf(pending))
        .only("pk", "name", "timezone", "status")
        .order_by("name")[:500]
    )
    context = {
        **admin_context,
        "title": "Media library",
        "subtitle": None,
        "characters": [
            {"character": c, "url": library_url(c.pk), "pending": c.pending}
            for c in characters
        ],
    }
    return TemplateResponse(request, "admin/content/library_index.html", context)


def library_grid(
    request: HttpRequest, character_id: Any, admin_context: dict
) -> HttpResponse:
    """A character's library: upload, filters, the grid and the preview."""
    _need(request, "view")
    character = get_object_or_404(
        Character.all_objects.only("pk", "name", "timezone"), pk=character_id
    )
    form = UploadForm()
    added = 0
    if request.method == "POST":
        _need(request, "add")
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            result = content_upload(
                character_id=character.pk,
                files=form.cleaned_data["uploads"],
                actor=request.user,
            )
            added = len(result.created)
            for name, why in result.errors:
                form.add_error("uploads", f"{name}: {why}")
            if not result.errors:
                messages.success(
                    request,
                    f"{added} file(s) added to {character.name}'s library, "
                    "awaiting approval.",
                )
                return redirect(library_url(character.pk, status="pending"))
    status = request.GET.get("status") or ""
    kind = request.GET.get("type") or ""
    try:
        page = max(1, int(request.GET.get("page") or 1))
    except ValueError:
        page = 1
    rows, more = library_items(
        character_id=character.pk,
        status=status or None,
        content_type=kind or None,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    counts = library_counts(character_id=character.pk)
    filters = {k: v for k, v in (("status", status), ("type", kind)) if v}
    context = {
        **admin_context,
        "title": f"{character.name}: media library",
        "subtitle": None,
        "character": character,
        "form": form,
        "added": added,
        "can_add": request.user.has_perm("content.add_content"),
        "can_review": request.user.has_perm("content.change_content"),
        "items": [
            {
                "content": c,
                "name": c.file_path.rsplit("/", 1)[-1],
                "info": describe(c),
                "thumb": file_url(c, thumbnail=True)
                if c.content_type in Content.VISUAL_TYPES
                else "",
                "file": file_url(c),
                "change": reverse("admin:content_content_change", args=[c.pk]),
            }
            for c in rows
        ],
        "status": status,
        "type": kind,
        "statuses": [
            {
                "value": s,
                "label": s.capitalize(),
                "count": counts.get(s, 0),
                "url": library_url(character.pk, **{**filters, "status": s}),
            }
            for s in LIBRARY_STATUSES
        ],
        "all_url": library_url(
            character.pk, **{k: v for k, v in filters.items() if k != "status"}
        ),
        "all_count": counts.get("all", 0),
        "types": [
            {
                "value": t,
                "label": label,
                "url": library_url(character.pk, **{**filters, "type": t}),
            }
            for t, label in Content.ContentType.choices
        ],
        "any_type_url": library_url(
            character.pk, **{k: v for k, v in filters.items() if k != "type"}
        ),
        "page": page,
        "previous_url": library_url(character.pk, **filters, page=page - 1)
        if page > 1
        else "",
        "next_url": library_url(character.pk, **filters, page=page + 1) if more else "",
        "review_url": reverse(
            "admin:content_content_library_review", args=[character.pk]
        ),
        "here": request.get_full_path(),
    }
    return TemplateResponse(
        request,
        "admin/content/library.html",
        context,
        status=400 if form.errors else 200,
    )


def library_review(request: HttpRequest, character_id: Any) -> HttpResponse:
    """Approve or reject one item from its preview (POST), then back."""
    _need(request, "change")
    if request.method != "POST":
        return redirect(library_url(character_id))
    form = ReviewForm(request.POST)
    back = request.POST.get("next") or ""
    if not back.startswith(library_url(character_id)):
        back = library_url(character_id)
    if not form.is_valid():
        errors = "; ".join(str(m) for ms in form.errors.values() for m in ms)
        messages.error(request, f"Nothing changed: {errors}")
        return redirect(back)
    queryset = Content.objects.filter(
        pk=form.cleaned_data["content"], character_id=character_id
    )
    name = (queryset.values_list("file_path", flat=True).first() or "this item").rsplit(
        "/", 1
    )[-1]
    if form.cleaned_data["decision"] == "approve":
        changed = content_approve(queryset=queryset, actor=request.user)
        verb = "approved"
    else:
        changed = content_reject(
            queryset=queryset, reason=form.cleaned_data["reason"], actor=request.user
        )
        verb = f"rejected ({form.cleaned_data['reason']})"
    if changed:
        messages.success(request, f"{name} {verb}.")
    else:
        messages.warning(
            request, f"{name} was not changed: it is {verb.split()[0]} already."
        )
    return redirect(back)


def content_file(
    request: HttpRequest, pk: Any, *, thumbnail: bool
) -> HttpResponse | FileResponse:
    """A library file (or its thumbnail) for staff who may see content.

    The stored path is resolved and must lie inside MEDIA_ROOT before the file
    is opened; a thumbnail is made once, on first request, when missing.
    """
    _need(request, "view")
    content = get_object_or_404(
        Content.objects.only(
            "pk",
            "character_id",
            "content_type",
            "file_path",
            "thumbnail_path",
            "mime_type",
        ),
        pk=pk,
    )
    relative = content_thumbnail_ensure(content) if thumbnail else content.file_path
    try:
        real = media.inside_media_root(relative) if relative else None
    except media.MediaRejected:
        real = None
    if real is None or not real.is_file():
        if thumbnail:
            # a tile still shows something: "no preview", not a broken image
            return redirect(static("config/no-preview.svg"))
        raise Http404("No such file.")
    if thumbnail:
        kind = "image/jpeg"
    else:
        kind = (
            content.mime_type
            if content.mime_type in media.ALLOWED
            else mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        )
    response = FileResponse(real.open("rb"), content_type=kind)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    if kind not in media.ALLOWED and kind != "image/jpeg":
        response["Content-Disposition"] = f'attachment; filename="{real.name}"'
    return response


# --- /media/… for staff (the admin's previews) -------------------------------------
# Replaces Django's development-only `static()` serve, which follows a symbolic
# link out of MEDIA_ROOT: every file is resolved by content.media_paths first;
# anything unsafe or missing is a plain 404 (no hint of what exists outside).


@require_GET
@staff_member_required
def media_file(request: HttpRequest, path: str) -> FileResponse:
    try:
        real = resolve_media_path(path)
    except UnsafeMediaPath:
        raise Http404("No such media file.") from None
    if not real.is_file():
        raise Http404("No such media file.")
    content_type, _ = mimetypes.guess_type(real.name)
    response = FileResponse(
        real.open("rb"), content_type=content_type or "application/octet-stream"
    )
    # a stored SVG or HTML file must not run script in the admin's origin
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
