"""Bulk scheduling in the admin: the slot editor, the spread action with its
preview, and the CSV import with its dry-run preview and row errors."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from content.models import Content
from platforms.models import PostingSlot, ScheduledPost
from platforms.services import posting_slots_set
from platforms.slots import Slot
from tests.factories import (
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
)

BERLIN = "Europe/Berlin"
CONTENT_LIST = "/admin/content/content/"


@pytest.fixture
def luna(db):
    character = CharacterFactory(name="Luna Vale", timezone=BERLIN)
    insta = PlatformAccountFactory(character=character, platform="instagram")
    items = [
        ContentFactory(character=character, approved=True, content_type="image")
        for _ in range(2)
    ]
    return character, insta, items


def slots_url(account):
    return reverse("admin:platforms_platformaccount_slots", args=[account.pk])


# --- the slot editor ---------------------------------------------------------------------


def test_the_slot_editor_takes_times_per_weekday(operator_client, luna):
    _, insta, _ = luna
    page = operator_client.get(slots_url(insta))
    assert page.status_code == 200
    assert "Europe/Berlin" in page.content.decode()
    data = dict.fromkeys(("monday", "tuesday", "wednesday"), "09:00, 19:00")
    response = operator_client.post(slots_url(insta), {**data, "saturday": "11:30"})
    assert response.status_code == 302
    assert PostingSlot.objects.filter(platform_account=insta).count() == 7
    page = operator_client.get(slots_url(insta)).content.decode()
    assert 'value="09:00, 19:00"' in page and "7 slots a week" in page


def test_a_bad_time_is_a_form_error_on_its_day(operator_client, luna):
    _, insta, _ = luna
    response = operator_client.post(slots_url(insta), {"friday": "9am"})
    assert response.status_code == 400
    assert response.context["form"].errors["friday"] == [
        "'9am' is not a time of day: write HH:MM (24 hours), for example 09:00, 19:30."
    ]
    assert not PostingSlot.objects.exists()


def test_analysts_see_the_slots_but_cannot_change_them(analyst_client, luna):
    _, insta, _ = luna
    assert analyst_client.get(slots_url(insta)).status_code == 200
    assert analyst_client.post(slots_url(insta), {"monday": "09:00"}).status_code == 403


def test_the_account_page_links_to_its_slots(operator_client, luna):
    _, insta, _ = luna
    page = operator_client.get(
        reverse("admin:platforms_platformaccount_change", args=[insta.pk])
    ).content.decode()
    assert slots_url(insta) in page


def test_the_slot_editor_costs_the_same_with_more_slots(
    operator_client, luna, django_assert_num_queries
):
    _, insta, _ = luna
    operator_client.get(slots_url(insta))  # session, permissions
    posting_slots_set(account=insta, slots=[Slot(0, dt.time(9))])
    # the account, its slots, its best times (and the session's user)
    with django_assert_num_queries(5) as few:
        operator_client.get(slots_url(insta))
    posting_slots_set(
        account=insta, slots=[Slot(d, dt.time(h)) for d in range(7) for h in range(24)]
    )
    with django_assert_num_queries(len(few)):
        operator_client.get(slots_url(insta))


# --- the spread action ---------------------------------------------------------------------


def spread_post(client, items, **extra):
    return client.post(
        CONTENT_LIST,
        {
            "action": "spread_over_slots",
            "_selected_action": [str(i.pk) for i in items],
            "index": "0",
            **extra,
        },
    )


def test_the_spread_previews_then_schedules_all(operator_client, luna):
    character, insta, items = luna
    posting_slots_set(account=insta, slots=[Slot(d, dt.time(19)) for d in range(7)])

    form = spread_post(operator_client, items)
    assert form.status_code == 200
    assert "Spread 2 item(s) of Luna Vale" in form.content.decode()

    choice = {"accounts": [str(insta.pk)], "start": "2038-01-04T20:00"}
    preview = spread_post(operator_client, items, spread="preview", **choice)
    page = preview.content.decode()
    assert "5 Jan 2038, 19:00 CET" in page and "6 Jan 2038, 19:00 CET" in page
    assert 'id="spread-confirm"' in page
    assert not ScheduledPost.objects.exists()

    done = spread_post(operator_client, items, spread="confirm", **choice)
    assert done.status_code == 302
    assert sorted(ScheduledPost.objects.values_list("scheduled_at", flat=True)) == [
        dt.datetime(2038, 1, 5, 18, tzinfo=dt.UTC),
        dt.datetime(2038, 1, 6, 18, tzinfo=dt.UTC),
    ]


def test_a_pending_item_shows_its_reason_and_blocks_the_spread(operator_client, luna):
    character, insta, items = luna
    posting_slots_set(account=insta, slots=[Slot(0, dt.time(9))])
    pending = ContentFactory(character=character, content_type="image")
    choice = {"accounts": [str(insta.pk)]}
    preview = spread_post(
        operator_client, [*items, pending], spread="preview", **choice
    )
    page = preview.content.decode()
    assert "Only approved content can be scheduled." in page
    assert 'id="spread-confirm"' not in page
    # a confirm posted anyway schedules nothing and says why
    refused = spread_post(
        operator_client, [*items, pending], spread="confirm", **choice
    )
    assert refused.status_code == 200
    assert "Only approved content can be scheduled." in refused.content.decode()
    assert not ScheduledPost.objects.exists()


def test_items_of_two_characters_are_not_spread(operator_client, luna):
    _, _, items = luna
    other = ContentFactory(approved=True, content_type="image")
    response = spread_post(operator_client, [items[0], other])
    assert response.status_code == 302
    assert not ScheduledPost.objects.exists()


def test_analysts_do_not_get_the_spread_action(analyst_client, luna):
    page = analyst_client.get(CONTENT_LIST).content.decode()
    assert "spread_over_slots" not in page


def test_the_spread_preview_costs_the_same_for_2_and_10_items(
    operator_client, luna, django_assert_num_queries
):
    character, insta, items = luna
    posting_slots_set(account=insta, slots=[Slot(d, dt.time(9)) for d in range(7)])
    choice = {"accounts": [str(insta.pk)], "spread": "preview"}
    spread_post(operator_client, items, **choice)  # session, permissions
    # session, user; the changelist's estimate and count (the admin's action
    # handling); the selected items; their character; the form's accounts,
    # their slots and its check of the chosen ones; the plan's accounts,
    # items, slots and taken minutes
    with django_assert_num_queries(13) as few:
        spread_post(operator_client, items, **choice)
    more = items + [
        ContentFactory(character=character, approved=True, content_type="image")
        for _ in range(8)
    ]
    with django_assert_num_queries(len(few)):
        page = spread_post(operator_client, more, **choice)
    assert page.content.decode().count('class="spread-ok"') == 10


# --- CSV import in the admin ------------------------------------------------------------------


def upload(client, url, text):
    return client.post(
        url,
        {
            "format": "0",
            "resource": "0",
            "import_file": SimpleUploadedFile("posts.csv", text.encode(), "text/csv"),
        },
    )


def test_the_import_preview_shows_a_bad_row_and_imports_nothing(operator_client, luna):
    _, _, items = luna
    text = (
        "character,platform,scheduled_at,content,caption\n"
        f"Luna Vale,instagram,2038-01-04 19:00,{items[0].pk},ok\n"
        f"Luna Vale,instagram,2038-13-40 19:00,{items[1].pk},bad\n"
    )
    page = upload(operator_client, "/admin/platforms/scheduledpost/import/", text)
    assert page.status_code == 200
    html = page.content.decode()
    assert "is not a time" in html
    assert "confirm_form" not in page.context or page.context["confirm_form"] is None
    assert not ScheduledPost.objects.exists()


def test_the_import_is_confirmed_after_its_dry_run(operator_client, luna):
    _, insta, items = luna
    text = (
        "character,platform,scheduled_at,content,caption\n"
        f"Luna Vale,instagram,2038-01-04 19:00,{items[0].pk},one\n"
        f"Luna Vale,instagram,2038-01-05T19:00:00+01:00,{items[1].pk},two\n"
    )
    page = upload(operator_client, "/admin/platforms/scheduledpost/import/", text)
    assert page.status_code == 200
    assert not ScheduledPost.objects.exists()  # the preview was a dry run
    confirm = page.context["confirm_form"]
    response = operator_client.post(
        "/admin/platforms/scheduledpost/process_import/", confirm.initial
    )
    assert response.status_code == 302
    assert sorted(ScheduledPost.objects.values_list("scheduled_at", flat=True)) == [
        dt.datetime(2038, 1, 4, 18, tzinfo=dt.UTC),
        dt.datetime(2038, 1, 5, 18, tzinfo=dt.UTC),
    ]
    assert set(ScheduledPost.objects.values_list("timezone", flat=True)) == {BERLIN}


def test_analysts_cannot_import(analyst_client, luna):
    response = analyst_client.get("/admin/platforms/scheduledpost/import/")
    assert response.status_code == 403


def test_the_content_import_changes_metadata_after_its_preview(operator_client, luna):
    _, _, items = luna
    text = f'id,tags\n{items[0].pk},"night, city"\n'
    page = upload(operator_client, "/admin/content/content/import/", text)
    assert page.status_code == 200, page.content
    response = operator_client.post(
        "/admin/content/content/process_import/", page.context["confirm_form"].initial
    )
    assert response.status_code == 302
    assert Content.objects.get(pk=items[0].pk).tags == ["night", "city"]


def test_the_export_page_answers_a_csv(operator_client, luna):
    _, insta, _ = luna
    page = operator_client.get("/admin/platforms/scheduledpost/export/")
    assert page.status_code == 200
