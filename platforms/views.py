"""The operator's pages for the publishing queue (mounted by ScheduledPostAdmin):

- the calendar (week and month) of scheduled and published posts, with its
  JSON feed per visible range and the drop that reschedules a post through
  the same service and validation as the admin's form;
- the composer: one post for several of a character's accounts, with a live
  preview per platform checked by the platforms' own rules.

Times are shown and entered on one wall clock per page: the character's when
the page is about one character, else the operator's own.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from characters.models import Character
from config.forms import WallClockDateTimeField
from config.timezones import (
    DEFAULT_ZONE,
    format_local,
    is_known_zone,
    localize,
    wall_clock,
    zone_label,
)
from content.forms import ContentPickerField
from content.models import Content
from platforms.adapters import adapter_class_for
from platforms.adapters.rules import PlatformRules, PostDraft
from platforms.models import Platform, PlatformAccount, PostType, ScheduledPost
from platforms.selectors import (
    CalendarFilter,
    accounts_best_times,
    calendar_published_posts,
    calendar_scheduled_posts,
    next_free_slot,
)
from platforms.services import (
    Draft,
    draft_errors,
    scheduled_posts_compose,
    scheduled_posts_reschedule,
)

SP = ScheduledPost.Status
MOVABLE = {SP.SCHEDULED, SP.FAILED, SP.CANCELLED}
# FullCalendar sends a range's ends without an offset in a named zone
RANGE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(f"platforms.{perm}_scheduledpost"):
        raise PermissionDenied


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _thumb(content: Content | None) -> str:
    if content is None or content.content_type not in Content.VISUAL_TYPES:
        return ""
    return reverse("admin:content_content_thumbnail", args=[content.pk])


# --- the calendar -----------------------------------------------------------------


class CalendarScope:
    """What the calendar is narrowed to, and the wall clock it shows."""

    def __init__(self, request: HttpRequest):
        params = request.GET if request.method == "GET" else request.POST
        self.character_id = _uuid(params.get("character"))
        self.account_id = _uuid(params.get("account"))
        platform = params.get("platform") or None
        self.platform = platform if platform in Platform.values else None
        self.character = (
            Character.all_objects.only("pk", "name", "timezone")
            .filter(pk=self.character_id)
            .first()
            if self.character_id
            else None
        )
        operator_zone = getattr(request, "operator_timezone", DEFAULT_ZONE)
        if self.character is not None:
            self.zone = self.character.timezone or DEFAULT_ZONE
            self.zone_why = f"{self.character.name}'s time zone"
        else:
            self.zone = operator_zone
            self.zone_why = "your time zone"

    def query(self) -> dict[str, str]:
        return {
            k: str(v)
            for k, v in (
                ("character", self.character_id),
                ("account", self.account_id),
                ("platform", self.platform),
            )
            if v
        }


def calendar_page(request: HttpRequest, admin_context: dict) -> HttpResponse:
    """Week and month views; the events come from `calendar_events`."""
    _need(request, "view")
    scope = CalendarScope(request)
    characters = list(Character.objects.only("pk", "name").order_by("name")[:1000])
    accounts = (
        list(
            PlatformAccount.objects.filter(character_id=scope.character_id)
            .only("pk", "platform", "account_username", "character_id")
            .order_by("platform")
        )
        if scope.character_id
        else []
    )
    view = request.GET.get("view")
    context = {
        **admin_context,
        "title": "Calendar",
        "subtitle": None,
        "scope": scope,
        "characters": characters,
        "accounts": accounts,
        "platforms": Platform.choices,
        "zone_note": f"Times are in {zone_label(scope.zone)}, {scope.zone_why}.",
        "calendar_config": {
            "events": reverse("admin:platforms_scheduledpost_calendar_events")
            + "?"
            + urlencode(scope.query()),
            "move": reverse("admin:platforms_scheduledpost_calendar_move"),
            "zone": scope.zone,
            "view": "dayGridMonth" if view == "month" else "timeGridWeek",
            "date": request.GET.get("date") or "",
            "canMove": request.user.has_perm("platforms.change_scheduledpost"),
        },
        "compose_url": reverse(
            "admin:platforms_scheduledpost_compose", args=[scope.character_id]
        )
        if scope.character_id
        else "",
    }
    return TemplateResponse(request, "admin/platforms/calendar.html", context)


def _parse_wall(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    text = value.strip()[:19]
    for fmt in RANGE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _range_end(zone: str, naive: dt.datetime) -> dt.datetime:
    try:
        return localize(naive, zone)
    except ValidationError:  # a range edge in a skipped hour: an hour later
        return localize(naive + dt.timedelta(hours=1), zone)


def calendar_events(request: HttpRequest) -> JsonResponse:
    """The events of one visible range, as FullCalendar reads them.

    Constant queries per range: the scope's character (when filtered), the
    scheduled posts, the published posts not standing for a scheduled post.
    """
    _need(request, "view")
    scope = CalendarScope(request)
    start, end = (
        _parse_wall(request.GET.get("start")),
        _parse_wall(request.GET.get("end")),
    )
    if start is None or end is None or end <= start:
        return JsonResponse(
            {"detail": "start and end must be ISO dates, start before end."}, status=400
        )
    if end - start > dt.timedelta(days=62):
        return JsonResponse({"detail": "Ask for at most 62 days at once."}, status=400)
    flt = CalendarFilter(
        start=_range_end(scope.zone, start),
        end=_range_end(scope.zone, end),
        character_id=scope.character_id,
        account_id=scope.account_id,
        platform=scope.platform,
    )
    can_move = request.user.has_perm("platforms.change_scheduledpost")
    labels = dict(Platform.choices)
    events = []
    for sp in calendar_scheduled_posts(flt):
        platform = sp.platform_account.platform
        events.append(
            {
                "id": f"scheduled:{sp.pk}",
                "title": f"{labels.get(platform, platform)} · {sp.character.name}: "
                + (sp.caption or "(no caption)")[:60],
                "start": wall_clock(sp.scheduled_at, scope.zone).isoformat(),
                "url": reverse("admin:platforms_scheduledpost_change", args=[sp.pk]),
                "editable": can_move and sp.status in MOVABLE,
                "classNames": [f"status-{sp.status}", f"platform-{platform}"],
                "extendedProps": {
                    "kind": "scheduled",
                    "status": sp.status,
                    "platform": platform,
                    "character": sp.character.name,
                    "thumb": _thumb(sp.content),
                    "local": format_local(sp.scheduled_at, scope.zone),
                    "error": sp.error_message or "",
                },
            }
        )
    for post in calendar_published_posts(flt):
        events.append(
            {
                "id": f"post:{post.pk}",
                "title": f"{labels.get(post.platform, post.platform)} · "
                f"{post.character.name}: " + (post.caption or "(no caption)")[:60],
                # published posts always have published_at (a CHECK says so)
                "start": wall_clock(
                    post.published_at or post.created_at, scope.zone
                ).isoformat(),
                "url": reverse("admin:platforms_post_change", args=[post.pk]),
                "editable": False,
                "classNames": ["status-published", f"platform-{post.platform}"],
                "extendedProps": {
                    "kind": "post",
                    "status": "published",
                    "platform": post.platform,
                    "character": post.character.name,
                    "thumb": _thumb(post.content),
                    "local": format_local(post.published_at, scope.zone),
                    "error": "",
                },
            }
        )
    return JsonResponse(events, safe=False)


def calendar_move(request: HttpRequest) -> JsonResponse:
    """A dropped event: reschedule through the service (200), or say why not
    (400/409) so the page puts the event back."""
    _need(request, "change")
    if request.method != "POST":
        return JsonResponse({"detail": "POST a move."}, status=405)
    raw_id = (request.POST.get("id") or "").removeprefix("scheduled:")
    post_id = _uuid(raw_id)
    zone = request.POST.get("zone") or ""
    naive = _parse_wall(request.POST.get("start"))
    if post_id is None or naive is None or not is_known_zone(zone):
        return JsonResponse(
            {"detail": "Give the post's id, the new start and a time zone."}, status=400
        )
    post = (
        ScheduledPost.objects.filter(pk=post_id)
        .only("pk", "status", "scheduled_at")
        .first()
    )
    if post is None:
        return JsonResponse({"detail": "This post no longer exists."}, status=404)
    if post.status not in MOVABLE:
        state = {
            str(SP.PROCESSING): "being published",
            str(SP.PUBLISHED): "published already",
        }
        return JsonResponse(
            {
                "detail": f"This post is {state.get(post.status, post.status)}: "
                "only waiting, failed or cancelled posts can be moved."
            },
            status=409,
        )
    try:
        when = localize(naive, zone)
        changed = scheduled_posts_reschedule(
            queryset=ScheduledPost.objects.filter(pk=post.pk),
            scheduled_at=when,
            actor=request.user,
        )
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=400)
    if not changed:
        return JsonResponse(
            {"detail": "This post changed state meanwhile and was not moved."},
            status=409,
        )
    return JsonResponse(
        {
            "detail": f"Moved to {format_local(when, zone, with_zone_name=True)}.",
            "scheduled_at": when.isoformat(),
        }
    )


# --- the composer -------------------------------------------------------------------

HASHTAG_SPLIT = re.compile(r"[\s,]+")


def split_hashtags(text: str | None) -> tuple[str, ...]:
    """'#sun, beach #sea' -> ('sun', 'beach', 'sea')."""
    seen: list[str] = []
    for word in HASHTAG_SPLIT.split(text or ""):
        tag = word.strip().lstrip("#")
        if tag and tag not in seen:
            seen.append(tag)
    return tuple(seen)


def rules_summary(platform: str) -> dict[str, Any]:
    """A platform's limits as the page shows them (from its adapter's rules)."""
    cls = adapter_class_for(platform)
    rules: PlatformRules | None = cls.rules if cls else None
    label = dict(Platform.choices).get(platform, platform)
    if rules is None:
        return {"label": label, "known": False}
    return {
        "label": rules.label,
        "known": True,
        "caption_max": rules.caption_max,
        "caption_max_with_media": rules.caption_max_with_media,
        "caption_unit": rules.caption_unit,
        "hashtags_max": rules.hashtags_max,
        "default_post_type": rules.default_post_type,
        "post_types": {
            name: {
                "media": sorted(rule.media),
                "text_only": rule.text_only,
                "max_items": rule.max_items,
                "note": rule.note,
            }
            for name, rule in rules.post_types.items()
        },
        "aliases": rules.aliases,
    }


class ComposerForm(forms.Form):
    """One post for several of a character's accounts."""

    accounts = forms.ModelMultipleChoiceField(
        queryset=PlatformAccount.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each chosen account gets its own post, checked by its platform's rules.",
    )
    caption = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 70}),
        help_text="Shared by every account that has no caption of its own.",
    )
    hashtags = forms.CharField(
        required=False,
        help_text="Words, with or without #, separated by spaces or commas.",
    )
    when = forms.ChoiceField(
        choices=[
            ("time", "At this time"),
            ("next_slot", "In the next free slot"),
            ("best_slot", "In the next free slot at a best hour"),
        ],
        widget=forms.RadioSelect,
        initial="time",
    )
    scheduled_at = WallClockDateTimeField(required=False, label="Time")

    def __init__(self, *args: Any, character: Character, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.character = character
        self.zone = character.timezone or DEFAULT_ZONE
        self.account_rows = list(
            PlatformAccount.objects.filter(character_id=character.pk)
            .defer("auth_data")
            .order_by("platform")
        )
        # every account's best hours and weekdays, in one query
        self.best_times = accounts_best_times(
            account_ids=[a.pk for a in self.account_rows]
        )
        accounts = self.fields["accounts"]
        assert isinstance(accounts, forms.ModelMultipleChoiceField)
        accounts.queryset = PlatformAccount.objects.filter(
            character_id=character.pk
        ).defer("auth_data")
        accounts.choices = [
            (a.pk, f"{a.get_platform_display()} @{a.account_username or '?'}")
            for a in self.account_rows
        ]
        self.fields["content"] = ContentPickerField(
            character_id=character.pk, label="Media"
        )
        when = self.fields["scheduled_at"]
        assert isinstance(when, WallClockDateTimeField)
        when.zone_name = self.zone
        when.help_text = f"On {zone_label(self.zone)}."
        for account in self.account_rows:
            key = str(account.pk)
            label = account.get_platform_display()
            self.fields[f"own_{key}"] = forms.BooleanField(
                required=False, label=f"Own text for {label}"
            )
            self.fields[f"caption_{key}"] = forms.CharField(
                required=False,
                label=f"{label} caption",
                widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
            )
            self.fields[f"hashtags_{key}"] = forms.CharField(
                required=False, label=f"{label} hashtags"
            )
            rules = rules_summary(account.platform)
            types = list(rules.get("post_types", {})) or list(PostType.values)
            self.fields[f"post_type_{key}"] = forms.ChoiceField(
                required=False,
                label=f"{label} post type",
                choices=[("", "Platform default"), *((t, t) for t in types)],
            )

    def account_sections(self) -> list[dict[str, Any]]:
        return [
            {
                "account": a,
                "best": self.best_times.get(a.pk),
                "own": self[f"own_{a.pk}"],
                "caption": self[f"caption_{a.pk}"],
                "hashtags": self[f"hashtags_{a.pk}"],
                "post_type": self[f"post_type_{a.pk}"],
            }
            for a in self.account_rows
        ]

    def drafts(self) -> list[Draft]:
        data = self.cleaned_data
        shared_caption = data.get("caption") or ""
        shared_tags = split_hashtags(data.get("hashtags"))
        drafts = []
        for account in data.get("accounts") or []:
            key = str(account.pk)
            own = data.get(f"own_{key}")
            drafts.append(
                Draft(
                    account=account,
                    caption=(data.get(f"caption_{key}") or "")
                    if own
                    else shared_caption,
                    hashtags=split_hashtags(data.get(f"hashtags_{key}"))
                    if own
                    else shared_tags,
                    post_type=data.get(f"post_type_{key}") or None,
                )
            )
        return drafts

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("when") == "time"
            and not data.get("scheduled_at")
            and "scheduled_at" not in self.errors
        ):
            self.add_error("scheduled_at", "Choose a time, or the next free slot.")
        if (
            data.get("when") == "best_slot"
            and data.get("accounts")
            and not self.best_hours()
        ):
            self.add_error(
                "when",
                "None of the chosen accounts has a best time yet (too few "
                "published posts): choose a time or the next free slot.",
            )
        return data

    def best_hours(self) -> set[int]:
        """The best hours of the chosen accounts that have a suggestion."""
        return {
            slot.value
            for account in self.cleaned_data.get("accounts") or []
            if (best := self.best_times.get(account.pk)) and best.has_suggestion
            for slot in best.hours
        }

    def planned_time(self) -> dt.datetime | None:
        when = self.cleaned_data.get("when")
        if when in ("next_slot", "best_slot"):
            return next_free_slot(
                account_ids=[a.pk for a in self.cleaned_data.get("accounts") or []],
                tz_name=self.zone,
                hours=self.best_hours() if when == "best_slot" else None,
            )
        return self.cleaned_data.get("scheduled_at")


def preview_of(form: ComposerForm) -> list[dict[str, Any]]:
    """Per chosen account: the text as published, its length by the
    platform's count, the limits, and what the platform would refuse."""
    drafts = form.drafts()
    content = form.cleaned_data.get("content")
    problems = draft_errors(drafts=drafts, content=content)
    rows = []
    for draft in drafts:
        platform = draft.account.platform
        cls = adapter_class_for(platform)
        rules = cls.rules if cls else None
        shaped = PostDraft(
            post_type=draft.post_type, caption=draft.caption, hashtags=draft.hashtags
        )
        limit = None
        if rules is not None:
            limit = (
                rules.caption_max_with_media
                if content is not None and rules.caption_max_with_media
                else rules.caption_max
            )
        rows.append(
            {
                "account": str(draft.account.pk),
                "platform": platform,
                "label": rules.label if rules else draft.account.get_platform_display(),
                "username": draft.account.account_username or "",
                "post_type": rules.post_type_of(draft.post_type)
                if rules
                else draft.post_type,
                "text": shaped.text,
                "length": rules.caption_length(shaped.text)
                if rules
                else len(shaped.text),
                "limit": limit,
                "unit": rules.caption_unit if rules else "characters",
                "hashtags": shaped.hashtag_count,
                "hashtags_max": rules.hashtags_max if rules else None,
                "media": content.get_content_type_display() if content else "",
                "thumb": _thumb(content),
                "problems": problems.get(str(draft.account.pk), {}),
            }
        )
    return rows


def composer_page(
    request: HttpRequest, character_id: Any, admin_context: dict
) -> HttpResponse:
    """Compose (GET), check (POST ?preview=1, JSON) and schedule (POST)."""
    _need(request, "add")
    character = get_object_or_404(
        Character.objects.only("pk", "name", "timezone"), pk=character_id
    )
    if request.method == "POST":
        form = ComposerForm(request.POST, character=character)
        if request.GET.get("preview"):
            form.is_valid()
            if "accounts" not in form.cleaned_data:
                return JsonResponse({"accounts": []})
            return JsonResponse({"accounts": preview_of(form)})
        if form.is_valid():
            when = form.planned_time()
            if when is None:
                form.add_error(
                    "when", "No free slot in the next 14 days: choose a time."
                )
            else:
                try:
                    created = scheduled_posts_compose(
                        character_id=character.pk,
                        drafts=form.drafts(),
                        content=form.cleaned_data.get("content"),
                        scheduled_at=when,
                        timezone_name=form.zone,
                        actor=request.user,
                    )
                except ValidationError as exc:
                    _errors_onto(form, exc)
                else:
                    messages.success(
                        request,
                        f"{len(created)} post(s) scheduled for "
                        f"{format_local(when, form.zone, with_zone_name=True)}.",
                    )
                    url = reverse("admin:platforms_scheduledpost_calendar")
                    day = wall_clock(when, form.zone).date().isoformat()
                    return redirect(
                        f"{url}?{urlencode({'character': character.pk, 'date': day})}"
                    )
    else:
        form = ComposerForm(
            character=character,
            initial={
                "accounts": [
                    a.pk
                    for a in PlatformAccount.objects.filter(
                        character_id=character.pk, is_connected=True
                    ).only("pk")
                ],
                "scheduled_at": timezone.now().replace(second=0, microsecond=0)
                + dt.timedelta(hours=1),
            },
        )
    context = {
        **admin_context,
        "title": f"Compose a post for {character.name}",
        "subtitle": None,
        "character": character,
        "form": form,
        "sections": form.account_sections(),
        "zone_note": f"Times are in {zone_label(form.zone)}, {character.name}'s time zone.",
        "composer_config": {
            "preview": request.path + "?preview=1",
            "rules": {
                str(a.pk): {**rules_summary(a.platform), "platform": a.platform}
                for a in form.account_rows
            },
        },
        "calendar_url": reverse("admin:platforms_scheduledpost_calendar")
        + "?"
        + urlencode({"character": character.pk}),
    }
    return TemplateResponse(
        request,
        "admin/platforms/composer.html",
        context,
        status=400 if form.errors else 200,
    )


def _errors_onto(form: ComposerForm, exc: ValidationError) -> None:
    """The service's errors on the form: an account's under its own box."""
    for key, value in exc.message_dict.items():
        if key in form.fields:
            form.add_error(key, value)
            continue
        account = next((a for a in form.account_rows if str(a.pk) == key), None)
        if account is None:
            form.add_error(None, value)
            continue
        label = account.get_platform_display()
        form.add_error(None, [f"{label}: {m}" for m in value])
