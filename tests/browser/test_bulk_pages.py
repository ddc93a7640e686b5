"""Bulk scheduling in a real browser: an account's posting slots, spreading
approved items over the next free slots (preview, then schedule), and a CSV
import whose dry run shows a bad row before a good file is imported."""

import datetime as dt

import pytest

from platforms.models import PostingSlot, ScheduledPost
from tests.browser.conftest import shot
from tests.factories import CharacterFactory, ContentFactory, PlatformAccountFactory

pytestmark = pytest.mark.browser
BERLIN = "Europe/Berlin"


@pytest.fixture
def luna(transactional_db):
    character = CharacterFactory(name="Luna Vale", timezone=BERLIN)
    insta = PlatformAccountFactory(
        character=character, platform="instagram", account_username="luna"
    )
    items = [
        ContentFactory(
            character=character,
            approved=True,
            content_type="image",
            caption=f"Sunset {i}",
        )
        for i in range(3)
    ]
    return character, insta, items


def test_slots_then_spreading_items_over_them(logged_in, live_server, luna):
    page = logged_in
    character, insta, items = luna
    page.goto(f"{live_server.url}/admin/platforms/platformaccount/{insta.pk}/change/")
    page.click("#posting-slots-link")
    assert "Europe/Berlin" in page.inner_text("#zone-note")
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday"):
        page.fill(f"#id_{day}", "09:00, 19:00")
    page.fill("#id_saturday", "7pm")
    page.click("#save-slots")
    assert "'7pm' is not a time of day" in page.inner_text(".errorlist")
    page.fill("#id_saturday", "")
    page.click("#save-slots")
    page.wait_for_selector(".messagelist .success")
    assert "10 slots a week" in page.inner_text("#slots-summary")
    shot(page, "bulk-01-posting-slots")
    assert PostingSlot.objects.filter(platform_account=insta).count() == 10

    page.goto(
        f"{live_server.url}/admin/content/content/?character__id__exact={character.pk}"
    )
    for item in items:
        page.check(f"input[name=_selected_action][value='{item.pk}']")
    page.select_option("select[name=action]", "spread_over_slots")
    page.click("button[name=index]")
    page.wait_for_selector("#spread-form")
    page.check(f"input[name=accounts][value='{insta.pk}']")
    page.fill("#id_start", "2038-01-04T10:00")
    page.click("#spread-preview-button")
    page.wait_for_selector("#spread-preview")
    times = page.locator("#spread-preview tbody tr td:nth-child(3)").all_inner_texts()
    assert times == [
        "4 Jan 2038, 19:00 CET",
        "5 Jan 2038, 09:00 CET",
        "5 Jan 2038, 19:00 CET",
    ]
    shot(page, "bulk-02-spread-preview")
    page.click("#spread-confirm")
    page.wait_for_selector(".messagelist .success")
    assert "3 post(s) scheduled" in page.inner_text(".messagelist")
    assert sorted(ScheduledPost.objects.values_list("scheduled_at", flat=True)) == [
        dt.datetime(2038, 1, 4, 18, tzinfo=dt.UTC),
        dt.datetime(2038, 1, 5, 8, tzinfo=dt.UTC),
        dt.datetime(2038, 1, 5, 18, tzinfo=dt.UTC),
    ]


def _import(page, live_server, text: str) -> None:
    page.goto(f"{live_server.url}/admin/platforms/scheduledpost/import/")
    page.set_input_files(
        "input[name=import_file]",
        files=[{"name": "month.csv", "mimeType": "text/csv", "buffer": text.encode()}],
    )
    if page.locator("select[name=format]").count():
        page.select_option("select[name=format]", label="csv")
    page.click("input[type=submit][value=Submit]")
    page.wait_for_load_state()


def test_csv_import_shows_a_bad_row_then_imports_a_good_file(
    logged_in, live_server, luna
):
    page = logged_in
    _, _, items = luna
    header = "character,platform,scheduled_at,timezone,content,caption\n"
    bad = header + (
        f"Luna Vale,instagram,2038-02-01 19:00,,{items[0].pk},ok\n"
        f"Luna Vale,instagram,2038-02-30 19:00,,{items[1].pk},no such day\n"
        f"Nobody,instagram,2038-02-02 19:00,,{items[2].pk},who\n"
    )
    _import(page, live_server, bad)
    body = page.inner_text("#content")
    assert "is not a time" in body and "No character 'Nobody'" in body
    assert page.locator("form[action$='process_import/']").count() == 0
    shot(page, "bulk-03-csv-import-bad-row")
    assert not ScheduledPost.objects.exists()

    good = header + (
        f"Luna Vale,instagram,2038-02-01 19:00,,{items[0].pk},one\n"
        f"Luna Vale,instagram,2038-02-02T19:00:00+01:00,,{items[1].pk},two\n"
    )
    _import(page, live_server, good)
    assert not ScheduledPost.objects.exists()  # the preview is a dry run
    shot(page, "bulk-04-csv-import-preview")
    page.click("form[action$='process_import/'] input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert sorted(ScheduledPost.objects.values_list("scheduled_at", flat=True)) == [
        dt.datetime(2038, 2, 1, 18, tzinfo=dt.UTC),
        dt.datetime(2038, 2, 2, 18, tzinfo=dt.UTC),
    ]
