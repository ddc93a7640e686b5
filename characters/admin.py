"""Back-office for characters: the page an operator lives on."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from characters.models import Character, CharacterAppearance, CharacterPersonality
from characters.selectors import character_metric_series
from characters.services import (
    character_bulk_purge,
    character_bulk_soft_delete,
    character_soft_delete,
    ensure_profile_rows,
)
from config.admin_site import (
    FORMFIELD_OVERRIDES,
    AddPageMixin,
    CharacterZoneMixin,
    ProjectAdmin,
    action_with_form,
    change_url,
    local_time,
    recent_filter,
    report,
    selected_count,
    without_fields,
)
from config.charts import line_chart
from config.expressions import CountOf
from config.forms import UnitSlider
from config.timezones import format_local
from config.transitions import transition
from content.selectors import content_for_character, latest_voice_preview
from content.services import character_voice_preview
from content.text_backends import development_notice
from platforms.models import Platform, PlatformAccount
from platforms.selectors import character_accounts, upcoming_scheduled_posts


def _admin_link(obj, text=None) -> str:
    return format_html(
        '<a href="{}">{}</a>', change_url(obj), text if text is not None else obj
    )


def _thumbnail(content) -> str:
    from content.admin import ContentAdmin

    url = ContentAdmin.image_url(content)
    if not url:
        return ""
    return format_html(
        '<img src="{}" alt="" loading="lazy" '
        'style="width:40px;height:40px;object-fit:cover;border-radius:4px">',
        url,
    )


def _table(headers, rows) -> str:
    """A small read-only table in the admin's own style."""
    if not rows:
        return mark_safe('<p class="help">None yet.</p>')
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
    )
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body
    )


def _plain(queryset):
    """The same rows without the changelist's joins and counts.

    Services lock rows with SELECT ... FOR UPDATE, which PostgreSQL refuses on
    the nullable side of the LEFT JOINs to personality and appearance.
    """
    return Character.all_objects.filter(pk__in=queryset.values("pk"))


class DeletedFilter(admin.SimpleListFilter):
    """Live characters by default; soft-deleted ones on request."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("deleted", "Deleted only"), ("all", "Live and deleted")]

    def queryset(self, request, queryset):
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "All":
                choice["display"] = "Live only"
            yield choice


class PurgeForm(forms.Form):
    confirm = forms.BooleanField(
        label="Remove them for good",
        help_text=(
            "Only characters that are already deleted are purged: with their "
            "accounts, content, posts, schedules, rules and analytics, in the "
            "database, without a way back. Audit rows stay."
        ),
    )


class CharacterForm(forms.ModelForm):
    class Meta:
        model = Character
        fields = "__all__"  # noqa: DJ007 (the admin narrows it to its fieldsets)

    def clean_status(self):
        status = self.cleaned_data.get("status")
        was_deleted = self.instance.pk and self.instance.deleted_at is not None
        if status == Character.Status.DELETED and not was_deleted:
            raise forms.ValidationError(
                "Use the Delete button to delete a character; it keeps an audit trail."
            )
        if was_deleted and status != Character.Status.DELETED:
            raise forms.ValidationError(
                "This character is deleted: use the 'Restore' action first."
            )
        return status


class ProfileInline(AddPageMixin, admin.StackedInline):
    """Exactly one row, created with the character, never deleted on its own."""

    min_num = 1
    max_num = 1
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = FORMFIELD_OVERRIDES
    template = "admin/characters/profile_inline.html"


# What the ends of each 0-1 trait mean, said next to its slider.
TRAIT_MEANINGS = {
    "extroversion": ("reserved, keeps to herself", "outgoing, talks to everyone"),
    "creativity": ("plain, conventional ideas", "inventive, surprising ideas"),
    "humor": ("serious throughout", "jokes all the time"),
    "professionalism": ("casual, loose", "polished, businesslike"),
    "authenticity": ("curated, aspirational", "candid, unfiltered"),
    "energy_level": ("calm, low-key", "high-energy, excitable"),
    "flirtatiousness_level": ("never flirts", "flirts openly (adults only)"),
}


class CharacterPersonalityInline(ProfileInline):
    model = CharacterPersonality
    verbose_name = "personality"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in TRAIT_MEANINGS:
            kwargs["widget"] = UnitSlider(*TRAIT_MEANINGS[db_field.name])
        elif db_field.name == "temperature":
            kwargs["widget"] = UnitSlider(
                "the same words every time", "wild, unpredictable", high=2.0
            )
            kwargs["help_text"] = "How freely the text generator varies its wording."
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    fieldsets = (
        (
            "Traits",
            {
                "fields": (
                    ("extroversion", "creativity", "humor"),
                    ("professionalism", "authenticity", "energy_level"),
                    ("flirtatiousness_level", "flirting_style"),
                )
            },
        ),
        (
            "Voice",
            {
                "fields": (
                    ("communication_style", "content_tone", "emoji_usage"),
                    "preferred_topics",
                    "llm_personality_prompt",
                    "temperature",
                )
            },
        ),
    )


class CharacterAppearanceInline(ProfileInline):
    model = CharacterAppearance
    verbose_name = "appearance"
    fieldsets = (
        (
            "Looks",
            {
                "fields": (
                    ("hair_color", "hair_style", "eye_color"),
                    ("skin_tone", "body_type", "height", "age_range"),
                    "clothing_style",
                    "preferred_colors",
                    "style_keywords",
                )
            },
        ),
        (
            "Image generation",
            {
                "fields": (
                    (
                        "base_model",
                        "face_consistency_method",
                        "face_consistency_weight",
                    ),
                    "face_reference_image_url",
                    "face_reference_image_path",
                    "lora_model_path",
                    "default_prompt_prefix",
                    "negative_prompt",
                )
            },
        ),
    )


@admin.register(Character)
class CharacterAdmin(CharacterZoneMixin, ProjectAdmin):
    form = CharacterForm
    character_path = ""  # the row is the character
    list_display = (
        "name",
        "status",
        "is_active",
        "location",
        "timezone",
        "platform_count",
        "followers",
        "created_at",
    )
    list_display_links = ("name",)
    list_filter = (
        DeletedFilter,
        "status",
        "is_active",
        recent_filter("created_at", title="created", parameter="created"),
    )
    search_fields = ("name",)
    ordering = ("name",)
    list_select_related = ()  # list_display shows no related object
    readonly_fields = (
        "created_at",
        "updated_at",
        "deleted_at",
        "accounts_table",
        "latest_content_table",
        "upcoming_posts_table",
        "analytics_charts",
        "quick_links",
        "voice_preview",
    )
    inlines = (CharacterPersonalityInline, CharacterAppearanceInline)
    actions = ("restore_characters", "purge_characters")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    ("status", "is_active"),
                    "bio",
                    ("age", "location", "timezone"),
                    "interests",
                    ("profile_image_url", "profile_image_path"),
                    ("created_at", "updated_at", "deleted_at"),
                )
            },
        ),
        (
            "Voice",
            {
                "description": (
                    "Three sample captions in this persona's voice, from its saved "
                    "personality (save your changes first)."
                ),
                "fields": ("voice_preview",),
            },
        ),
        ("Analytics", {"fields": ("quick_links", "analytics_charts")}),
        ("Platform accounts", {"fields": ("accounts_table",)}),
        ("Upcoming scheduled posts", {"fields": ("upcoming_posts_table",)}),
        ("Latest content", {"fields": ("latest_content_table",)}),
    )

    def get_queryset(self, request):
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            # Foreign-key pickers offer live characters, without the counts.
            return Character.objects.all()
        if match is not None and not match.url_name.endswith("_changelist"):
            # The counts are columns of the list only: the change page, its
            # history and the delete page read one character (compiling the
            # two subqueries was 2-3 ms of the character page's CPU).
            return Character.all_objects.all()
        # all_objects: a soft-deleted character's page stays reachable; the
        # DeletedFilter hides them from the list by default. The numbers come
        # from the accounts (a few rows per character), not from COUNT(*) over
        # posts: characters_with_stats' post_count reads every post of every
        # listed character (0.8 s for 20 characters and 1M posts).
        accounts = (
            PlatformAccount.objects.filter(character_id=OuterRef("pk"))
            .order_by()
            .values("character_id")
        )
        return Character.all_objects.annotate(
            platform_count=CountOf(accounts),
            followers=Coalesce(
                Subquery(accounts.annotate(n=Sum("follower_count")).values("n")[:1]),
                0,
            ),
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return without_fields(self.fieldsets[:1])
        return self.fieldsets

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        inline_formsets = super().get_inline_formsets(
            request, formsets, inline_instances, obj
        )
        for inline_formset in inline_formsets:
            formset = inline_formset.formset
            if formset.max_num is not None and (
                formset.initial_form_count() >= formset.max_num
            ):
                # The character's one personality (appearance) exists, so no
                # other can be added: Django would still render a hidden blank
                # copy of the inline for its "Add another" button, which
                # max_num hides. It was a third of the page's rendering.
                inline_formset.has_add_permission = False
        return inline_formsets

    @admin.display(description="Accounts", ordering="platform_count")
    def platform_count(self, obj):
        return obj.platform_count

    @admin.display(description="Followers", ordering="followers")
    def followers(self, obj):
        return f"{obj.followers:,}"

    # --- read-only sections of the change page (one query each) ---------------

    @admin.display(description="Accounts")
    def accounts_table(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        rows = [
            (
                _admin_link(a, a.get_platform_display()),
                a.account_username or "-",
                a.get_connection_status_display(),
                f"{a.follower_count:,}",
                local_time(a.last_synced_at, obj.timezone, empty="never"),
            )
            for a in self._accounts(obj)
        ]
        return _table(("Platform", "Username", "Status", "Followers", "Synced"), rows)

    @staticmethod
    def _accounts(obj):
        # the accounts table and the charts' "last synced" line share one query
        if not hasattr(obj, "_accounts_for_page"):
            obj._accounts_for_page = list(character_accounts(obj.pk))
        return obj._accounts_for_page

    @admin.display(description="Upcoming")
    def upcoming_posts_table(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        rows = [
            (
                _admin_link(sp, format_local(sp.scheduled_at, obj.timezone)),
                sp.platform_account.get_platform_display(),
                sp.get_post_type_display() if sp.post_type else "-",
                (sp.caption or "")[:80],
            )
            # the columns shown (a row and its account are 40 columns, JSON too)
            for sp in upcoming_scheduled_posts(character_id=obj.pk, limit=10).only(
                "scheduled_at",
                "post_type",
                "caption",
                "platform_account__platform",
            )
        ]
        add = (
            reverse("admin:platforms_scheduledpost_add")
            + "?"
            + urlencode({"character": obj.pk})
        )
        calendar = (
            reverse("admin:platforms_scheduledpost_calendar")
            + "?"
            + urlencode({"character": obj.pk})
        )
        compose = reverse("admin:platforms_scheduledpost_compose", args=[obj.pk])
        return format_html(
            '{}<p><a class="addlink" href="{}">Compose a post for several accounts</a>'
            ' · <a class="addlink" href="{}">Schedule one post</a>'
            ' · <a href="{}">Calendar</a></p>',
            _table(("When", "Platform", "Type", "Caption"), rows),
            compose,
            add,
            calendar,
        )

    @admin.display(description="Latest")
    def latest_content_table(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        rows = [
            (
                _thumbnail(c),
                _admin_link(c, c.file_path.rsplit("/", 1)[-1]),
                c.get_content_type_display(),
                c.get_approval_status_display(),
                "NSFW" if c.is_nsfw else "",
                local_time(c.created_at, obj.timezone),
            )
            for c in content_for_character(
                character_id=obj.pk, approved=None, limit=10
            ).only(
                "file_path",
                "content_type",
                "approval_status",
                "is_nsfw",
                "created_at",
                "thumbnail_url",
                "thumbnail_path",
            )
        ]
        library = reverse("admin:content_content_library", args=[obj.pk])
        return format_html(
            '{}<p><a class="addlink" href="{}">Media library: upload and review</a></p>',
            _table(("", "File", "Type", "Approval", "", "Created"), rows),
            library,
        )

    @admin.display(description="Everything of this character")
    def quick_links(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        from analytics.models import Analytics
        from automation.models import AutomationRule
        from config.admin_site import changelist_url
        from content.models import Content, ContentGeneration
        from logs.models import SystemLog
        from platforms.models import EngagementAction, Post, ScheduledPost

        # A plain FK lookup in the query string (character__exact): allowed by
        # the admin without a list_filter over the foreign key.
        targets = (
            ("Posts", Post),
            ("Scheduled posts", ScheduledPost),
            ("Content", Content),
            ("Generations", ContentGeneration),
            ("Engagement", EngagementAction),
            ("Rules", AutomationRule),
            ("Analytics", Analytics),
            ("Logs", SystemLog),
        )
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (changelist_url(m, character__exact=obj.pk), label)
                for label, m in targets
            ),
        )

    @admin.display(description="Preview voice")
    def voice_preview(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        # a button of the change form posting to its own URL (no nested form)
        button = format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" '
            'name="_preview_voice" formnovalidate>Preview voice</button>',
            reverse("admin:characters_character_preview_voice", args=[obj.pk]),
        )
        job = latest_voice_preview(character_id=obj.pk)
        if job is None:
            return format_html("{}<p class='help'>No preview yet.</p>", button)
        if job.status in ("pending", "processing"):
            state = format_html(
                "<p>Writing three sample captions (asked at {} UTC); reload the "
                "page in a moment.</p>",
                f"{job.created_at:%H:%M:%S}",
            )
        elif job.samples:
            state = format_html(
                "<ol>{}</ol>",
                format_html_join(
                    "",
                    "<li style='white-space:pre-wrap'>{} <em>{}</em>{}</li>",
                    (
                        (
                            s.get("caption", ""),
                            " ".join(f"#{t}" for t in s.get("hashtags") or []),
                            f" (held by moderation: {s['flagged']})"
                            if s.get("flagged")
                            else "",
                        )
                        for s in job.samples
                    ),
                ),
            )
        else:
            state = format_html("<p>{}: {}</p>", job.status, job.error_message or "")
        notice = (
            format_html("<p class='help'><strong>{}</strong></p>", development_notice())
            if (job.backend or "").startswith("local")
            else ""
        )
        prompt = format_html(
            "<details><summary>The prompt ({}; temperature {})</summary>"
            "<pre style='white-space:pre-wrap'>{}</pre><pre style='white-space:"
            "pre-wrap'>{}</pre></details>",
            job.model or job.backend or "not written yet",
            job.temperature if job.temperature is not None else "-",
            job.system_prompt or "",
            job.user_prompt or "",
        )
        return format_html("{}{}{}{}", button, notice, state, prompt)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/preview-voice/",
                self.admin_site.admin_view(self.preview_voice_view),
                name="characters_character_preview_voice",
            ),
            *super().get_urls(),
        ]

    def preview_voice_view(self, request, object_id):
        """'Preview voice': the samples are written by the text queue, never in
        this request."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        character = get_object_or_404(Character.all_objects, pk=object_id)
        if not self.has_change_permission(request, character):
            raise PermissionDenied
        character_voice_preview(character=character, actor=request.user)
        self.message_user(
            request,
            "Writing three sample captions in this persona's voice; they appear "
            "under Voice in a moment.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:characters_character_change", args=[character.pk])
        )

    @admin.display(description="Charts")
    def analytics_charts(self, obj):
        if obj is None or obj._state.adding:
            return "-"
        series = character_metric_series(character_id=obj.pk)
        labels = {**dict(Platform.choices), "all": "All platforms"}
        synced = format_html_join(
            " · ",
            "{}: {}",
            (
                (
                    a.get_platform_display(),
                    format_local(a.last_synced_at, obj.timezone, empty="never"),
                )
                for a in self._accounts(obj)
            ),
        )
        return format_html(
            '<p class="charts-synced">Platform numbers last synced: {}</p>'
            '<p><a href="{}" id="character-analytics-link">Analytics: any range of '
            "days, growth, per platform, top posts, CSV</a></p>"
            '<div class="character-charts" style="display:flex;flex-wrap:wrap;gap:2em">'
            "{}{}</div>",
            synced or "no accounts",
            reverse("admin:analytics_analytics_character_overview", args=[obj.pk]),
            line_chart(series["follower_count"], title="Followers", labels=labels),
            line_chart(
                series["engagement_rate"],
                title="Engagement rate",
                labels=labels,
                percent=True,
            ),
        )

    # --- saving and deleting ------------------------------------------------------

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The inlines normally create both rows; this covers a form posted
        # without them (an API-style POST, a custom add form).
        ensure_profile_rows(form.instance)

    def delete_model(self, request, obj):
        character_soft_delete(character=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        character_bulk_soft_delete(queryset=_plain(queryset), actor=request.user)

    def get_deleted_objects(self, objs, request):
        # A soft delete hides the character and keeps its rows: listing every
        # cascaded post and analytics row (what Django collects for a real
        # delete) would be wrong and would read millions of rows.
        objs = list(objs)
        to_delete = [_admin_link(o) for o in objs]
        return to_delete, {self.opts.verbose_name_plural: len(objs)}, set(), []

    @admin.action(
        description="Restore selected deleted characters", permissions=["change"]
    )
    def restore_characters(self, request, queryset):
        # One conditional UPDATE with audit rows, like every other action.
        with transaction.atomic():
            changed = transition(
                queryset=_plain(queryset),
                allowed_from=[Character.Status.DELETED],
                changes={
                    "status": Character.Status.PAUSED,
                    "is_active": True,
                    "deleted_at": None,
                },
                actor=request.user,
                component="character_service",
                message="Character restored",
            )
        report(self, request, changed, selected_count(request), "restored (paused)")

    def has_purge_permission(self, request) -> bool:
        return request.user.has_perm(
            f"{self.opts.app_label}.purge_{self.opts.model_name}"
        )

    @admin.action(
        description="Purge selected deleted characters for good...",
        permissions=["purge"],
    )
    def purge_characters(self, request, queryset):
        count = selected_count(request)

        def apply(data):
            purged, _ = character_bulk_purge(
                queryset=_plain(queryset), actor=request.user
            )
            report(self, request, purged, count, "purged for good")

        return action_with_form(
            self,
            request,
            queryset,
            form_class=PurgeForm,
            title="Purge deleted characters",
            submit_label="Purge for good",
            apply=apply,
        )


class ProfileAdmin(ProjectAdmin):
    """Personality/appearance on their own (normally edited inline)."""

    list_select_related = ("character",)
    autocomplete_fields = ("character",)
    search_fields = ("character__name",)
    ordering = ("character__name",)
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return (*self.readonly_fields, "character")
        return self.readonly_fields


@admin.register(CharacterPersonality)
class CharacterPersonalityAdmin(ProfileAdmin):
    list_display = (
        "character",
        "communication_style",
        "content_tone",
        "emoji_usage",
        "temperature",
        "updated_at",
    )
    list_filter = ("communication_style", "content_tone", "emoji_usage")


@admin.register(CharacterAppearance)
class CharacterAppearanceAdmin(ProfileAdmin):
    list_display = (
        "character",
        "face_consistency_method",
        "base_model",
        "hair_color",
        "eye_color",
        "updated_at",
    )
    list_filter = ("face_consistency_method", "base_model")
