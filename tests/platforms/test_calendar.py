"""The calendar: its feed per visible range (constant queries, filters, the
page's wall clock) and the drop that reschedules through the service."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from platforms.models import ScheduledPost
from tests.factories import (
    CharacterFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)

EVENTS = reverse("admin:platforms_scheduledpost_calendar_events")
MOVE = reverse("admin:platforms_scheduledpost_calendar_move")
PAGE = reverse("admin:platforms_scheduledpost_calendar")
BERLIN = "Europe/Berlin"


def week_of(day: dt.date) -> dict:
    start = day - dt.timedelta(days=day.weekday())
    return {
        "start": f"{start.isoformat()}T00:00:00",
        "end": f"{(start + dt.timedelta(days=7)).isoformat()}T00:00:00",
    }


@pytest.fixture
def berlin(db):
    return CharacterFactory(timezone=BERLIN, name="Berta")


def test_the_feed_costs_the_same_for_2_or_20_posts(
    administrator_client, django_assert_num_queries
):
    day = (timezone.now() + dt.timedelta(days=14)).date()
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    small, big = CharacterFactory(), CharacterFactory()
    for character, n in ((small, 2), (big, 20)):
        account = PlatformAccountFactory(character=character, platform="telegram")
        for i in range(n):
            ScheduledPostFactory(
                platform_account=account, scheduled_at=at + dt.timedelta(minutes=i)
            )
        PostFactory(platform_account=account, published_at=at)
    administrator_client.get(EVENTS, {**week_of(day), "character": small.pk})

    # session, user, the scope's character, scheduled posts, published posts
    with django_assert_num_queries(5):
        few = administrator_client.get(EVENTS, {**week_of(day), "character": small.pk})
    with django_assert_num_queries(5):
        many = administrator_client.get(EVENTS, {**week_of(day), "character": big.pk})
    assert len(few.json()) == 3 and len(many.json()) == 21


def test_events_are_on_the_characters_clock_with_status_and_thumbnail(
    administrator_client, berlin
):
    account = PlatformAccountFactory(character=berlin, platform="instagram")
    when = dt.datetime(2030, 12, 24, 18, 0, tzinfo=dt.UTC)
    sp = ScheduledPostFactory(
        platform_account=account, scheduled_at=when, caption="Xmas"
    )
    events = administrator_client.get(
        EVENTS, {**week_of(when.date()), "character": berlin.pk}
    ).json()
    (event,) = events
    assert event["id"] == f"scheduled:{sp.pk}"
    assert event["start"] == "2030-12-24T19:00:00"  # Berlin, no offset
    assert event["editable"] is True
    assert "status-scheduled" in event["classNames"]
    assert event["extendedProps"]["thumb"].endswith(f"/{sp.content_id}/thumbnail/")
    assert event["url"].endswith(f"/scheduledpost/{sp.pk}/change/")
    assert event["extendedProps"]["local"] == "24 Dec 2030, 19:00 CET"


def test_the_feed_filters_by_account_and_platform(administrator_client, berlin):
    insta = PlatformAccountFactory(character=berlin, platform="instagram")
    tg = PlatformAccountFactory(character=berlin, platform="telegram")
    when = timezone.now() + dt.timedelta(days=10)
    ScheduledPostFactory(platform_account=insta, scheduled_at=when)
    ScheduledPostFactory(platform_account=tg, scheduled_at=when)
    ScheduledPostFactory(scheduled_at=when)  # another character's
    week = week_of(when.astimezone(dt.UTC).date())
    everyone = administrator_client.get(EVENTS, week).json()
    assert len(everyone) == 3
    by_account = administrator_client.get(
        EVENTS, {**week, "character": berlin.pk, "account": tg.pk}
    ).json()
    assert [e["extendedProps"]["platform"] for e in by_account] == ["telegram"]
    by_platform = administrator_client.get(
        EVENTS, {**week, "character": berlin.pk, "platform": "instagram"}
    ).json()
    assert [e["extendedProps"]["platform"] for e in by_platform] == ["instagram"]


def test_a_published_post_is_shown_once_and_cannot_be_moved(
    administrator_client, berlin
):
    account = PlatformAccountFactory(character=berlin, platform="telegram")
    when = timezone.now() + dt.timedelta(days=3)
    sp = ScheduledPostFactory(platform_account=account, scheduled_at=when)
    post = PostFactory(platform_account=account, published_at=when)
    ScheduledPost.objects.filter(pk=sp.pk).update(
        status="published", published_at=when, post=post
    )
    events = administrator_client.get(
        EVENTS, {**week_of(when.astimezone(dt.UTC).date()), "character": berlin.pk}
    ).json()
    assert [(e["id"], e["editable"]) for e in events] == [(f"scheduled:{sp.pk}", False)]


def test_a_bad_range_is_a_400(administrator_client):
    assert (
        administrator_client.get(EVENTS, {"start": "soon", "end": "later"}).status_code
        == 400
    )
    huge = {"start": "2026-01-01", "end": "2026-12-31"}
    assert administrator_client.get(EVENTS, huge).status_code == 400


def test_a_drop_reschedules_on_the_pages_clock(administrator_client, berlin):
    account = PlatformAccountFactory(character=berlin, platform="telegram")
    sp = ScheduledPostFactory(platform_account=account)
    response = administrator_client.post(
        MOVE,
        {"id": f"scheduled:{sp.pk}", "start": "2038-01-15T09:30:00", "zone": BERLIN},
    )
    assert response.status_code == 200, response.json()
    assert "15 Jan 2038, 09:30 CET (Europe/Berlin)" in response.json()["detail"]
    sp.refresh_from_db()
    assert sp.scheduled_at == dt.datetime(2038, 1, 15, 8, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "start", "code", "why"),
    [
        ("published", "2038-01-15T09:30:00", 409, "only waiting, failed or cancelled"),
        ("processing", "2038-01-15T09:30:00", 409, "only waiting, failed or cancelled"),
        ("scheduled", "2020-01-15T09:30:00", 400, "Choose a time in the future."),
        ("scheduled", "2038-03-28T02:30:00", 400, "does not exist in Europe/Berlin"),
    ],
)
def test_a_refused_drop_says_why_and_changes_nothing(
    administrator_client, berlin, status, start, code, why
):
    account = PlatformAccountFactory(character=berlin, platform="telegram")
    sp = ScheduledPostFactory(platform_account=account)
    extra = {"published_at": timezone.now()} if status == "published" else {}
    ScheduledPost.objects.filter(pk=sp.pk).update(status=status, **extra)
    before = ScheduledPost.objects.get(pk=sp.pk).scheduled_at
    response = administrator_client.post(
        MOVE, {"id": f"scheduled:{sp.pk}", "start": start, "zone": BERLIN}
    )
    assert response.status_code == code
    assert why in response.json()["detail"]
    assert ScheduledPost.objects.get(pk=sp.pk).scheduled_at == before


def test_an_analyst_sees_the_calendar_but_cannot_move_posts(analyst_client, berlin):
    account = PlatformAccountFactory(character=berlin, platform="telegram")
    sp = ScheduledPostFactory(platform_account=account)
    assert analyst_client.get(PAGE).status_code == 200
    events = analyst_client.get(
        EVENTS, {**week_of(sp.scheduled_at.date()), "character": berlin.pk}
    ).json()
    assert events and not events[0]["editable"]
    response = analyst_client.post(
        MOVE,
        {"id": f"scheduled:{sp.pk}", "start": "2038-01-15T09:30:00", "zone": BERLIN},
    )
    assert response.status_code == 403


def test_the_page_serves_its_calendar_library_from_static_files(
    administrator_client, berlin
):
    page = administrator_client.get(PAGE, {"character": berlin.pk}).content.decode()
    assert "/static/platforms/vendor/fullcalendar/index.global.min.js" in page
    assert "http://" not in page.split("<body")[0].replace("http://www.w3.org", "")
    assert "Times are in Europe/Berlin" in page
    assert 'id="calendar-config"' in page and '"zone": "Europe/Berlin"' in page
