"""Shared pieces of the back-office (Django admin): big-table defaults, date
filters by simple choices, actions with an intermediate form, and the data of
the dashboard shown on the admin index (templates/admin/index.html)."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from config.edits import RowDeleted, conflict, edit_refusal, save_edit, snapshot
from config.forms import WallClockSplitDateTimeField
from config.json_limits import LimitedJSONField
from config.paginators import EstimatedCountPaginator
from config.timezones import format_local, is_known_zone, zone_label

# The stock site, named for what it is. There is no public site to "view".
admin.site.site_header = "AInfluencer back-office"
admin.site.site_title = "AInfluencer back-office"
admin.site.index_title = "Overview"
admin.site.site_url = None
# The app list is on the index; the lists get the page's whole width (a list
# of ten columns fits 1400 px beside its filters, not beside two sidebars).
admin.site.enable_nav_sidebar = False


def _lazy_app_list(request, app_label=None, _build=admin.site.get_app_list):
    """The app list, built when a template reads it. Every admin page's context
    carries it (`available_apps`) for the navigation sidebar, which is off:
    built for nothing, it was a twentieth of a changelist (a permission check
    and two reverse() per model). The index still lists the apps."""
    return SimpleLazyObject(lambda: _build(request, app_label))


admin.site.get_app_list = _lazy_app_list  # type: ignore[method-assign]


# System-owned columns that have no value before the row exists (a read-only
# field would print the DatabaseDefault placeholder on an add page).
NOT_ON_ADD = frozenset({"created_at", "updated_at", "deleted_at", "has_credentials"})


def without_fields(fieldsets, names=NOT_ON_ADD) -> list:
    """`fieldsets` minus `names` (in rows too); empty fieldsets are dropped."""
    result = []
    for title, options in fieldsets:
        fields = []
        for field in options.get("fields", ()):
            if isinstance(field, (tuple, list)):
                kept = tuple(f for f in field if f not in names)
                if kept:
                    fields.append(kept if len(kept) > 1 else kept[0])
            elif field not in names:
                fields.append(field)
        if fields:
            result.append((title, {**options, "fields": tuple(fields)}))
    return result


# Text columns hold prompts and paths, not essays: smaller boxes by default.
# Date-times are typed on the page's wall clock (the character's or the
# operator's), with a clear error for a time the clocks skip.
FORMFIELD_OVERRIDES: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 80})},
    # deep JSON is a form error, not a RecursionError (config.json_limits)
    models.JSONField: {"form_class": LimitedJSONField},
    models.DateTimeField: {"form_class": WallClockSplitDateTimeField},
}


if TYPE_CHECKING:
    # Mixins of ModelAdmin/InlineModelAdmin: their super() is the admin's.
    AdminMixinBase = admin.options.BaseModelAdmin[Any]
    ModelAdminMixinBase = admin.ModelAdmin[Any]
else:
    AdminMixinBase = ModelAdminMixinBase = object


class AddPageMixin(AdminMixinBase):
    """Hide the system's timestamps on add pages (admins and inlines)."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return without_fields(fieldsets) if obj is None else fieldsets


# Stand-ins for a row's key while a URL is reversed once (reverse_pk): of the
# key's own type, so that <uuid:...> and <int:...> patterns accept them.
_PK_STAND_INS = {
    uuid.UUID: uuid.UUID("5eb7a1e0-0000-4000-8000-00000000d1a5"),
    int: 918273645546372819,
}
_PK_URLS: dict[tuple, list[str] | None] = {}


def reverse_pk(viewname: str, pk, *, current_app: str | None = None) -> str:
    """reverse(viewname, args=[pk]) for a row's key, without a reverse() per
    row: the URL is reversed once per process (and script prefix) with a
    stand-in of the key's type, and the key put in its place. The text of an
    integer or UUID key needs no quoting; other keys take reverse()."""
    stand_in = _PK_STAND_INS.get(type(pk))
    if stand_in is None:
        return reverse(viewname, args=[pk], current_app=current_app)
    key = (viewname, type(pk), current_app, get_script_prefix(), get_urlconf())
    parts = _PK_URLS.get(key)
    if parts is None:
        url = reverse(viewname, args=[stand_in], current_app=current_app)
        parts = _PK_URLS[key] = url.split(str(stand_in))
    if len(parts) != 2:  # the key is not one piece of the URL: reverse() it
        return reverse(viewname, args=[pk], current_app=current_app)
    return str(pk).join(parts)


def change_url(obj) -> str:
    """The admin change page of a row."""
    opts = obj._meta
    return reverse_pk(f"admin:{opts.app_label}_{opts.model_name}_change", obj.pk)


class FastChangeList(ChangeList):
    """Django's ChangeList, with each row's link built without a reverse().

    reverse() per row was a twentieth of a 50-row posts page (reverse_pk).
    """

    def url_for_result(self, result):
        pk = getattr(result, self.pk_attname)
        if type(pk) not in _PK_STAND_INS:
            return super().url_for_result(result)  # quoted by the admin's quote()
        return reverse_pk(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            pk,
            current_app=self.model_admin.admin_site.name,
        )


class ProjectAdmin(AddPageMixin, admin.ModelAdmin):
    """Base of every ModelAdmin of the project."""

    formfield_overrides = FORMFIELD_OVERRIDES
    object_history_template = "admin/audit_history.html"

    def get_changelist(self, request, **kwargs):
        return FastChangeList

    def action_checkbox(self, obj):
        """Django's row checkbox, written out instead of rendering the
        CheckboxInput widget's template per row (a quarter of the time of a
        50-row posts page). The same HTML (tests/admin/test_changelists.py)."""
        label = _("Select this object for an action - {}").format(escape(str(obj)))
        return SafeString(
            f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" '
            f'value="{escape(str(obj.pk))}" class="action-select" '
            f'aria-label="{label}">'
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None or obj.pk is None:
            return form
        # what the row held when this request read it, before the form writes
        # into it: the save writes only what differs (config/edits.py)
        # (taken once: the change view asks for its form more than once)
        before = obj.__dict__.get("_edit_before")
        if before is None:
            before = obj.__dict__["_edit_before"] = snapshot(obj)
        form_clean = form.clean

        def clean(self):
            cleaned = form_clean(self)
            # the row is locked until the change is saved (the change view
            # runs in one transaction); moved meanwhile: nothing is saved
            try:
                problem = conflict(self.instance, before)
            except RowDeleted as exc:
                problem = str(exc)
            if problem:
                raise DjangoValidationError(problem, code="conflict")
            return cleaned

        # modelform_factory made this class for this call: set on it, not on
        # a subclass (which would build every form field again)
        form.clean = clean  # type: ignore[method-assign]
        return form

    def has_change_permission(self, request, obj=None):
        # a queue row a worker holds or has finished is a record: view only
        if obj is not None and edit_refusal(obj):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        before = obj.__dict__.get("_edit_before")
        if change and before is not None:
            save_edit(obj, before)
        else:
            super().save_model(request, obj, form, change)

    def history_view(self, request, object_id, extra_context=None):
        """History: the row's audit trail (for those who may read it) above
        Django's admin log, which only knows about changes made in the admin."""
        from django.contrib.admin.utils import unquote

        from logs.audit import event_model_for, object_history

        extra: dict[str, object] = {"audit_events": None}
        if event_model_for(self.model) is not None and request.user.has_perm(
            "logs.read_audit_trail"
        ):
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                extra["audit_events"] = object_history(obj)
        return super().history_view(
            request, object_id, {**extra, **(extra_context or {})}
        )


class BigTableAdmin(ProjectAdmin):
    """Defaults for tables with millions of rows (posts, analytics, logs, ...).

    No full COUNT(*) (estimated paginator, show_full_result_count off), no
    date_hierarchy (MIN/MAX + DISTINCT date_trunc over the table) and no list
    filter over a foreign key (it loads or DISTINCTs every related row).
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # "Show counts" would run one COUNT per filter choice over the table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    date_hierarchy = None

    def get_actions(self, request):
        actions = super().get_actions(request)
        entry = actions.get("delete_selected") if actions else None
        if entry is not None:
            func, name, description = entry
            actions["delete_selected"] = (
                _page_only(func),
                name,
                description,
            )
        return actions


def _page_only(delete_selected):
    """Django's bulk delete, refused for "all N matching rows".

    Its confirmation page lists every row and every cascaded row: with
    select-across on a table of millions that is a page nobody can render.
    Deleting by the million is the retention task's job, not a click.
    """

    def action(modeladmin, request, queryset):
        if request.POST.get("select_across") == "1":
            modeladmin.message_user(
                request,
                "Bulk delete works on the rows selected on this page, not on "
                "every matching row of this table.",
                messages.ERROR,
            )
            return None
        return delete_selected(modeladmin, request, queryset)

    return admin.action(
        description=getattr(delete_selected, "short_description", ""),
        permissions=("delete",),
    )(action)


# --- Time in the character's zone ---------------------------------------------


def local_time(value, tz_name: str | None, *, empty: str = "-") -> str:
    """An aware time on `tz_name`'s wall clock, naming the zone (HTML)."""
    if value is None:
        return empty
    return format_html(
        '<span class="nowrap" title="{}">{}</span>',
        tz_name or "UTC",
        format_local(value, tz_name),
    )


def local_time_column(field: str, description: str, *, zone_of=None):
    """A changelist column showing `field` on its row's character's clock.

    `zone_of(obj)` names the zone (default: obj.character.timezone, so the
    admin's list_select_related must include the character).
    """

    def column(self, obj):
        tz_name = zone_of(obj) if zone_of else obj.character.timezone
        return local_time(getattr(obj, field), tz_name)

    return admin.display(description=description, ordering=field)(column)


class CharacterZoneMixin(ModelAdminMixinBase):
    """A character's rows are read and entered on the character's clock.

    The change page (and an add page that names its character with
    ?character=<id>) runs in the character's zone, and says so above the
    form; `entry_zone` may pick another zone (a scheduled post's own).
    """

    # how to reach the character's zone from a row (a select_related path)
    character_path = "character"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.select_related(self.character_path) if self.character_path else qs

    def character_zone(self, obj) -> str | None:
        target = obj
        for part in filter(None, self.character_path.split("__")):
            target = getattr(target, part, None)
            if target is None:
                return None
        return target.timezone

    def entry_zone(self, request, obj) -> tuple[str, str] | None:
        """(zone, why) for this page, or None for the operator's own zone."""
        if obj is not None:
            name = self.character_zone(obj)
            return (name, "the character's time zone") if name else None
        raw = request.POST.get("character") or request.GET.get("character")
        from characters.models import Character

        try:
            name = (
                Character.all_objects.filter(pk=raw)
                .values_list("timezone", flat=True)
                .first()
                if raw
                else None
            )
        except (ValueError, DjangoValidationError):
            name = None
        return (name, "the character's time zone") if name else None

    def get_object(self, request, object_id, from_field=None):
        # the zone is decided before the view reads its object: one read
        cache = request.__dict__.setdefault("_zone_objects", {})
        key = (self.model, object_id, from_field)
        if key not in cache:
            cache[key] = super().get_object(request, object_id, from_field)
        return cache[key]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        from django.contrib.admin.utils import unquote

        obj = None
        if object_id is not None:
            obj = self.get_object(request, unquote(object_id))
        zone = self.entry_zone(request, obj)
        if zone is None or not is_known_zone(zone[0]):
            return super().changeform_view(request, object_id, form_url, extra_context)
        name, why = zone
        extra_context = {
            **(extra_context or {}),
            "zone_note": f"Times on this page are in {zone_label(name)}, {why}.",
            "page_zone": name,
        }
        with timezone.override(name):
            response = super().changeform_view(
                request, object_id, form_url, extra_context
            )
            # a TemplateResponse renders later, outside this zone: render now
            if isinstance(response, TemplateResponse) and not response.is_rendered:
                response.render()
        return response


# --- Date filters by simple choices -------------------------------------------

PAST_WINDOWS = {
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
}
FUTURE_WINDOWS = {
    "next24h": ("Next 24 hours", dt.timedelta(hours=24)),
    "next7d": ("Next 7 days", dt.timedelta(days=7)),
}


def recent_filter(
    field: str, *, title: str, parameter: str, future: bool = False, date=False
):
    """A list filter on a date(time) column: today, last 24 h / 7 / 30 days.

    With `future`, also: overdue, next 24 hours, next 7 days (scheduled posts).
    A range on an indexed column, never a scan for distinct values.
    """

    class RecentFilter(admin.SimpleListFilter):
        parameter_name = parameter

        def lookups(self, request, model_admin):
            choices = [("today", "Today")]
            choices += [(k, label) for k, (label, _) in PAST_WINDOWS.items()]
            if future:
                choices += [("overdue", "Overdue")]
                choices += [(k, label) for k, (label, _) in FUTURE_WINDOWS.items()]
            return choices

        def queryset(self, request, queryset):
            value = self.value()
            now = timezone.now()
            if value == "today":
                start = timezone.localtime(now).replace(
                    hour=0, minute=0, second=0, microsecond=0
                )
                if date:
                    return queryset.filter(**{field: start.date()})
                return queryset.filter(**{f"{field}__gte": start})
            if value in PAST_WINDOWS:
                since = now - PAST_WINDOWS[value][1]
                return queryset.filter(
                    **{f"{field}__gte": since.date() if date else since}
                )
            if future and value == "overdue":
                return queryset.filter(**{f"{field}__lt": now})
            if future and value in FUTURE_WINDOWS:
                until = now + FUTURE_WINDOWS[value][1]
                return queryset.filter(**{f"{field}__gte": now, f"{field}__lt": until})
            return queryset

    RecentFilter.title = title
    RecentFilter.__name__ = f"{parameter.title()}Filter"
    return RecentFilter


# --- Actions that need a little input (a reason, a date) ------------------------


def action_with_form(
    modeladmin,
    request,
    queryset: QuerySet,
    *,
    form_class: type[forms.Form],
    title: str,
    submit_label: str,
    apply,
):
    """Show `form_class` for the selected rows; on a valid POST call `apply`.

    `apply(cleaned_data)` runs the service and returns the number of changed
    rows. Returning None from the action makes the admin redirect back to the
    changelist, with the filters kept (the form posts to the same URL).
    """
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            try:
                apply(form.cleaned_data)
            except DjangoValidationError as exc:
                form.add_error(None, exc.messages)
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                return None
    else:
        form = form_class()
    selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
    select_across = request.POST.get("select_across") == "1"
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "form": form,
        "opts": opts,
        "app_label": opts.app_label,
        "action": request.POST.get("action", ""),
        "selected": selected,
        "select_across": select_across,
        # Show at most a page of what is selected (select_across can be huge).
        "preview": list(queryset[:20]) if not select_across else [],
        "selected_count": len(selected),
        "submit_label": submit_label,
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, "admin/action_form.html", context)


def report(modeladmin, request, changed: int, selected: int | None, verb: str) -> None:
    """Tell the user how many rows an action changed (and how many it skipped)."""
    noun = modeladmin.model._meta.verbose_name
    plural = modeladmin.model._meta.verbose_name_plural
    text = f"{changed} {noun if changed == 1 else plural} {verb}."
    if selected is not None and selected > changed:
        text += f" {selected - changed} skipped (not in a state that allows it)."
    level = messages.SUCCESS if changed else messages.WARNING
    modeladmin.message_user(request, text, level)


def selected_count(request) -> int | None:
    """How many rows the user ticked (None when 'select all' across pages)."""
    if request.POST.get("select_across") == "1":
        return None
    return len(request.POST.getlist(ACTION_CHECKBOX_NAME))


def changelist_url(model, **params) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


# --- Dashboard on the admin index ----------------------------------------------


def dashboard_context() -> dict:
    """The dashboard's numbers: a fixed handful of aggregate queries (8)."""
    from characters.models import Character
    from characters.selectors import characters_count_by_status
    from content.models import ContentGeneration
    from content.selectors import generation_queue_stats
    from logs.models import SystemLog
    from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost
    from platforms.selectors import (
        accounts_needing_attention,
        assisted_work_counts,
        connected_accounts_by_platform,
        engagement_queue_stats,
        failed_posts_since,
        scheduled_post_stats,
    )

    now = timezone.now()
    since = now - dt.timedelta(hours=24)
    generations = generation_queue_stats(failed_since=since)
    engagement = engagement_queue_stats(failed_since=since)
    scheduled = scheduled_post_stats(now=now, failed_since=since)
    failed_posts = failed_posts_since(since)
    error_logs = SystemLog.objects.filter(
        log_level__in=[SystemLog.Level.ERROR, SystemLog.Level.CRITICAL],
        created_at__gte=since,
    ).count()

    by_status = characters_count_by_status()
    attention_total, attention = accounts_needing_attention(limit=5)
    failures = [
        {
            "label": "Scheduled posts failed",
            "count": scheduled["failed"],
            "url": changelist_url(ScheduledPost, status__exact="failed", updated="24h"),
        },
        {
            "label": "Posts failed",
            "count": failed_posts,
            "url": changelist_url(Post, status__exact="failed", updated="24h"),
        },
        {
            "label": "Generations failed",
            "count": generations["failed"],
            "url": changelist_url(
                ContentGeneration, status__exact="failed", updated="24h"
            ),
        },
        {
            "label": "Engagement actions failed",
            "count": engagement["failed"],
            "url": changelist_url(
                EngagementAction, status__exact="failed", created="24h"
            ),
        },
        {
            "label": "Errors logged",
            "count": error_logs,
            "url": changelist_url(
                SystemLog, log_level__in="error,critical", created="24h"
            ),
        },
    ]
    return {
        "characters": [
            {
                "label": label,
                "count": by_status.get(value, 0),
                "url": changelist_url(
                    Character,
                    status__exact=value,
                    **({"deleted": "deleted"} if value == "deleted" else {}),
                ),
            }
            for value, label in Character.Status.choices
        ],
        "queues": [
            {
                "label": "Generations pending",
                "count": generations["pending"],
                "url": changelist_url(ContentGeneration, status__exact="pending"),
            },
            {
                "label": "Generations processing",
                "count": generations["processing"],
                "url": changelist_url(ContentGeneration, status__exact="processing"),
            },
            {
                "label": "Engagement pending",
                "count": engagement["pending"],
                "url": changelist_url(EngagementAction, status__exact="pending"),
            },
            {
                "label": "Engagement processing",
                "count": engagement["processing"],
                "url": changelist_url(EngagementAction, status__exact="processing"),
            },
        ],
        "scheduled_next_24h": {
            "count": scheduled["next_24h"],
            "url": changelist_url(
                ScheduledPost, status__exact="scheduled", when="next24h"
            ),
        },
        "failures": failures,
        "failures_total": sum(f["count"] for f in failures),
        "engine": engine_status(now),
        "stuck": stuck_work(now),
        "by_hand": {
            **assisted_work_counts(now=now),
            "url": reverse("admin:platforms_scheduledpost_by_hand"),
        },
        "attention": {
            "total": attention_total,
            "rows": [
                {
                    "label": f"{a.character.name}: {a.get_platform_display()}"
                    + (f" @{a.account_username}" if a.account_username else ""),
                    "status": a.get_connection_status_display(),
                    "reason": a.connection_error
                    or "Its credentials were refused; reconnect it.",
                    "url": reverse(
                        "admin:platforms_platformaccount_change", args=[a.pk]
                    ),
                }
                for a in attention
            ],
            "url": changelist_url(
                PlatformAccount, connection_status__in="error,suspended"
            ),
        },
        "hold": active_hold(),
        "accounts": [
            {
                **row,
                "url": changelist_url(
                    PlatformAccount,
                    platform__exact=row["platform"],
                    is_connected__exact=1,
                ),
            }
            for row in connected_accounts_by_platform()
        ],
    }


def active_hold() -> dict | None:
    """The publishing hold in force, if any (nothing is sent while one is)."""
    from platforms.models import PublishingHold

    hold = PublishingHold.objects.filter(lifted_at__isnull=True).first()
    if hold is None:
        return None
    opts = PublishingHold._meta
    return {
        "hold": hold,
        "url": reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change", args=[hold.pk]
        ),
    }


def _age(value: str | None, now) -> dt.timedelta | None:
    if not value:
        return None
    try:
        return now - dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def engine_status(now) -> list[dict]:
    """One row per periodic task from its heartbeat (Redis; no SQL)."""
    from config import heartbeat
    from config.periodic import PERIODIC_TASKS, Daily, Weekly, task_exists

    tasks = [p for p in PERIODIC_TASKS if task_exists(p.task)]
    beats = heartbeat.read([*(p.task for p in tasks), heartbeat.INSTALLED])
    installed = _age((beats or {}).get(heartbeat.INSTALLED, {}).get("finished_at"), now)
    rows = []
    for periodic in tasks:
        hb = (beats or {}).get(periodic.task, {})
        interval = periodic.interval
        finished = _age(hb.get("finished_at"), now)
        sent = _age(hb.get("sent_at"), now)
        # late: nothing finished within three intervals; daily and weekly tasks
        # get their interval and two hours (daily: 26 hours)
        allowed = dt.timedelta(
            seconds=interval * 3 if interval < 86400 else interval + 7200
        )
        waiting = None
        # a nightly or weekly task that has not had its night yet is not a fault
        schedule = periodic.schedule
        if (
            finished is None
            and sent is None
            and isinstance(schedule, Daily | Weekly)
            and (installed is None or installed <= allowed)
        ):
            day = (
                f"{calendar.day_name[(schedule.day_of_week - 1) % 7]} "
                if isinstance(schedule, Weekly)
                else ""
            )
            waiting = f"first run {day}at {schedule.hour:02d}:{schedule.minute:02d} UTC"
        if beats is None:
            health = "unknown (Redis unreachable)"
        elif waiting:
            health = waiting
        elif finished is None:
            health = "never ran" if sent is None else "queued, not run"
        elif hb.get("state") == "failure":
            health = "failed"
        elif finished > allowed:
            health = "late"
        else:
            health = "ok"
        rows.append(
            {
                "name": periodic.name,
                "task": periodic.task,
                "last_sent": sent,
                "last_run": finished,
                "duration_ms": hb.get("duration_ms"),
                "rows": hb.get("rows"),
                "health": health,
                "error": hb.get("error"),
                "ok": health == "ok",
                "waiting": bool(waiting),
            }
        )
    return rows


def stuck_work(now) -> dict | None:
    """The stuck-work detector's last findings, with links to the rows."""
    from content.models import ContentGeneration
    from logs.maintenance import stuck_work_summary
    from platforms.models import EngagementAction, ScheduledPost

    found = stuck_work_summary()
    if not found:
        return None
    return {
        "checked": _age(found.get("checked_at"), now),
        "total": sum(v for v in found.values() if isinstance(v, int)),
        "rows": [
            {
                "label": "Posts due but not published",
                "count": found.get("overdue_posts", 0),
                "url": changelist_url(
                    ScheduledPost, status__exact="scheduled", when="overdue"
                ),
            },
            {
                "label": "Posts with an expired lease",
                "count": found.get("expired_post_leases", 0),
                "url": changelist_url(ScheduledPost, status__exact="processing"),
            },
            {
                "label": "Generations stuck in processing",
                "count": found.get("stuck_generations", 0),
                "url": changelist_url(ContentGeneration, status__exact="processing"),
            },
            {
                "label": "Engagement with an expired lease",
                "count": found.get("expired_engagement_leases", 0),
                "url": changelist_url(EngagementAction, status__exact="processing"),
            },
            {
                "label": "Posts to publish by hand, overdue",
                "count": found.get("overdue_assisted_posts", 0),
                "url": reverse("admin:platforms_scheduledpost_by_hand"),
            },
            {
                "label": "Engagement to do by hand, overdue",
                "count": found.get("overdue_assisted_engagement", 0),
                "url": reverse("admin:platforms_scheduledpost_by_hand")
                + "#by-hand-engagement",
            },
            {
                "label": "Posts whose outcome is unknown (look for them)",
                "count": found.get("unknown_outcome_posts", 0),
                "url": reverse("admin:platforms_scheduledpost_by_hand")
                + "#by-hand-unknown",
            },
        ],
    }


# --- The operator's own preferences ------------------------------------------------


class PreferencesForm(forms.Form):
    timezone = forms.ChoiceField(
        label="Your time zone",
        help_text=(
            "Date-times in the back-office are shown and entered in this zone, "
            "except on a character's pages, posts, schedules and rules, which "
            "use the character's own zone (and say so)."
        ),
    )
    email_notifications = forms.ChoiceField(
        label="E-mail notifications",
        required=False,
        help_text=(
            "Sent to the address of your user account: each event at once, "
            "or one e-mail a day at your digest hour."
        ),
    )
    notification_events = forms.MultipleChoiceField(
        label="Tell me about",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    digest_hour = forms.TypedChoiceField(
        label="Digest hour",
        coerce=int,
        required=False,
        empty_value=None,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        help_text="When the daily digest goes out, in your time zone.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from config.models import EmailNotifications
        from config.timezones import zone_choices
        from logs.event_names import NOTIFIABLE_CHOICES

        super().__init__(*args, **kwargs)
        field = self.fields["timezone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = zone_choices()
        mode = self.fields["email_notifications"]
        assert isinstance(mode, forms.ChoiceField)
        mode.choices = EmailNotifications.choices
        events = self.fields["notification_events"]
        assert isinstance(events, forms.MultipleChoiceField)
        events.choices = NOTIFIABLE_CHOICES


def preferences_view(request):
    """/admin/preferences/: the logged-in user's own settings."""
    from django.shortcuts import redirect

    from config.models import UserPreferences
    from config.preferences import operator_timezone_of, user_preferences_update

    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            # a post without the notification part (an older form) keeps it
            notifying = "email_notifications" in request.POST
            user_preferences_update(
                user=request.user,
                timezone_name=data["timezone"],
                request=request,
                email_notifications=(
                    data["email_notifications"] or None if notifying else None
                ),
                notification_events=(
                    data["notification_events"] if notifying else None
                ),
                digest_hour=data["digest_hour"] if notifying else None,
            )
            messages.success(
                request,
                f"Your preferences are saved. Your time zone is now "
                f"{data['timezone']}.",
            )
            return redirect("operator-preferences")
    else:
        prefs = UserPreferences.objects.filter(user_id=request.user.pk).first()
        prefs = prefs or UserPreferences(user=request.user)
        form = PreferencesForm(
            initial={
                "timezone": operator_timezone_of(request.user),
                "email_notifications": prefs.email_notifications,
                "notification_events": prefs.notification_events,
                "digest_hour": prefs.digest_hour,
            }
        )
    context = {
        **admin.site.each_context(request),
        "title": "Your preferences",
        "subtitle": None,
        "form": form,
        "user_email": request.user.email,
    }
    return TemplateResponse(request, "admin/preferences.html", context)
