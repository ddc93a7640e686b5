"""Bulk scheduling: posting slots on the character's clock (DST edges), the
spread of approved items over the next free slots (all or none, row-level
reasons, constant queries) and the composer's next free slot from the slots."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from platforms.models import PostingSlot, ScheduledPost
from platforms.selectors import free_slots, next_free_slot
from platforms.services import (
    posting_slots_set,
    scheduled_posts_spread,
    scheduled_posts_spread_plan,
)
from platforms.slots import Slot, instant, parse_times, slot_instants
from tests.factories import (
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)

BERLIN = "Europe/Berlin"
UTC = dt.UTC
# weekdays 09:00 and 19:00
WEEKDAYS_9_19 = [Slot(d, dt.time(h)) for d in range(5) for h in (9, 19)]
# Monday 4 January 2038, 00:00 Berlin
MONDAY = dt.datetime(2038, 1, 3, 23, 0, tzinfo=UTC)


def berlin(*args) -> dt.datetime:
    from config.timezones import zone

    return dt.datetime(*args, tzinfo=zone(BERLIN)).astimezone(UTC)


@pytest.fixture
def luna(db):
    character = CharacterFactory(timezone=BERLIN)
    insta = PlatformAccountFactory(character=character, platform="instagram")
    tg = PlatformAccountFactory(character=character, platform="telegram")
    posting_slots_set(account=insta, slots=WEEKDAYS_9_19)
    posting_slots_set(account=tg, slots=[Slot(d, dt.time(12)) for d in range(7)])
    items = [
        ContentFactory(character=character, approved=True, content_type="image")
        for _ in range(3)
    ]
    return character, insta, tg, items


# --- the slots' arithmetic -----------------------------------------------------------


def test_weekday_slots_land_on_the_characters_clock():
    found = list(
        slot_instants(
            WEEKDAYS_9_19, BERLIN, after=MONDAY, until=MONDAY + dt.timedelta(days=7)
        )
    )
    assert len(found) == 10  # Monday to Friday, twice; nothing at the weekend
    assert (
        found[0] == berlin(2038, 1, 4, 9, 0) == dt.datetime(2038, 1, 4, 8, tzinfo=UTC)
    )
    assert found[1] == berlin(2038, 1, 4, 19, 0)
    assert found[-1] == berlin(2038, 1, 8, 19, 0)


def test_a_slot_in_the_skipped_hour_moves_forward_by_the_gap():
    # 28 March 2038: Berlin's clocks go from 02:00 to 03:00 (Sunday)
    sunday_0230 = Slot(6, dt.time(2, 30))
    [when] = slot_instants(
        [sunday_0230],
        BERLIN,
        after=dt.datetime(2038, 3, 27, 12, tzinfo=UTC),
        until=dt.datetime(2038, 3, 29, tzinfo=UTC),
    )
    assert when == dt.datetime(2038, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_a_slot_in_the_repeated_hour_is_the_first_of_the_two():
    # 31 October 2038: 02:30 happens twice in Berlin (CEST, then CET)
    found = list(
        slot_instants(
            [Slot(6, dt.time(2, 30))],
            BERLIN,
            after=dt.datetime(2038, 10, 30, tzinfo=UTC),
            until=dt.datetime(2038, 11, 1, tzinfo=UTC),
        )
    )
    assert found == [dt.datetime(2038, 10, 31, 0, 30, tzinfo=UTC)]  # 02:30 CEST


def test_two_slots_meeting_in_the_gap_are_one_instant():
    slots = [Slot(6, dt.time(2, 30)), Slot(6, dt.time(3, 30))]
    found = list(
        slot_instants(
            slots,
            BERLIN,
            after=dt.datetime(2038, 3, 27, tzinfo=UTC),
            until=dt.datetime(2038, 3, 29, tzinfo=UTC),
        )
    )
    assert found == [instant(dt.date(2038, 3, 28), dt.time(3, 30), BERLIN)]


def test_times_are_read_from_text_and_a_bad_one_is_named():
    assert parse_times("19:00, 9:00 19:00") == [dt.time(9), dt.time(19)]
    with pytest.raises(ValueError, match="'25:00' is not a time of day"):
        parse_times("09:00, 25:00")


def test_setting_slots_replaces_the_accounts_slots(account):
    posting_slots_set(account=account, slots=WEEKDAYS_9_19)
    posting_slots_set(account=account, slots=[Slot(5, dt.time(11, 15))])
    assert list(
        PostingSlot.objects.filter(platform_account=account).values_list(
            "weekday", "time"
        )
    ) == [(5, dt.time(11, 15))]


# --- free slots ------------------------------------------------------------------------


def test_a_slot_is_taken_by_a_waiting_or_published_post_not_by_a_failed_one(luna):
    character, insta, _, _ = luna
    monday_9 = berlin(2038, 1, 4, 9, 0)
    monday_19 = berlin(2038, 1, 4, 19, 0)
    tuesday_9 = berlin(2038, 1, 5, 9, 0)
    ScheduledPostFactory(platform_account=insta, scheduled_at=monday_9)
    published = ScheduledPostFactory(platform_account=insta, scheduled_at=monday_19)
    ScheduledPost.objects.filter(pk=published.pk).update(
        status="published", published_at=monday_19
    )
    failed = ScheduledPostFactory(platform_account=insta, scheduled_at=tuesday_9)
    ScheduledPost.objects.filter(pk=failed.pk).update(status="failed")

    free = free_slots(account_ids=[insta.pk], tz_name=BERLIN, count=2, after=MONDAY)
    assert free[insta.pk] == [tuesday_9, berlin(2038, 1, 5, 19, 0)]


def test_the_composers_next_free_slot_uses_the_slots(luna):
    character, insta, _, _ = luna
    ScheduledPostFactory(platform_account=insta, scheduled_at=berlin(2038, 1, 4, 9, 0))
    assert next_free_slot(
        account_ids=[insta.pk], tz_name=BERLIN, after=MONDAY
    ) == berlin(2038, 1, 4, 19, 0)


def test_without_slots_the_next_free_slot_is_the_next_whole_hour(account):
    after = dt.datetime(2038, 1, 4, 9, 10, tzinfo=UTC)
    assert next_free_slot(
        account_ids=[account.pk], tz_name="UTC", after=after
    ) == dt.datetime(2038, 1, 4, 10, tzinfo=UTC)


# --- the spread ---------------------------------------------------------------------------


def test_items_are_spread_over_each_accounts_next_free_slots(luna):
    character, insta, tg, items = luna
    ScheduledPostFactory(platform_account=insta, scheduled_at=berlin(2038, 1, 4, 9, 0))

    created = scheduled_posts_spread(
        character_id=character.pk,
        content_ids=[c.pk for c in items],
        account_ids=[insta.pk, tg.pk],
        start=MONDAY,
    )

    planned = {(p.content_id, p.platform_account_id): p.scheduled_at for p in created}
    assert len(created) == 6
    # Instagram: Monday 09:00 was taken; Monday 19:00, Tuesday 09:00, 19:00
    assert [planned[(c.pk, insta.pk)] for c in items] == [
        berlin(2038, 1, 4, 19, 0),
        berlin(2038, 1, 5, 9, 0),
        berlin(2038, 1, 5, 19, 0),
    ]
    # Telegram: noon every day
    assert [planned[(c.pk, tg.pk)] for c in items] == [
        berlin(2038, 1, 4, 12, 0),
        berlin(2038, 1, 5, 12, 0),
        berlin(2038, 1, 6, 12, 0),
    ]
    assert {p.timezone for p in created} == {BERLIN}
    assert all(p.status == "scheduled" for p in created)


def test_a_spread_is_all_or_none_with_each_rows_reason(luna):
    character, insta, tg, items = luna
    pending = ContentFactory(character=character, content_type="image")
    other = ContentFactory(approved=True, content_type="image")

    plan = scheduled_posts_spread_plan(
        character_id=character.pk,
        content_ids=[items[0].pk, pending.pk, other.pk],
        account_ids=[insta.pk],
        start=MONDAY,
    )
    reasons = {row.content.pk: row.problems for row in plan.rows}
    assert reasons[items[0].pk] == []
    assert reasons[pending.pk] == ["Only approved content can be scheduled."]
    assert reasons[other.pk] == ["This content belongs to another character."]
    assert not plan.ok

    with pytest.raises(ValidationError) as caught:
        scheduled_posts_spread(
            character_id=character.pk,
            content_ids=[items[0].pk, pending.pk],
            account_ids=[insta.pk],
            start=MONDAY,
        )
    assert any("Only approved content" in m for m in caught.value.messages)
    assert not ScheduledPost.objects.exists()


def test_an_account_without_slots_stops_the_spread_with_a_reason(luna):
    character, _, _, items = luna
    bare = PlatformAccountFactory(character=character, platform="twitter")
    plan = scheduled_posts_spread_plan(
        character_id=character.pk,
        content_ids=[items[0].pk],
        account_ids=[bare.pk],
        start=MONDAY,
    )
    assert not plan.ok
    assert "has no free posting slot" in plan.errors[0]


def test_the_spread_costs_the_same_for_2_and_12_items(luna, django_assert_num_queries):
    character, insta, tg, items = luna
    more = items + [
        ContentFactory(character=character, approved=True, content_type="image")
        for _ in range(9)
    ]

    def spread(chosen):
        return scheduled_posts_spread(
            character_id=character.pk,
            content_ids=[c.pk for c in chosen],
            account_ids=[insta.pk, tg.pk],
            start=MONDAY,
        )

    # savepoint; accounts FOR UPDATE (with the character); the items; the
    # slots; the taken minutes; one INSERT; the log row; release
    with django_assert_num_queries(8):
        assert len(spread(more[:2])) == 4
    with django_assert_num_queries(8):
        assert len(spread(more[2:])) == 20
