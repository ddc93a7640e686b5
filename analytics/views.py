"""The analytics pages of the back-office (mounted by AnalyticsAdmin):
followers and engagement over a range of days, growth, the per-platform
breakdown and the top posts, for one character or across every character,
with a CSV of each table the page shows.

A fixed number of queries whatever the range (analytics.selectors); days are
UTC days, as the daily snapshot records them.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from analytics.selectors import (
    MAX_RANGE_DAYS,
    PRESETS,
    Overview,
    PlatformSummary,
    analytics_overview,
)
from characters.models import Character
from config.timezones import format_local
from content.models import Content
from platforms.models import Platform, Post

DEFAULT_DAYS = 30
EXPORTS = ("daily", "platforms", "posts")
# Cells a spreadsheet would run as a formula (CSV injection): prefixed with '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class RangeForm(forms.Form):
    """The page's range: a preset (the last 7, 30 or 90 days up to today) or
    a start and an end date (inclusive)."""

    days = forms.TypedChoiceField(
        choices=[("", "Custom"), *((str(d), f"Last {d} days") for d in PRESETS)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    start = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    export = forms.ChoiceField(
        choices=[("", "")] + [(e, e) for e in EXPORTS], required=False
    )

    def __init__(self, data: Any, *, today: dt.date):
        super().__init__(data)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        start, end, days = data.get("start"), data.get("end"), data.get("days")
        if start is None and end is None:
            days = days or DEFAULT_DAYS
        if days:  # a preset wins over dates left in the form
            end = self.today
            start = end - dt.timedelta(days=days - 1)
        elif start is None:
            self.add_error("start", "Choose a start date, or a preset.")
            return data
        elif end is None:
            end = self.today
        assert start is not None and end is not None
        if end < start:
            self.add_error("end", "The end date is before the start date.")
        elif (end - start).days + 1 > MAX_RANGE_DAYS:
            self.add_error("start", f"A range can span at most {MAX_RANGE_DAYS} days.")
        data.update(start=start, end=end, days=days)
        return data


def _need_view(request: HttpRequest) -> None:
    if not request.user.has_perm("analytics.view_analytics"):
        raise PermissionDenied


def _thumb(post: Post) -> str:
    content = post.content
    if content is None or content.content_type not in Content.VISUAL_TYPES:
        return ""
    return reverse("admin:content_content_thumbnail", args=[content.pk])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading ' (numbers
    such as '-145' stay numbers)."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _is_number(value)
    ):
        return "'" + value
    return value


def _fmt(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return response


def _export(kind: str, overview: Overview, slug: str) -> HttpResponse:
    name = f"analytics-{slug}-{overview.start}-{overview.end}-{kind}.csv"
    if kind == "daily":
        return _csv(
            name,
            [
                "date",
                "platform",
                "accounts",
                "followers",
                "engagement_rate_percent",
                "interactions_total",
            ],
            [
                [
                    p.day.isoformat(),
                    p.platform,
                    p.accounts,
                    _fmt(p.followers),
                    _fmt(p.rate, 2),
                    _fmt(p.interactions),
                ]
                for p in overview.points
            ],
        )
    if kind == "platforms":
        return _csv(
            name,
            [
                "platform",
                "followers_start",
                "followers_end",
                "growth",
                "growth_percent",
                "engagement_rate_percent",
                "interactions_gained",
                "posts_published",
                "posts_interactions",
            ],
            [
                [
                    r.platform,
                    _fmt(r.followers_start),
                    _fmt(r.followers_end),
                    _fmt(r.growth),
                    _fmt(r.growth_percent, 2),
                    _fmt(r.rate_end, 2),
                    _fmt(r.interactions_gained),
                    r.posts,
                    r.posts_engagement,
                ]
                for r in [*overview.platforms, overview.total]
            ],
        )
    return _csv(
        name,
        [
            "published_at_utc",
            "character",
            "platform",
            "account",
            "likes",
            "comments",
            "shares",
            "views",
            "interactions",
            "url",
            "caption",
        ],
        [
            [
                p.published_at.astimezone(dt.UTC).isoformat() if p.published_at else "",
                p.character.name,
                p.platform,
                p.platform_account.account_username or "",
                p.likes_count,
                p.comments_count,
                p.shares_count,
                p.views_count,
                p.engagement,  # type: ignore[attr-defined]
                p.platform_post_url or "",
                p.caption or "",
            ]
            for p in overview.top_posts
        ],
    )


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _signed(value: float | None, suffix: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:+,.{digits}f}{suffix}"


def summary_row(row: PlatformSummary) -> dict[str, str]:
    """One line of the per-platform table, formatted for people."""
    return {
        "platform": row.platform,
        "label": row.label,
        "followers_start": _count(row.followers_start),
        "followers_end": _count(row.followers_end),
        "growth": _signed(row.growth),
        "growth_percent": _signed(row.growth_percent, " %", 2),
        "direction": "" if not row.growth else ("up" if row.growth > 0 else "down"),
        "rate": "-" if row.rate_end is None else f"{row.rate_end:.2f} %",
        "interactions": _count(row.interactions_gained),
        "posts": f"{row.posts:,}",
        "posts_engagement": f"{row.posts_engagement:,}",
    }


def _chart_data(overview: Overview) -> dict[str, Any]:
    """What the page's charts draw (analytics/static/analytics/overview.js)."""
    labels = dict(Platform.choices)
    days = sorted({p.day for p in overview.points})
    index = {day: i for i, day in enumerate(days)}

    def lines(series: dict[str, list[tuple[dt.date, float]]]) -> list[dict]:
        found = []
        for platform in sorted(series):
            values: list[float | None] = [None] * len(days)
            for day, value in series[platform]:
                values[index[day]] = round(value, 2)
            found.append({"label": labels.get(platform, platform), "data": values})
        return found

    followers = lines(overview.series("followers"))
    if len(followers) > 1:
        total: list[float | None] = [None] * len(days)
        for day, value in overview.total_followers():
            total[index[day]] = value
        followers.append({"label": "All platforms", "data": total, "total": True})
    return {
        "days": [d.isoformat() for d in days],
        "followers": followers,
        "rate": lines(overview.series("rate")),
        "interactions": lines(overview.daily_interactions()),
    }


def overview_page(
    request: HttpRequest, admin_context: dict, character_id: uuid.UUID | None = None
) -> HttpResponse:
    """The analytics of one character (character_id) or of every character."""
    _need_view(request)
    character = None
    if character_id is not None:
        character = get_object_or_404(
            Character.objects.only("pk", "name", "timezone"), pk=character_id
        )
    today = timezone.now().astimezone(dt.UTC).date()
    form = RangeForm(request.GET, today=today)
    overview = None
    if form.is_valid():
        overview = analytics_overview(
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            character_id=character.pk if character else None,
            platform_labels=dict(Platform.choices),
        )
        export = form.cleaned_data.get("export")
        if export:
            slug = str(character.pk) if character else "all"
            return _export(export, overview, slug)
    here = request.path
    query = {
        k: str(request.GET[k]) for k in ("days", "start", "end") if request.GET.get(k)
    }
    context = {
        **admin_context,
        "title": f"Analytics of {character.name}" if character else "Analytics",
        "subtitle": None,
        "character": character,
        "form": form,
        "overview": overview,
        "presets": PRESETS,
        "range_days": (overview.end - overview.start).days + 1 if overview else 0,
        "active_days": form.cleaned_data.get("days") if form.is_valid() else None,
        "exports": [
            (kind, f"{here}?{urlencode({**query, 'export': kind})}") for kind in EXPORTS
        ],
        "top_posts": [
            {
                "post": post,
                "thumb": _thumb(post),
                "when": format_local(post.published_at, post.character.timezone),
                "change_url": reverse("admin:platforms_post_change", args=[post.pk]),
            }
            for post in (overview.top_posts if overview else [])
        ],
        "chart_data": _chart_data(overview) if overview else None,
        "platform_rows": [summary_row(r) for r in overview.platforms]
        if overview
        else [],
        "total_row": summary_row(overview.total) if overview else None,
        "characters_url": reverse("admin:analytics_analytics_overview"),
    }
    return TemplateResponse(
        request,
        "admin/analytics/overview.html",
        context,
        status=200 if form.is_valid() else 400,
    )
