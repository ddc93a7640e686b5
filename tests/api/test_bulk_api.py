"""Bulk scheduling through the API: posting slots, the spread, CSV import
(dry run, all or none, row errors) and export with the list's filters."""

import csv
import datetime as dt
import io

import pytest

from platforms.models import ScheduledPost
from platforms.services import posting_slots_set
from platforms.slots import Slot
from tests.factories import (
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)

pytestmark = pytest.mark.django_db
BERLIN = "Europe/Berlin"
SLOTS = "/api/v1/platform-accounts/{}/slots/"
SPREAD = "/api/v1/scheduled-posts/spread/"
IMPORT = "/api/v1/scheduled-posts/import/"
EXPORT = "/api/v1/scheduled-posts/export/"


@pytest.fixture
def luna(db):
    character = CharacterFactory(name="Luna Vale", timezone=BERLIN)
    insta = PlatformAccountFactory(character=character, platform="instagram")
    image = ContentFactory(character=character, approved=True, content_type="image")
    return character, insta, image


def post_csv(client, text, dry_run=False):
    return client.generic(
        "POST",
        IMPORT + ("?dry_run=1" if dry_run else ""),
        text.encode(),
        content_type="text/csv",
    )


def csv_of(*rows, header="character,platform,scheduled_at,timezone,content,caption"):
    return "\n".join([header, *rows]) + "\n"


# --- slots ----------------------------------------------------------------------------


def test_slots_are_read_and_replaced(operator_api, luna):
    _, insta, _ = luna
    body = {"slots": [{"weekday": 0, "time": "09:00"}, {"weekday": 4, "time": "19:30"}]}
    response = operator_api.put(SLOTS.format(insta.pk), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {**body, "timezone": BERLIN}
    assert operator_api.get(SLOTS.format(insta.pk)).json()["slots"] == body["slots"]


def test_a_bad_slot_is_a_400_naming_the_field(operator_api, luna):
    _, insta, _ = luna
    response = operator_api.put(
        SLOTS.format(insta.pk),
        {"slots": [{"weekday": 7, "time": "25:00"}]},
        format="json",
    )
    assert response.status_code == 400
    # DRF keys a list's item errors by the item's index
    errors = response.json()["slots"]["0"]
    assert set(errors) == {"weekday", "time"}


def test_analysts_cannot_change_slots(analyst_api, luna):
    _, insta, _ = luna
    response = analyst_api.put(SLOTS.format(insta.pk), {"slots": []}, format="json")
    assert response.status_code == 403


# --- spread ------------------------------------------------------------------------------


def test_the_spread_answers_the_plan_then_schedules_it(operator_api, luna):
    character, insta, image = luna
    posting_slots_set(account=insta, slots=[Slot(d, dt.time(9)) for d in range(7)])
    body = {
        "character": str(character.pk),
        "content": [str(image.pk)],
        "accounts": [str(insta.pk)],
        "start": "2038-01-04T10:00:00",  # on Luna's clock: after Monday 09:00
        "dry_run": True,
    }
    plan = operator_api.post(SPREAD, body, format="json")
    assert plan.status_code == 200, plan.content
    [row] = plan.json()["rows"]
    assert row["scheduled_at"] == "2038-01-05T08:00:00Z"  # Tuesday 09:00 CET
    assert not ScheduledPost.objects.exists()

    done = operator_api.post(SPREAD, {**body, "dry_run": False}, format="json")
    assert done.status_code == 201, done.content
    [pk] = done.json()["created"]
    assert ScheduledPost.objects.get(pk=pk).scheduled_at == dt.datetime(
        2038, 1, 5, 8, tzinfo=dt.UTC
    )


def test_a_spread_with_a_bad_row_is_a_400_with_its_reason(operator_api, luna):
    character, insta, image = luna
    posting_slots_set(account=insta, slots=[Slot(0, dt.time(9))])
    pending = ContentFactory(character=character, content_type="image")
    response = operator_api.post(
        SPREAD,
        {
            "character": str(character.pk),
            "content": [str(image.pk), str(pending.pk)],
            "accounts": [str(insta.pk)],
        },
        format="json",
    )
    assert response.status_code == 400
    problems = {r["content"]: r["problems"] for r in response.json()["rows"]}
    assert problems[str(pending.pk)] == ["Only approved content can be scheduled."]
    assert not ScheduledPost.objects.exists()


# --- CSV import ------------------------------------------------------------------------------


def test_a_dry_run_reports_and_writes_nothing(operator_api, luna):
    _, _, image = luna
    text = csv_of(
        f"Luna Vale,instagram,2038-01-04T19:00:00+01:00,,{image.pk},Hello",
        f"Luna Vale,instagram,2038-01-05 19:00,{BERLIN},{image.pk},Again",
    )
    response = post_csv(operator_api, text, dry_run=True)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "dry_run": True,
        "imported": 0,
        "rows": 2,
        "valid": 2,
        "errors": [],
        "file_errors": [],
    }
    assert not ScheduledPost.objects.exists()


def test_an_import_schedules_every_row_through_the_rules(operator_api, luna):
    _, insta, image = luna
    text = csv_of(
        f"Luna Vale,instagram,2038-01-04T19:00:00+01:00,,{image.pk},Hello",
        # a wall-clock time in the row's zone; Berlin is on summer time then
        "Luna Vale,Instagram,2038-07-05 19:00,Europe/Berlin,,Just text? no",
    )
    response = post_csv(operator_api, text)
    # Instagram needs media: the second row is refused, so none is imported
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["row"] == 2
    assert not ScheduledPost.objects.exists()

    text = csv_of(
        f"Luna Vale,instagram,2038-01-04T19:00:00+01:00,,{image.pk},Hello",
        f"Luna Vale,instagram,2038-07-05 19:00,Europe/Berlin,{image.pk},Summer",
    )
    response = post_csv(operator_api, text)
    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 2
    times = sorted(ScheduledPost.objects.values_list("scheduled_at", flat=True))
    assert times == [
        dt.datetime(2038, 1, 4, 18, tzinfo=dt.UTC),
        dt.datetime(2038, 7, 5, 17, tzinfo=dt.UTC),  # 19:00 CEST
    ]
    assert set(ScheduledPost.objects.values_list("platform_account", flat=True)) == {
        insta.pk
    }


def test_each_bad_row_is_named_by_column(operator_api, luna):
    _, _, image = luna
    text = csv_of(
        f"Luna Vale,instagram,2038-01-04T19:00:00+01:00,,{image.pk},ok",
        f"Nobody,instagram,2038-01-04T19:00:00+01:00,,{image.pk},who",
        f"Luna Vale,myspace,2038-01-04T19:00:00+01:00,,{image.pk},where",
        f"Luna Vale,instagram,tomorrow-ish,,{image.pk},when",
        f"Luna Vale,instagram,2038-03-28 02:30,{BERLIN},{image.pk},skipped hour",
        f"Luna Vale,instagram,2020-01-01T10:00:00Z,,{image.pk},past",
        f"Luna Vale,instagram,2038-01-04 10:00,Mars/Olympus,{image.pk},zone",
    )
    response = post_csv(operator_api, text, dry_run=True)
    assert response.status_code == 400
    errors = {e["row"]: e["errors"] for e in response.json()["errors"]}
    assert set(errors) == {2, 3, 4, 5, 6, 7}
    assert "No character 'Nobody'" in errors[2]["character"][0]
    assert "platform" in errors[3]
    assert "is not a time" in errors[4]["scheduled_at"][0]
    assert "does not exist in Europe/Berlin" in errors[5]["scheduled_at"][0]
    assert errors[6]["scheduled_at"] == ["Choose a time in the future."]
    assert "timezone" in errors[7]


def test_a_file_without_the_needed_columns_is_a_file_error(operator_api, luna):
    response = post_csv(operator_api, "caption\nhello\n")
    assert response.status_code == 400
    assert "scheduled_at" in response.json()["file_errors"][0]
    assert response.json()["errors"] == []


def test_an_exported_row_imported_again_is_refused(operator_api, luna):
    _, insta, _ = luna
    ScheduledPostFactory(platform_account=insta)
    exported = operator_api.get(EXPORT).content.decode()
    response = post_csv(operator_api, exported, dry_run=True)
    assert response.status_code == 400
    assert "scheduled already" in response.json()["errors"][0]["errors"]["id"][0]


def test_analysts_cannot_import(analyst_api, luna):
    response = post_csv(analyst_api, csv_of(), dry_run=True)
    assert response.status_code == 403


def test_the_import_costs_the_same_for_2_and_20_rows(
    operator_api, luna, django_assert_num_queries
):
    _, _, image = luna

    def rows(n, day):
        return csv_of(
            *(
                f"Luna Vale,instagram,2038-02-{day:02d}T{h:02d}:00:00+01:00,,"
                f"{image.pk},Row {h}"
                for h in range(n)
            )
        )

    post_csv(operator_api, "x\n1\n", dry_run=True)  # permissions read, cached
    # the accounts, the content (ids: none given, no query); one INSERT; the
    # library's savepoints (import, before, bulk, after) and their releases;
    # the token: from the process's memory (config.api_gate)
    with django_assert_num_queries(11):
        assert post_csv(operator_api, rows(2, 1)).status_code == 201
    with django_assert_num_queries(11):
        assert post_csv(operator_api, rows(20, 2)).status_code == 201
    assert ScheduledPost.objects.count() == 22


# --- CSV export ------------------------------------------------------------------------------


def test_the_export_uses_the_lists_filters_and_the_posts_clock(operator_api, luna):
    character, insta, _ = luna
    ScheduledPostFactory(
        platform_account=insta,
        scheduled_at=dt.datetime(2030, 1, 7, 18, tzinfo=dt.UTC),
        timezone=BERLIN,
        hashtags=["sun", "sea"],
    )
    ScheduledPostFactory()  # another character's
    response = operator_api.get(EXPORT, {"character": str(character.pk)})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["character"] == "Luna Vale"
    assert row["platform"] == "instagram"
    assert row["scheduled_at"] == "2030-01-07T19:00:00+01:00"
    assert row["hashtags"] == "#sun #sea"
    assert row["status"] == "scheduled"
