"""The operator's bulk scheduling pages (mounted by the admin):

- an account's posting slots, as one box of times per weekday;
- "spread over the next free slots": the form (accounts, from when), the
  preview of every post with its time or the reason it cannot be made, and
  the confirmation that schedules them all or none.

Times are on the character's clock (config.timezones).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from characters.models import Character
from config.forms import WallClockDateTimeField
from config.timezones import DEFAULT_ZONE, format_local, zone_label
from content.models import Content
from platforms.models import PlatformAccount
from platforms.selectors import account_best_times, account_slots
from platforms.services import (
    posting_slots_set,
    scheduled_posts_spread,
    scheduled_posts_spread_plan,
)
from platforms.slots import WEEKDAYS, Slot, parse_times

# --- posting slots ----------------------------------------------------------------


class PostingSlotsForm(forms.Form):
    """One box per weekday: the times the account posts at that day."""

    def __init__(self, *args: Any, zone_name: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for index, day in enumerate(WEEKDAYS):
            self.fields[day.lower()] = forms.CharField(
                required=False,
                label=day,
                help_text="Times of day, HH:MM, separated by commas "
                "(for example 09:00, 19:00). Empty: no post that day."
                if index == 0
                else "",
                widget=forms.TextInput(
                    attrs={"size": 40, "placeholder": "09:00, 19:00"}
                ),
            )
        self.zone_name = zone_name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        slots: list[Slot] = []
        for index, day in enumerate(WEEKDAYS):
            try:
                times = parse_times(data.get(day.lower()) or "")
            except ValueError as exc:
                self.add_error(day.lower(), str(exc))
                continue
            slots += [Slot(index, at) for at in times]
        data["slots"] = slots
        return data

    @staticmethod
    def initial_for(slots: list[Slot]) -> dict[str, str]:
        found: dict[str, list[str]] = {day.lower(): [] for day in WEEKDAYS}
        for slot in sorted(slots):
            found[WEEKDAYS[slot.weekday].lower()].append(f"{slot.time:%H:%M}")
        return {day: ", ".join(times) for day, times in found.items()}


def slots_page(
    request: HttpRequest, object_id: Any, admin_context: dict
) -> HttpResponse:
    """Show (GET) and replace (POST) an account's weekly posting slots."""
    if not request.user.has_perm("platforms.view_platformaccount"):
        raise PermissionDenied
    account = get_object_or_404(
        PlatformAccount.objects.defer("auth_data").select_related("character"),
        pk=object_id,
    )
    zone_name = account.character.timezone or DEFAULT_ZONE
    can_change = request.user.has_perm("platforms.change_platformaccount")
    current = account_slots(account_ids=[account.pk])[account.pk]
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        form = PostingSlotsForm(request.POST, zone_name=zone_name)
        if form.is_valid():
            slots = form.cleaned_data["slots"]
            posting_slots_set(account=account, slots=slots, actor=request.user)
            messages.success(
                request,
                f"{len(slots)} posting slot(s) a week saved for {account}.",
            )
            return HttpResponseRedirect(request.path)
    else:
        form = PostingSlotsForm(
            initial=PostingSlotsForm.initial_for(current), zone_name=zone_name
        )
    context = {
        **admin_context,
        "title": f"Posting slots of {account}",
        "subtitle": None,
        "account": account,
        "form": form,
        "can_change": can_change,
        "per_week": len(current),
        # the hours and weekdays that worked best, to pick slots from (one query)
        "best": account_best_times(account_id=account.pk),
        "opts": PlatformAccount._meta,
        "zone_note": f"Times are on {account.character.name}'s clock: "
        f"{zone_label(zone_name)}. A slot in the hour the clocks skip moves "
        "forward by the gap; in the hour they repeat it is the first of the two.",
        "account_url": reverse(
            "admin:platforms_platformaccount_change", args=[account.pk]
        ),
    }
    return TemplateResponse(
        request,
        "admin/platforms/posting_slots.html",
        context,
        status=400 if form.errors else 200,
    )


# --- spreading approved content over the next free slots -------------------------


class SpreadForm(forms.Form):
    accounts = forms.ModelMultipleChoiceField(
        queryset=PlatformAccount.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each item gets a post on each chosen account, at that "
        "account's next free posting slot.",
    )
    start = WallClockDateTimeField(
        required=False,
        label="From",
        help_text="The first slot after this time (empty: from now).",
    )

    def __init__(self, *args: Any, character: Character, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.zone = character.timezone or DEFAULT_ZONE
        self.account_rows = list(
            PlatformAccount.objects.filter(character_id=character.pk)
            .defer("auth_data")
            .order_by("platform")
        )
        slots = account_slots(account_ids=[a.pk for a in self.account_rows])
        field = self.fields["accounts"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = PlatformAccount.objects.filter(
            character_id=character.pk
        ).defer("auth_data")
        field.choices = [
            (
                a.pk,
                f"{a} ({len(slots[a.pk])} slots a week)"
                if slots[a.pk]
                else f"{a} (no posting slots yet)",
            )
            for a in self.account_rows
        ]
        start = self.fields["start"]
        assert isinstance(start, WallClockDateTimeField)
        start.zone_name = self.zone
        start.help_text = f"On {zone_label(self.zone)}. " + (start.help_text or "")


def spread_action(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> Any:
    """The content admin's action: form, preview, then schedule all or none."""
    if not request.user.has_perm("platforms.add_scheduledpost"):
        raise PermissionDenied
    items = list(
        queryset.order_by("created_at", "pk").only(
            "pk", "character_id", "content_type", "file_path", "created_at"
        )[:1000]
    )
    characters = {c.character_id for c in items}
    if len(characters) != 1:
        modeladmin.message_user(
            request,
            "Choose items of one character to spread (the slots and the clock "
            "are the character's).",
            messages.ERROR,
        )
        return None
    character = Character.all_objects.only("pk", "name", "timezone").get(
        pk=characters.pop()
    )
    form = SpreadForm(
        request.POST if "spread" in request.POST else None, character=character
    )
    plan = None
    if "spread" in request.POST and form.is_valid():
        account_ids = [a.pk for a in form.cleaned_data["accounts"]]
        content_ids = [c.pk for c in items]
        start = form.cleaned_data.get("start")
        if request.POST.get("spread") == "confirm":
            try:
                created = scheduled_posts_spread(
                    character_id=character.pk,
                    content_ids=content_ids,
                    account_ids=account_ids,
                    start=start,
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                modeladmin.message_user(
                    request,
                    f"{len(created)} post(s) scheduled over the next free slots: "
                    f"{format_local(min(p.scheduled_at for p in created), form.zone)}"
                    f" to {format_local(max(p.scheduled_at for p in created), form.zone)}.",
                    messages.SUCCESS,
                )
                return None
        plan = scheduled_posts_spread_plan(
            character_id=character.pk,
            content_ids=content_ids,
            account_ids=account_ids,
            start=start,
        )
    opts = Content._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Spread {len(items)} item(s) of {character.name} over the next "
        "free slots",
        "subtitle": None,
        "opts": opts,
        "form": form,
        "items": items,
        "character": character,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across") == "1",
        "plan": plan,
        "rows": [
            {
                "row": row,
                "local": format_local(row.scheduled_at, plan.timezone, empty="—"),
                "thumb": reverse(
                    "admin:content_content_thumbnail", args=[row.content.pk]
                )
                if row.content.content_type in Content.VISUAL_TYPES
                else "",
            }
            for row in plan.rows
        ]
        if plan
        else [],
        "zone_note": f"Times are in {zone_label(form.zone)}, {character.name}'s "
        "time zone.",
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, "admin/platforms/spread.html", context, status=200)
