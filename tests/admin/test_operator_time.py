"""Time on the right clock: a character's posts, schedules and rules are
entered and shown in the character's zone (saying which) and stored in UTC;
other pages use the operator's own zone. DST edges included."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRule
from config.models import UserPreferences
from config.timezones import SESSION_KEY, format_local, localize
from platforms.models import ScheduledPost
from platforms.selectors import next_free_slot
from tests.factories import (
    AutomationRuleFactory,
    CharacterFactory,
    ContentGenerationFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)

BERLIN = "Europe/Berlin"
ADD = reverse("admin:platforms_scheduledpost_add")


@pytest.fixture
def berlin_account(db):
    character = CharacterFactory(timezone=BERLIN)
    return PlatformAccountFactory(character=character, platform="telegram")


def form_data(account, day: str, time: str, **extra):
    return {
        "character": str(account.character_id),
        "platform_account": str(account.pk),
        "scheduled_at_0": day,
        "scheduled_at_1": time,
        "caption": "Frohe Weihnachten",
        "post_type": "message",
        "max_retries": "3",
        **extra,
    }


def test_a_time_entered_for_a_berlin_post_is_berlin_time(
    administrator_client, berlin_account
):
    """Broken before: 19:00 with timezone Europe/Berlin was stored as 19:00 UTC."""
    response = administrator_client.post(
        ADD + f"?character={berlin_account.character_id}",
        form_data(berlin_account, "2030-12-24", "19:00:00", timezone=BERLIN),
    )
    assert response.status_code == 302, response.content[-3000:]
    post = ScheduledPost.objects.get()
    assert post.scheduled_at == dt.datetime(2030, 12, 24, 18, 0, tzinfo=dt.UTC)
    assert post.timezone == BERLIN


def test_the_add_page_starts_in_the_characters_zone_and_says_so(
    administrator_client, berlin_account
):
    page = administrator_client.get(ADD + f"?character={berlin_account.character_id}")
    html = page.content.decode()
    assert page.context["adminform"].form.initial["timezone"] == BERLIN
    assert "Times on this page are in Europe/Berlin" in html
    assert "Scheduled at (Europe/Berlin)" in html


def test_a_post_page_shows_its_time_on_its_own_clock(
    administrator_client, berlin_account
):
    post = ScheduledPostFactory(
        platform_account=berlin_account,
        scheduled_at=dt.datetime(2030, 12, 24, 18, 0, tzinfo=dt.UTC),
        timezone=BERLIN,
    )
    page = administrator_client.get(
        reverse("admin:platforms_scheduledpost_change", args=[post.pk])
    )
    form = page.context["adminform"].form
    assert form["scheduled_at"].value() == dt.datetime(
        2030, 12, 24, 18, 0, tzinfo=dt.UTC
    )
    assert 'value="19:00:00"' in page.content.decode()  # the time box, in Berlin
    changelist = administrator_client.get(
        reverse("admin:platforms_scheduledpost_changelist")
    ).content.decode()
    assert "24 Dec 2030, 19:00 CET" in changelist


def test_a_time_the_clocks_skip_is_a_clear_error(administrator_client, berlin_account):
    response = administrator_client.post(
        ADD, form_data(berlin_account, "2030-03-31", "02:30:00", timezone=BERLIN)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["scheduled_at"]
    assert "2030-03-31 02:30 does not exist in Europe/Berlin" in errors[0]
    assert not ScheduledPost.objects.exists()


def test_a_time_the_clocks_repeat_is_the_first_of_the_two(
    administrator_client, berlin_account
):
    response = administrator_client.post(
        ADD, form_data(berlin_account, "2030-10-27", "02:30:00", timezone=BERLIN)
    )
    assert response.status_code == 302, response.content[-3000:]
    post = ScheduledPost.objects.get()
    # 02:30 CEST (UTC+2), the first 02:30 of that night
    assert post.scheduled_at == dt.datetime(2030, 10, 27, 0, 30, tzinfo=dt.UTC)
    assert format_local(post.scheduled_at, BERLIN) == "27 Oct 2030, 02:30 CEST"


def test_localize_refuses_skipped_times_and_takes_the_first_repeated_one():
    with pytest.raises(ValidationError, match="does not exist in America/New_York"):
        localize(dt.datetime(2026, 3, 8, 2, 15), "America/New_York")
    first = localize(dt.datetime(2026, 11, 1, 1, 30), "America/New_York")
    assert first == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)  # EDT


def test_a_rules_next_run_is_shown_on_the_characters_clock(administrator_client):
    """Broken before: cron 0 19 * * * for a Berlin character showed "6 p.m."."""
    character = CharacterFactory(timezone=BERLIN)
    rule = AutomationRuleFactory(
        character=character,
        trigger_type="schedule",
        trigger_config={"cron": "0 19 * * *"},
    )
    rule.refresh_from_db()
    local = rule.next_run_at.astimezone(dt.timezone(dt.timedelta(0)))
    assert local.hour in (17, 18)  # 19:00 in Berlin
    page = administrator_client.get(
        reverse("admin:automation_automationrule_change", args=[rule.pk])
    ).content.decode()
    assert "Times on this page are in Europe/Berlin" in page
    assert format_local(rule.next_run_at, BERLIN) in page
    assert ", 19:00 CE" in page  # CET or CEST
    listing = administrator_client.get(
        reverse("admin:automation_automationrule_changelist")
    ).content.decode()
    assert format_local(rule.next_run_at, BERLIN) in listing


def test_the_character_page_lists_upcoming_posts_in_its_zone(
    administrator_client, berlin_account
):
    when = timezone.now() + dt.timedelta(days=3)
    ScheduledPostFactory(platform_account=berlin_account, scheduled_at=when)
    page = administrator_client.get(
        reverse("admin:characters_character_change", args=[berlin_account.character_id])
    ).content.decode()
    assert format_local(when, BERLIN) in page
    assert "Times on this page are in Europe/Berlin" in page


def test_other_pages_use_the_operators_own_zone(administrator_client, administrator):
    job = ContentGenerationFactory()
    url = reverse("admin:content_contentgeneration_changelist")
    assert format_local(job.created_at, "UTC").split(", ")[1] in (
        administrator_client.get(url).content.decode()
    )
    response = administrator_client.post(
        reverse("operator-preferences"), {"timezone": "Asia/Tokyo"}, follow=True
    )
    assert b"Your time zone is now Asia/Tokyo" in response.content
    assert UserPreferences.objects.get(user=administrator).timezone == "Asia/Tokyo"
    assert administrator_client.session[SESSION_KEY] == "Asia/Tokyo"
    page = administrator_client.get(url).content.decode()
    assert format_local(job.created_at, "Asia/Tokyo").split(", ")[1] in page
    assert 'id="operator-zone"' in page and "Asia/Tokyo" in page


def test_an_unknown_zone_is_refused_on_the_preferences_page(administrator_client):
    response = administrator_client.post(
        reverse("operator-preferences"), {"timezone": "Mars/Olympus"}
    )
    assert response.status_code == 200
    assert "timezone" in response.context["form"].errors


def test_the_zone_is_read_at_login_not_on_every_request(client, administrator):
    UserPreferences.objects.create(user=administrator, timezone="Asia/Tokyo")
    client.force_login(administrator)
    assert client.session[SESSION_KEY] == "Asia/Tokyo"


def test_the_next_free_slot_skips_taken_hours_and_the_night(berlin_account):
    # 20:10 Berlin on a winter evening: 21:00 is free, then the night
    after = dt.datetime(2030, 12, 3, 19, 10, tzinfo=dt.UTC)
    assert next_free_slot(
        account_ids=[berlin_account.pk], tz_name=BERLIN, after=after
    ) == dt.datetime(2030, 12, 3, 20, 0, tzinfo=dt.UTC)
    ScheduledPostFactory(
        platform_account=berlin_account,
        scheduled_at=dt.datetime(2030, 12, 3, 20, 0, tzinfo=dt.UTC),
    )
    # 21:00 taken: the next is 09:00 Berlin the day after
    assert next_free_slot(
        account_ids=[berlin_account.pk], tz_name=BERLIN, after=after
    ) == dt.datetime(2030, 12, 4, 8, 0, tzinfo=dt.UTC)


def test_the_next_free_slot_walks_over_a_dst_change(berlin_account):
    # the night the clocks go forward: after 21:30 on 28 March, 09:00 CEST
    after = dt.datetime(2026, 3, 28, 20, 30, tzinfo=dt.UTC)
    slot = next_free_slot(account_ids=[berlin_account.pk], tz_name=BERLIN, after=after)
    assert slot == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)
    assert format_local(slot, BERLIN) == "29 Mar 2026, 09:00 CEST"


def test_rules_use_the_form_fields_for_their_schedule(administrator_client):
    character = CharacterFactory(timezone=BERLIN)
    response = administrator_client.post(
        reverse("admin:automation_automationrule_add"),
        {
            "character": str(character.pk),
            "name": "Evening post",
            "is_enabled": "on",
            "trigger_type": "schedule",
            "tc_cron": "0  19 * * *",
            "platforms": ["instagram"],
            "min_content_quality": "0.5",
            "cooldown_minutes": "60",
            "hashtag_strategy": "template",
            "tc_hashtags": "#sunset, travel",
        },
    )
    assert response.status_code == 302, response.content[-3000:]
    rule = AutomationRule.objects.get()
    assert rule.trigger_config == {
        "cron": "0 19 * * *",
        "hashtags": ["sunset", "travel"],
    }
    assert rule.next_run_at.astimezone(dt.UTC).hour in (17, 18)
