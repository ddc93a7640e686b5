"""Back-office for the content library and the generation queue."""

import json

from django import forms
from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV

from config.admin_site import (
    BigTableAdmin,
    CharacterZoneMixin,
    action_with_form,
    recent_filter,
    report,
    reverse_pk,
    selected_count,
)
from content import media
from content.forms import GenerationSettingsForm
from content.media_paths import media_path_problem
from content.models import Content, ContentGeneration, TextGeneration
from content.resources import ContentResource
from content.services import (
    content_approve,
    content_caption_approve,
    content_caption_reject,
    content_captions_request,
    content_mark_nsfw,
    content_reject,
    content_upload,
    generations_cancel,
    generations_retry,
    text_generations_approve,
    text_generations_cancel,
    text_generations_reject,
    text_generations_retry,
)
from content.text_backends import development_notice
from platforms.bulk_views import spread_action
from platforms.models import Platform


def pretty_json(value) -> str:
    if value in (None, "", {}, []):
        return "-"
    return format_html(
        '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False),
    )


def readable_text(value) -> str:
    if not value:
        return "-"
    return format_html(
        '<div style="white-space:pre-wrap;max-width:60em">{}</div>', value
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Shown to the team and kept in the audit log.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A rejection needs a reason.")
        return reason


class WriteCaptionForm(forms.Form):
    platform = forms.ChoiceField(
        choices=[("", "The character's strictest platform"), *Platform.choices],
        required=False,
        help_text="Whose caption length and hashtag limits the text must fit.",
    )


class ContentAddForm(forms.ModelForm):
    """Adding content is uploading a file: what it is (type, size, pixels,
    duration, mime type) is read from the file, not typed in."""

    upload = forms.FileField(
        label="File",
        help_text=(
            f"An image, video, audio or text file ({media.allowed_summary()}). "
            "Its type, size, dimensions and duration are read from the file; it "
            "is stored under the character's library and awaits approval. "
            "Several at once: use the character's media library."
        ),
    )

    class Meta:
        model = Content
        fields = (
            "character",
            "tags",
            "content_category",
            "folder_path",
            "is_nsfw",
            "prompt",
            "negative_prompt",
        )

    created: Content | None = None

    def clean(self):
        data = super().clean() or {}
        upload = data.get("upload")
        character = data.get("character")
        if self.errors or upload is None or character is None:
            return data
        result = content_upload(
            character_id=character.pk,
            files=[upload],
            actor=getattr(self, "actor", None),
            defaults={
                k: data.get(k)
                for k in (
                    "tags",
                    "content_category",
                    "folder_path",
                    "is_nsfw",
                    "prompt",
                    "negative_prompt",
                )
                if data.get(k) not in (None, "", [])
            },
        )
        for _, why in result.errors:
            self.add_error("upload", why)
        if result.created:
            self.created = result.created[0]
            self.instance = self.created
        return data

    def _post_clean(self):
        # the row is the service's (validated there); nothing to copy onto it
        if self.created is None:
            super()._post_clean()  # type: ignore[misc]


@admin.register(Content)
class ContentAdmin(ImportExportMixin, CharacterZoneMixin, BigTableAdmin):
    # CSV of content metadata: a dry-run preview with each row's errors, then
    # all rows through content.services.content_metadata_import
    resource_classes = [ContentResource]
    formats = [CSV]
    list_display = (
        "thumbnail",
        "file_name",
        "character",
        "content_type",
        "approval_status",
        "caption_status",
        "is_nsfw",
        "quality_score",
        "times_used",
        "created_at",
    )
    list_display_links = ("thumbnail", "file_name")
    list_filter = (
        "approval_status",
        "caption_status",
        "content_type",
        "is_nsfw",
        recent_filter("created_at", title="created", parameter="created"),
    )
    search_fields = ("prompt",)
    ordering = ("-created_at",)
    sortable_by = ("created_at", "quality_score", "approval_status", "content_type")
    list_select_related = ("character",)
    autocomplete_fields = ("character",)
    actions = (
        "approve",
        "reject",
        "spread_over_slots",
        "write_caption",
        "approve_caption",
        "reject_caption",
        "mark_nsfw",
    )
    # What the generator produced and what the system counts is read-only
    # once the row exists; staff own the tags, the category and the folder.
    system_fields = (
        "character",
        "content_type",
        "file_url",
        "file_path",
        "thumbnail_url",
        "thumbnail_path",
        "file_size",
        "width",
        "height",
        "duration",
        "mime_type",
        "seed",
        "generation_time_seconds",
        "quality_score",
    )
    always_readonly = (
        "preview",
        "file_info",
        "readable_prompt",
        "readable_negative_prompt",
        "readable_settings",
        "approval_status",
        "is_approved",
        "rejection_reason",
        "caption_status",
        "caption_note",
        "caption_source",
        "times_used",
        "last_used_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("preview", "character", "content_type", "file_info")}),
        (
            "Library",
            {"fields": ("tags", "content_category", "folder_path", "is_nsfw")},
        ),
        (
            "Review",
            {
                "fields": (
                    # the caption's approval next to the media's
                    ("approval_status", "is_approved", "caption_status"),
                    "rejection_reason",
                    ("times_used", "last_used_at"),
                )
            },
        ),
        (
            "Caption",
            {
                "description": (
                    "Written in the persona's voice ('Write caption') or by hand. "
                    "A caption changed after approval needs approval again; a "
                    "scheduled post without its own caption publishes this one "
                    "once it is approved."
                ),
                "fields": ("caption", "hashtags", "caption_note", "caption_source"),
            },
        ),
        (
            "Generation",
            {
                "fields": (
                    "readable_prompt",
                    "readable_negative_prompt",
                    "readable_settings",
                    ("seed", "generation_time_seconds", "quality_score"),
                )
            },
        ),
        (
            "File",
            {
                "classes": ("collapse",),
                "fields": (
                    "file_path",
                    "file_url",
                    ("thumbnail_path", "thumbnail_url"),
                    ("mime_type", "file_size"),
                    ("width", "height", "duration"),
                    ("created_at", "updated_at"),
                ),
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "character",
                    "upload",
                    "tags",
                    "content_category",
                    "folder_path",
                    "is_nsfw",
                    "prompt",
                    "negative_prompt",
                )
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            # the upload's audit row names who added it
            kwargs["form"] = type(
                "ContentAddForm", (ContentAddForm,), {"actor": request.user}
            )
        return super().get_form(request, obj, change, **kwargs)

    def save_form(self, request, form, change):
        if not change and isinstance(form, ContentAddForm):
            # the upload service wrote the row while the form was validated
            # (so that a bad file is a form error): nothing more to save
            return form.created
        return super().save_form(request, form, change)

    def save_model(self, request, obj, form, change):
        if not change and isinstance(form, ContentAddForm):
            return
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if not change and isinstance(form, ContentAddForm):
            return  # no many-to-many fields, no inlines: the service did it all
        super().save_related(request, form, formsets, change)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (*self.always_readonly, *self.system_fields)

    # --- display -------------------------------------------------------------------

    def get_urls(self):
        from functools import partial

        from django.urls import path

        from content import views

        site = self.admin_site

        def page(view):
            """An admin page: logged-in staff, the admin's own context."""

            def with_context(request, **kwargs):
                return view(request, admin_context=site.each_context(request), **kwargs)

            return site.admin_view(with_context)

        return [
            path(
                "library/",
                page(views.library_index),
                name="content_content_library_index",
            ),
            path(
                "library/<uuid:character_id>/",
                page(views.library_grid),
                name="content_content_library",
            ),
            path(
                "library/<uuid:character_id>/review/",
                site.admin_view(views.library_review),
                name="content_content_library_review",
            ),
            path(
                "<uuid:pk>/file/",
                site.admin_view(partial(views.content_file, thumbnail=False)),
                name="content_content_file",
            ),
            path(
                "<uuid:pk>/thumbnail/",
                site.admin_view(partial(views.content_file, thumbnail=True)),
                name="content_content_thumbnail",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def image_url(obj) -> str | None:
        """The picture that stands for the item (its thumbnail, made once),
        served by the staff-only file view; None for audio and text."""
        if obj.content_type not in Content.VISUAL_TYPES:
            return None
        if obj.thumbnail_url and not obj.thumbnail_path:
            return obj.thumbnail_url
        return reverse_pk("admin:content_content_thumbnail", obj.pk)

    @admin.display(description="File")
    def file_name(self, obj):
        return obj.file_path.rsplit("/", 1)[-1]

    @admin.display(description="")
    def thumbnail(self, obj):
        url = self.image_url(obj)
        if url:
            return format_html(
                '<img src="{}" alt="" loading="lazy" '
                'style="width:48px;height:48px;object-fit:cover;border-radius:4px">',
                url,
            )
        return obj.get_content_type_display()

    @admin.display(description="Preview")
    def preview(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        problem = media_path_problem(obj.file_path) if obj.file_path else None
        if problem:
            return format_html("No preview: {}", problem)
        url = reverse("admin:content_content_file", args=[obj.pk])
        if obj.content_type == Content.ContentType.IMAGE:
            return format_html(
                '<a href="{0}" target="_blank" rel="noopener"><img src="{0}" alt="{1}" '
                'style="max-width:320px;max-height:320px;border-radius:4px"></a>',
                url,
                f"{obj.file_path} (file not found)",
            )
        if obj.content_type == Content.ContentType.VIDEO:
            return format_html(
                '<video src="{}" controls preload="metadata" '
                'style="max-width:420px;max-height:320px"></video>',
                url,
            )
        if obj.content_type == Content.ContentType.AUDIO:
            return format_html('<audio src="{}" controls preload="none"></audio>', url)
        return format_html(
            '{} file: <a href="{}" target="_blank" rel="noopener">{}</a>',
            obj.get_content_type_display(),
            url,
            self.file_info(obj),
        )

    @admin.display(description="File")
    def file_info(self, obj):
        parts = [obj.mime_type or obj.get_content_type_display()]
        if obj.file_size:
            parts.append(filesizeformat(obj.file_size))
        if obj.width and obj.height:
            parts.append(f"{obj.width}x{obj.height}")
        if obj.duration is not None:
            parts.append(f"{obj.duration} s")
        return ", ".join(parts)

    @admin.display(description="Prompt")
    def readable_prompt(self, obj):
        return readable_text(obj.prompt)

    @admin.display(description="Written by")
    def caption_source(self, obj):
        """The last text job for this content: its prompt explains the text."""
        job = (
            TextGeneration.objects.filter(content=obj, purpose="content_caption")
            .only("pk", "status", "model", "backend", "created_at")
            .order_by("-created_at")
            .first()
        )
        if job is None:
            return "-"
        url = reverse("admin:content_textgeneration_change", args=[job.pk])
        return format_html(
            '<a href="{}">text job {} ({}, {})</a>',
            url,
            str(job.pk)[:8],
            job.get_status_display().lower(),
            job.model or job.backend or "not run yet",
        )

    @admin.display(description="Negative prompt")
    def readable_negative_prompt(self, obj):
        return readable_text(obj.negative_prompt)

    @admin.display(description="Settings")
    def readable_settings(self, obj):
        return pretty_json(obj.generation_settings)

    # --- actions -----------------------------------------------------------------

    def has_spread_permission(self, request) -> bool:
        return request.user.has_perm("platforms.add_scheduledpost")

    @admin.action(
        description="Spread selected approved items over the next free slots...",
        permissions=["spread"],
    )
    def spread_over_slots(self, request, queryset):
        """Each item a post on each chosen account at its next free posting
        slot: a preview, then all or none (platforms.bulk_views)."""
        return spread_action(self, request, queryset)

    @admin.action(description="Approve selected content", permissions=["change"])
    def approve(self, request, queryset):
        changed = content_approve(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "approved")

    @admin.action(description="Reject selected content...", permissions=["change"])
    def reject(self, request, queryset):
        count = selected_count(request)

        def apply(data):
            changed = content_reject(
                queryset=queryset, reason=data["reason"], actor=request.user
            )
            report(self, request, changed, count, "rejected")

        return action_with_form(
            self,
            request,
            queryset,
            form_class=RejectForm,
            title="Reject content",
            submit_label="Reject",
            apply=apply,
        )

    @admin.action(description="Mark selected content as NSFW", permissions=["change"])
    def mark_nsfw(self, request, queryset):
        changed = content_mark_nsfw(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "marked NSFW")
        if selected_count(request) != changed:
            self.message_user(
                request,
                "NSFW is adult-only: content of characters under 18 (or without "
                "an age) is left as it is.",
                messages.WARNING,
            )

    @admin.action(
        description="Write caption (persona's voice)...", permissions=["change"]
    )
    def write_caption(self, request, queryset):
        count = selected_count(request)

        def apply(data):
            jobs = content_captions_request(
                queryset=queryset, platform=data["platform"] or None, actor=request.user
            )
            self.message_user(
                request,
                f"{len(jobs)} caption(s) asked for; the text queue writes them in a "
                "moment. Content already waiting for a caption was skipped."
                if count is None or len(jobs) < count
                else f"{len(jobs)} caption(s) asked for; the text queue writes them "
                "in a moment.",
                messages.SUCCESS if jobs else messages.WARNING,
            )

        return action_with_form(
            self,
            request,
            queryset,
            form_class=WriteCaptionForm,
            title="Write captions in the persona's voice",
            submit_label="Write captions",
            apply=apply,
        )

    @admin.action(description="Approve selected captions", permissions=["change"])
    def approve_caption(self, request, queryset):
        changed = content_caption_approve(queryset=queryset, actor=request.user)
        selected = selected_count(request) or 0
        self.message_user(
            request,
            f"{changed} caption(s) approved."
            + (
                f" {selected - changed} skipped (no caption, or approved already)."
                if selected > changed
                else ""
            ),
            messages.SUCCESS if changed else messages.WARNING,
        )

    @admin.action(description="Reject selected captions...", permissions=["change"])
    def reject_caption(self, request, queryset):
        def apply(data):
            changed = content_caption_reject(
                queryset=queryset, reason=data["reason"], actor=request.user
            )
            self.message_user(
                request,
                f"{changed} caption(s) rejected.",
                messages.SUCCESS if changed else messages.WARNING,
            )

        return action_with_form(
            self,
            request,
            queryset,
            form_class=RejectForm,
            title="Reject captions",
            submit_label="Reject",
            apply=apply,
        )


class ContentGenerationForm(GenerationSettingsForm):
    class Meta:
        model = ContentGeneration
        exclude = ("generation_settings",)


@admin.register(ContentGeneration)
class ContentGenerationAdmin(CharacterZoneMixin, BigTableAdmin):
    form = ContentGenerationForm
    list_display = (
        "short_id",
        "character",
        "job_type",
        "status",
        "priority",
        "batch_size",
        "success_count",
        "failure_count",
        "retry_count",
        "created_at",
        "completed_at",
    )
    list_filter = (
        "status",
        "job_type",
        recent_filter("created_at", title="created", parameter="created"),
        recent_filter("updated_at", title="updated", parameter="updated"),
    )
    search_fields = ("prompt",)
    ordering = ("-created_at",)
    sortable_by = ("created_at", "priority", "status", "job_type")
    list_select_related = ("character",)
    autocomplete_fields = ("character",)
    actions = ("cancel", "retry")
    readonly_fields = (
        "readable_settings",
        "generated_content_ids",
        "success_count",
        "failure_count",
        "error_message",
        "retry_count",
        "started_at",
        "completed_at",
        "duration_seconds",
        "locked_until",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "character",
                    ("job_type", "status", "is_nsfw"),
                    ("priority", "batch_size", "max_retries"),
                    "prompt",
                    "negative_prompt",
                )
            },
        ),
        (
            "Generation settings",
            {
                "description": (
                    "Empty fields use the backend's defaults and the character's "
                    "appearance (base model, prompt prefix, negative prompt)."
                ),
                "fields": (
                    ("gs_width", "gs_height"),
                    ("gs_steps", "gs_cfg_scale", "gs_seed"),
                    ("gs_sampler", "gs_base_model"),
                    "gs_content_category",
                    "gs_other",
                ),
            },
        ),
        (
            "Progress",
            {
                "fields": (
                    ("success_count", "failure_count", "retry_count"),
                    "error_message",
                    ("started_at", "completed_at", "duration_seconds"),
                    "locked_until",
                    "generated_content_ids",
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # The queue owns a job's state once it exists: use the actions.
            return ("character", "job_type", "status", *self.readonly_fields)
        return self.readonly_fields

    @admin.display(description="Job", ordering="created_at")
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description="Settings")
    def readable_settings(self, obj):
        return pretty_json(obj.generation_settings)

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel(self, request, queryset):
        changed = generations_cancel(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "cancelled")

    @admin.action(description="Retry selected jobs", permissions=["change"])
    def retry(self, request, queryset):
        changed = generations_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")


@admin.register(TextGeneration)
class TextGenerationAdmin(BigTableAdmin):
    """What the persona wrote, with the prompt that made it (read-only)."""

    list_display = (
        "short_id",
        "character",
        "purpose",
        "status",
        "platform",
        "excerpt",
        "model",
        "tokens",
        "duration_ms",
        "created_at",
    )
    list_filter = (
        "status",
        "purpose",
        recent_filter("created_at", title="created", parameter="created"),
    )
    ordering = ("-created_at",)
    sortable_by = ("created_at", "status", "purpose")
    list_select_related = ("character",)
    raw_id_fields = ("character", "content")
    actions = ("approve_held", "reject_held", "retry", "cancel")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "notice",
                    ("character", "purpose", "status"),
                    ("content", "platform", "priority"),
                    "error_message",
                )
            },
        ),
        (
            "What was written",
            {"fields": ("readable_result", "readable_samples", "moderation_reason")},
        ),
        (
            "The prompt",
            {
                "fields": (
                    "readable_system_prompt",
                    "readable_user_prompt",
                    ("temperature", "readable_context"),
                )
            },
        ),
        (
            "The call",
            {
                "fields": (
                    ("backend", "model"),
                    ("prompt_tokens", "completion_tokens", "duration_ms"),
                    ("retry_count", "max_retries", "attempt_count"),
                    ("started_at", "completed_at", "locked_until"),
                    ("requested_by", "created_at", "updated_at"),
                )
            },
        ),
    )

    def has_add_permission(self, request):
        # jobs are asked for by 'Write caption', 'Preview voice', rules and
        # the engagement queue: never typed in
        return False

    def get_readonly_fields(self, request, obj=None):
        return [
            name
            for fieldset in self.fieldsets
            for row in fieldset[1]["fields"]
            for name in (row if isinstance(row, tuple) else (row,))
        ]

    @admin.display(description="Job", ordering="created_at")
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description="Text")
    def excerpt(self, obj):
        text = obj.result_text or ""
        return text[:80] + ("…" if len(text) > 80 else "") or "-"

    @admin.display(description="Tokens")
    def tokens(self, obj):
        return obj.total_tokens if obj.total_tokens is not None else "-"

    @admin.display(description="")
    def notice(self, obj):
        if obj.backend and obj.backend.startswith("local"):
            return format_html(
                '<p class="help" style="font-weight:bold">{}</p>', development_notice()
            )
        return "-"

    @admin.display(description="Text")
    def readable_result(self, obj):
        tags = " ".join(f"#{t}" for t in obj.result_hashtags or [])
        return readable_text("\n\n".join(p for p in (obj.result_text, tags) if p))

    @admin.display(description="Samples")
    def readable_samples(self, obj):
        if not obj.samples:
            return "-"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li style='white-space:pre-wrap'>{} <em>{}</em> {}</li>",
                (
                    (
                        s.get("caption", ""),
                        " ".join(f"#{t}" for t in s.get("hashtags") or []),
                        f"(held: {s['flagged']})" if s.get("flagged") else "",
                    )
                    for s in obj.samples
                ),
            ),
        )

    @admin.display(description="System prompt (the persona)")
    def readable_system_prompt(self, obj):
        return readable_text(obj.system_prompt)

    @admin.display(description="User prompt (the task)")
    def readable_user_prompt(self, obj):
        return readable_text(obj.user_prompt)

    @admin.display(description="Context")
    def readable_context(self, obj):
        return pretty_json(obj.context)

    @admin.action(description="Approve selected held texts", permissions=["change"])
    def approve_held(self, request, queryset):
        changed = text_generations_approve(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "approved")

    @admin.action(description="Reject selected held texts", permissions=["change"])
    def reject_held(self, request, queryset):
        changed = text_generations_reject(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "rejected")

    @admin.action(description="Retry selected jobs", permissions=["change"])
    def retry(self, request, queryset):
        changed = text_generations_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel(self, request, queryset):
        changed = text_generations_cancel(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "cancelled")
