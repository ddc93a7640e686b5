"""Back-office for the content library and the generation queue."""

import json

from django import forms
from django.contrib import admin
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from config.admin_site import (
    BigTableAdmin,
    action_with_form,
    recent_filter,
    report,
    selected_count,
)
from content.media_paths import media_path_problem
from content.models import Content, ContentGeneration
from content.services import (
    content_approve,
    content_mark_nsfw,
    content_reject,
    generations_cancel,
    generations_retry,
)


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


@admin.register(Content)
class ContentAdmin(BigTableAdmin):
    list_display = (
        "thumbnail",
        "file_name",
        "character",
        "content_type",
        "approval_status",
        "is_nsfw",
        "quality_score",
        "times_used",
        "created_at",
    )
    list_display_links = ("thumbnail", "file_name")
    list_filter = (
        "approval_status",
        "content_type",
        "is_nsfw",
        recent_filter("created_at", title="created", parameter="created"),
    )
    search_fields = ("prompt",)
    ordering = ("-created_at",)
    sortable_by = ("created_at", "quality_score", "approval_status", "content_type")
    list_select_related = ("character",)
    autocomplete_fields = ("character",)
    actions = ("approve", "reject", "mark_nsfw")
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
                    ("approval_status", "is_approved"),
                    "rejection_reason",
                    ("times_used", "last_used_at"),
                )
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
                    "content_type",
                    "file_path",
                    "file_url",
                    ("mime_type", "file_size"),
                    ("width", "height", "duration"),
                    "tags",
                    "content_category",
                    "folder_path",
                    "is_nsfw",
                    "prompt",
                    "negative_prompt",
                    "generation_settings",
                )
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (*self.always_readonly, *self.system_fields)

    # --- display -------------------------------------------------------------------

    @staticmethod
    def image_url(obj) -> str | None:
        """A URL for the preview: a stored path only when it stays in MEDIA_ROOT."""
        if obj.content_type != Content.ContentType.IMAGE:
            return None
        if obj.thumbnail_url:
            return obj.thumbnail_url
        for path in (obj.thumbnail_path, obj.file_path):
            if path and media_path_problem(path) is None:
                return default_storage.url(path)
        if obj.thumbnail_path or obj.file_path:
            return None  # unsafe stored paths: no preview (preview says why)
        return obj.file_url

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
        url = self.image_url(obj)
        problem = media_path_problem(obj.file_path) if obj.file_path else None
        if problem:
            return format_html("No preview: {}", problem)
        if url:
            return format_html(
                '<a href="{0}" target="_blank" rel="noopener"><img src="{0}" alt="{1}" '
                'style="max-width:320px;max-height:320px;border-radius:4px"></a>',
                url,
                f"{obj.file_path} (file not found)",
            )
        return format_html(
            "{} file: {}",
            obj.get_content_type_display(),
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

    @admin.display(description="Negative prompt")
    def readable_negative_prompt(self, obj):
        return readable_text(obj.negative_prompt)

    @admin.display(description="Settings")
    def readable_settings(self, obj):
        return pretty_json(obj.generation_settings)

    # --- actions -----------------------------------------------------------------

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


@admin.register(ContentGeneration)
class ContentGenerationAdmin(BigTableAdmin):
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
                    ("job_type", "status"),
                    ("priority", "batch_size", "max_retries"),
                    "prompt",
                    "negative_prompt",
                    "generation_settings",
                )
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
