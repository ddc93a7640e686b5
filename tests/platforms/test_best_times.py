"""Best time to post: hours and weekdays on the character's clock, from the
account's own published posts, and no suggestion from too few of them."""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from platforms.models import ScheduledPost
from platforms.selectors import account_best_times, accounts_best_times
from tests.factories import (
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


def _post(account, when, engagement, **extra):
    return PostFactory(
        platform_account=account,
        published_at=when,
        likes_count=engagement,
        comments_count=0,
        shares_count=0,
        content=None,
        **extra,
    )


def _week_of_posts(account, zone, hours_and_engagement, *, weeks=4):
    """For `weeks` weeks back from NOW, one post a day at each local hour."""
    tz = zoneinfo.ZoneInfo(zone)
    start = dt.datetime(2026, 6, 1, tzinfo=tz)
    for day in range(weeks * 7):
        date = start + dt.timedelta(days=day)
        for hour, engagement in hours_and_engagement:
            _post(account, date.replace(hour=hour), engagement)


@pytest.fixture
def berlin_account(db):
    return PlatformAccountFactory(
        character=CharacterFactory(timezone="Europe/Berlin"), platform="instagram"
    )


def test_best_hours_are_on_the_characters_clock_with_their_evidence(berlin_account):
    # 28 days x 3 posts (Berlin: UTC+2 in June): 19:00 is best, then 09:00
    _week_of_posts(berlin_account, "Europe/Berlin", [(9, 100), (13, 10), (19, 400)])

    best = account_best_times(account_id=berlin_account.pk, now=NOW)

    assert best.posts == 84
    assert best.timezone == "Europe/Berlin"
    assert best.has_suggestion and best.reason == ""
    assert [(s.value, s.posts) for s in best.hours] == [(19, 28), (9, 28), (13, 28)]
    assert best.hours[0].average == 400.0
    assert best.average == pytest.approx(170.0)
    assert best.hours[0].lift == pytest.approx(400 / 170, abs=0.01)
    # every weekday has the same mix: 4 weeks x 3 posts each
    assert {s.posts for s in best.weekdays} == {12}


def test_the_same_instants_in_another_zone_give_other_hours(db):
    """19:00 in Berlin is 17:00 UTC and 13:00 in New York (summer)."""
    accounts = {}
    for zone in ("Europe/Berlin", "UTC", "America/New_York"):
        accounts[zone] = PlatformAccountFactory(
            character=CharacterFactory(timezone=zone), platform="instagram"
        )
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
        for day in range(25):
            when = dt.datetime(2026, 6, 1, 19, tzinfo=berlin) + dt.timedelta(days=day)
            _post(accounts[zone], when, 50)

    found = accounts_best_times(account_ids=[a.pk for a in accounts.values()], now=NOW)

    assert found[accounts["Europe/Berlin"].pk].hours[0].value == 19
    assert found[accounts["UTC"].pk].hours[0].value == 17
    assert found[accounts["America/New_York"].pk].hours[0].value == 13


def test_weekdays_across_midnight_follow_the_local_date(db):
    """23:30 UTC on a Monday is Tuesday 01:30 in Berlin (summer)."""
    account = PlatformAccountFactory(
        character=CharacterFactory(timezone="Europe/Berlin")
    )
    monday = dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC)  # a Monday
    for week in range(4):
        for n in range(5):
            _post(account, monday + dt.timedelta(weeks=week, minutes=n), 30)

    best = account_best_times(account_id=account.pk, now=NOW)

    assert [(s.weekday_label, s.posts) for s in best.weekdays] == [("Tuesday", 20)]
    assert [s.hour_label for s in best.hours] == ["01:00"]


def test_a_dst_change_moves_the_utc_hour_not_the_local_one(db):
    """19:00 in Berlin is 18:00 UTC in March before the change and 17:00 after."""
    account = PlatformAccountFactory(
        character=CharacterFactory(timezone="Europe/Berlin")
    )
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    for day in range(20, 31):  # the change is on 29 March 2026
        for minute in (0, 10):
            _post(account, dt.datetime(2026, 3, day, 19, minute, tzinfo=berlin), 10)
    utc_hours = {p.published_at.astimezone(dt.UTC).hour for p in account.posts.all()}
    assert utc_hours == {17, 18}

    best = account_best_times(
        account_id=account.pk, now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    )

    assert [(s.value, s.posts) for s in best.hours] == [(19, 22)]


def test_too_few_posts_give_no_suggestion_and_say_why(berlin_account, settings):
    settings.BEST_TIME_MIN_POSTS = 20
    for day in range(19):
        _post(berlin_account, NOW - dt.timedelta(days=day + 1), 1000)

    best = account_best_times(account_id=berlin_account.pk, now=NOW)

    assert best.posts == 19
    assert not best.has_suggestion
    assert best.hours == () and best.weekdays == ()
    assert "19 in the last 180 days, 20 needed" in best.reason

    _post(berlin_account, NOW - dt.timedelta(days=30), 1000)
    assert account_best_times(account_id=berlin_account.pk, now=NOW).has_suggestion


def test_only_published_posts_of_the_window_count(berlin_account, settings):
    settings.BEST_TIME_MIN_POSTS = 3
    settings.BEST_TIME_MIN_SLOT_POSTS = 1
    for day in range(3):
        _post(berlin_account, NOW - dt.timedelta(days=day + 1), 10)
    _post(berlin_account, NOW - dt.timedelta(days=400), 10_000)  # outside
    _post(berlin_account, NOW - dt.timedelta(days=2), 10_000, status="failed")
    other = PlatformAccountFactory(
        character=berlin_account.character, platform="twitter"
    )
    _post(other, NOW - dt.timedelta(days=1), 10_000)

    best = account_best_times(account_id=berlin_account.pk, now=NOW)

    assert best.posts == 3
    assert best.average == 10.0


def test_an_hour_needs_enough_posts_behind_it(berlin_account, settings):
    settings.BEST_TIME_MIN_POSTS = 5
    settings.BEST_TIME_MIN_SLOT_POSTS = 3
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    base = dt.datetime(2026, 6, 1, tzinfo=berlin)
    _post(berlin_account, base.replace(hour=8), 99_999)  # one lucky post
    for day in range(4):
        _post(berlin_account, (base + dt.timedelta(days=day)).replace(hour=18), 40)

    best = account_best_times(account_id=berlin_account.pk, now=NOW)

    assert [s.value for s in best.hours] == [18]


def test_an_account_without_posts_and_many_accounts_in_one_query(
    db, django_assert_num_queries
):
    empty = PlatformAccountFactory()
    busy = [PlatformAccountFactory() for _ in range(3)]
    for account in busy:
        for day in range(21):
            _post(account, NOW - dt.timedelta(days=day + 1), 5)

    with django_assert_num_queries(1):
        found = accounts_best_times(
            account_ids=[empty.pk, *(a.pk for a in busy)], now=NOW
        )

    assert found[empty.pk].posts == 0 and not found[empty.pk].has_suggestion
    assert all(found[a.pk].posts == 21 for a in busy)


# --- where people see it: the account's page and the composer -----------------------


def _evening_account(character, platform="instagram", count=21):
    account = PlatformAccountFactory(character=character, platform=platform)
    tz = zoneinfo.ZoneInfo(character.timezone)
    start = dt.datetime.now(tz).replace(minute=0, second=0, microsecond=0)
    for n in range(count):
        when = (start - dt.timedelta(days=n + 1)).replace(hour=20)
        _post(account, when, 100)
    return account


def test_the_account_page_shows_the_best_times(administrator_client):
    character = CharacterFactory(timezone="Europe/Berlin")
    account = _evening_account(character)
    url = reverse("admin:platforms_platformaccount_change", args=[account.pk])

    response = administrator_client.get(url)

    page = response.content.decode()
    assert "Best time to post" in page
    assert "From 21 published posts of the last 180 days" in page
    assert "Europe/Berlin" in page
    assert '<tr class="best-hour"><td>20:00</td><td class="num">21</td>' in page


def test_the_slot_editor_offers_the_best_times(administrator_client):
    """Slots are picked where the best hours are: the editor shows them."""
    account = _evening_account(CharacterFactory(timezone="Europe/Berlin"))
    response = administrator_client.get(
        reverse("admin:platforms_platformaccount_slots", args=[account.pk])
    )
    page = response.content.decode()
    assert 'id="slots-best-times"' in page
    assert '<tr class="best-hour"><td>20:00</td><td class="num">21</td>' in page


def test_the_account_page_says_when_there_are_too_few_posts(administrator_client):
    account = _evening_account(CharacterFactory(), count=4)
    response = administrator_client.get(
        reverse("admin:platforms_platformaccount_change", args=[account.pk])
    )
    assert "Not enough published posts to suggest a time: 4" in (
        response.content.decode()
    )


def test_the_composer_offers_the_best_hours_and_schedules_into_one(
    administrator_client,
):
    character = CharacterFactory(timezone="Europe/Berlin")
    insta = _evening_account(character)
    quiet = PlatformAccountFactory(character=character, platform="telegram")
    image = ContentFactory(
        character=character,
        approved=True,
        content_type="image",
        width=1080,
        height=1350,
    )
    url = reverse("admin:platforms_scheduledpost_compose", args=[character.pk])

    page = administrator_client.get(url).content.decode()
    assert 'id="composer-best-times"' in page
    assert "20:00" in page and "Not enough published posts" in page

    response = administrator_client.post(
        url,
        {
            "accounts": [str(insta.pk)],
            "content": str(image.pk),
            "caption": "Evening light",
            "when": "best_slot",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    post = ScheduledPost.objects.get(platform_account=insta)
    local = post.scheduled_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (20, 0)
    assert post.scheduled_at > timezone.now()

    refused = administrator_client.post(
        url,
        {
            "accounts": [str(quiet.pk)],
            "content": str(image.pk),
            "caption": "Evening light",
            "when": "best_slot",
        },
    )
    assert refused.status_code == 400
    assert "None of the chosen accounts has a best time yet" in (
        refused.content.decode()
    )


def test_next_free_slot_keeps_to_the_given_hours(db):
    from platforms.selectors import next_free_slot

    account = PlatformAccountFactory()
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    tomorrow = (timezone.now().astimezone(berlin) + dt.timedelta(days=1)).date()
    after = dt.datetime.combine(tomorrow, dt.time(10, 30), tzinfo=berlin)
    ScheduledPostFactory(
        platform_account=account,
        scheduled_at=dt.datetime.combine(tomorrow, dt.time(20), tzinfo=berlin),
    )
    slot = next_free_slot(
        account_ids=[account.pk], tz_name="Europe/Berlin", after=after, hours={20}
    )
    day_after = tomorrow + dt.timedelta(days=1)
    assert slot == dt.datetime.combine(day_after, dt.time(20), tzinfo=berlin)
