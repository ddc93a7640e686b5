"""Bad input on the add/change forms is a form error, never a 500."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRule
from platforms.models import ScheduledPost
from tests.factories import ContentFactory, PlatformAccountFactory, ScheduledPostFactory

ADD_SCHEDULED = reverse("admin:platforms_scheduledpost_add")


def scheduled_form(account, content, when, **overrides):
    data = {
        "character": str(account.character_id),
        "platform_account": str(account.pk),
        "scheduled_at_0": when.strftime("%Y-%m-%d"),
        "scheduled_at_1": when.strftime("%H:%M:%S"),
        "timezone": "UTC",
        "content": str(content.pk) if content else "",
        "caption": "Hello",
        "post_type": "post",
        "max_retries": "3",
    }
    data.update(overrides)
    return data


def test_scheduling_a_post_with_approved_content(administrator_client, account):
    # an image: what an Instagram post takes (the platform's rules are checked)
    content = ContentFactory(
        character=account.character, approved=True, content_type="image"
    )
    when = timezone.now() + dt.timedelta(days=1)
    response = administrator_client.post(
        ADD_SCHEDULED, scheduled_form(account, content, when)
    )
    assert response.status_code == 302, response.content[-3000:]
    assert ScheduledPost.objects.get().status == "scheduled"


@pytest.mark.parametrize(
    "case",
    ["past", "unapproved", "other_character", "bad_timezone", "garbage_date"],
)
def test_scheduling_errors_are_form_errors(administrator_client, account, case):
    content = ContentFactory(character=account.character, approved=True)
    when = timezone.now() + dt.timedelta(days=1)
    overrides = {}
    if case == "past":
        when = timezone.now() - dt.timedelta(days=1)
    elif case == "unapproved":
        content = ContentFactory(character=account.character)
    elif case == "other_character":
        overrides["platform_account"] = str(PlatformAccountFactory().pk)
    elif case == "bad_timezone":
        overrides["timezone"] = "Mars/Base"
    elif case == "garbage_date":
        overrides["scheduled_at_0"] = "tomorrow"
    response = administrator_client.post(
        ADD_SCHEDULED, scheduled_form(account, content, when, **overrides)
    )
    assert response.status_code == 200
    assert b"errornote" in response.content
    assert not ScheduledPost.objects.exists()


def test_changing_a_scheduled_post_to_before_its_creation_is_refused(
    administrator_client, account
):
    post = ScheduledPostFactory(platform_account=account)
    url = reverse("admin:platforms_scheduledpost_change", args=[post.pk])
    response = administrator_client.post(
        url,
        scheduled_form(account, post.content, timezone.now() - dt.timedelta(days=2)),
    )
    assert response.status_code == 200
    assert b"before it was created" in response.content


def test_rule_platforms_are_checkboxes_and_validated(administrator_client, character):
    url = reverse("admin:automation_automationrule_add")
    page = administrator_client.get(url).content
    assert b'type="checkbox" name="platforms" value="instagram"' in page
    data = {
        "character": str(character.pk),
        "name": "Morning post",
        "is_enabled": "on",
        "trigger_type": "schedule",
        "tc_cron": "0 9 * * *",
        "min_content_quality": "0.7",
        "cooldown_minutes": "60",
    }
    missing = administrator_client.post(url, data)
    assert missing.status_code == 200 and b"errornote" in missing.content
    bad_cron = administrator_client.post(
        url, {**data, "platforms": ["instagram"], "tc_cron": "oops"}
    )
    assert bad_cron.status_code == 200 and b"errornote" in bad_cron.content
    assert "tc_cron" in bad_cron.context["adminform"].form.errors
    ok = administrator_client.post(url, {**data, "platforms": ["instagram", "twitter"]})
    assert ok.status_code == 302, ok.content[-2000:]
    assert AutomationRule.objects.get().platforms == ["instagram", "twitter"]


def test_a_duplicate_metric_is_a_form_error(administrator_client, account):
    from tests.factories import AnalyticsFactory

    row = AnalyticsFactory(platform_account=account, metric_date=dt.date(2026, 3, 1))
    response = administrator_client.post(
        reverse("admin:analytics_analytics_add"),
        {
            "character": str(account.character_id),
            "platform_account": str(account.pk),
            "metric_date": "2026-03-01",
            "platform": account.platform,
            "metric_type": row.metric_type,
            "metric_value": "12.5",
            "metadata": "null",
        },
    )
    assert response.status_code == 200
    assert b"already recorded" in response.content


def test_adding_content_asks_for_a_file_not_its_dimensions(
    administrator_client, character
):
    """Dimensions, size and type are read from the file (the media library);
    a form without one says the file is missing, not that width is."""
    page = administrator_client.get(reverse("admin:content_content_add"))
    assert b'type="file" name="upload"' in page.content
    assert b'name="width"' not in page.content
    response = administrator_client.post(
        reverse("admin:content_content_add"),
        {"character": str(character.pk), "content_type": "image"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["upload"]


def test_the_account_picker_lists_only_the_characters_accounts(
    administrator_client,
):
    from django.urls import reverse

    from platforms.models import ScheduledPost
    from tests.factories import PlatformAccountFactory, ScheduledPostFactory

    mine = PlatformAccountFactory(platform="instagram")
    mine_too = PlatformAccountFactory(character=mine.character, platform="twitter")
    other = PlatformAccountFactory(platform="facebook")
    sp = ScheduledPostFactory(platform_account=mine)

    change = administrator_client.get(
        reverse("admin:platforms_scheduledpost_change", args=[sp.pk])
    )
    picker = change.context["adminform"].form.fields["platform_account"]
    assert set(picker.queryset) == {mine, mine_too}

    add_url = reverse("admin:platforms_scheduledpost_add")
    add = administrator_client.get(add_url + f"?character={mine.character_id}")
    form = add.context["adminform"].form
    assert set(form.fields["platform_account"].queryset) == {mine, mine_too}
    assert str(form.initial["character"]) == str(mine.character_id)
    assert f'value="{other.pk}"' not in add.content.decode()

    # without a character it stays an autocomplete over every account
    plain = administrator_client.get(add_url + "?character=not-a-uuid")
    assert plain.status_code == 200
    assert "admin-autocomplete" in plain.content.decode()
    assert ScheduledPost.objects.count() == 1


def test_the_character_page_links_to_scheduling_a_post(administrator_client, character):
    from django.urls import reverse

    page = administrator_client.get(
        reverse("admin:characters_character_change", args=[character.pk])
    ).content.decode()
    assert f"/admin/platforms/scheduledpost/add/?character={character.pk}" in page


def test_deeply_nested_json_in_an_admin_field_is_a_form_error(administrator_client):
    """The JSON typed into an admin form (an account's new credentials) is
    parsed with a depth limit: a form error, never a RecursionError."""
    from tests.admin.test_credentials import change_url, form_data

    account = PlatformAccountFactory(platform="telegram")
    deep = "[" * 3000 + "]" * 3000
    response = administrator_client.post(
        change_url(account), form_data(account, new_credentials=deep)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "nested more than" in errors["new_credentials"][0]


def test_a_post_for_now_is_scheduled_from_the_admin(administrator_client, account):
    """The form takes a time up to a minute old ("now"); the scheduling
    service stamps the row so that the database's rule holds."""
    content = ContentFactory(
        character=account.character, approved=True, content_type="image"
    )
    when = timezone.now() - dt.timedelta(seconds=20)
    response = administrator_client.post(
        ADD_SCHEDULED, scheduled_form(account, content, when)
    )
    assert response.status_code == 302, response.content[-3000:]
    post = ScheduledPost.objects.get()
    assert post.created_at <= post.scheduled_at
