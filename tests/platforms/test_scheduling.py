"""scheduled_posts_create: the one way a scheduled post is created."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from platforms.models import ScheduledPost
from platforms.services import scheduled_post_problems, scheduled_posts_create
from tests import factories as f

pytestmark = pytest.mark.django_db


def draft(account, **changes):
    values = {
        "character": account.character,
        "platform_account": account,
        "scheduled_at": timezone.now() + dt.timedelta(hours=1),
        "timezone": "Europe/Berlin",
        # a size every platform takes (the factory draws up to 5 MB; a
        # Facebook photo may have 4)
        "content": f.ContentFactory(
            character=account.character,
            approved=True,
            content_type="image",
            file_size=500_000,
        ),
        "caption": "Hello",
        "post_type": "post",
    }
    return ScheduledPost(**{**values, **changes})


def test_several_posts_are_scheduled_in_one_insert(django_assert_num_queries):
    character = f.CharacterFactory()
    posts = [
        draft(f.PlatformAccountFactory(character=character, platform=platform))
        for platform in ("instagram", "facebook", "telegram")
    ]
    posts[2].post_type = "message"
    with django_assert_num_queries(1):
        created = scheduled_posts_create(posts=posts)
    rows = ScheduledPost.objects.filter(pk__in=[p.pk for p in created])
    assert rows.count() == 3
    for row in rows:
        assert row.status == "scheduled" and row.created_at <= row.scheduled_at
        assert row.timezone == "Europe/Berlin"


def test_a_time_just_past_is_taken_as_now():
    """A time typed as "now" is a few seconds old when it arrives; the row's
    creation stamp follows it, so scheduled_at >= created_at still holds."""
    post = draft(
        f.PlatformAccountFactory(platform="instagram"),
        scheduled_at=timezone.now() - dt.timedelta(seconds=30),
    )
    [created] = scheduled_posts_create(posts=[post])
    created.refresh_from_db()
    assert created.created_at == created.scheduled_at


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("other_account", "platform_account", "another character"),
        ("other_content", "content", "another character"),
        ("unapproved", "content", "Only approved content"),
        ("text_only", "content", "text-only posts are refused"),
        ("timezone", "timezone", "Mars/Base is not a known time zone"),
        ("naive", "scheduled_at", "with its time zone"),
        ("past", "scheduled_at", "Choose a time in the future"),
        ("no_character", "character", "Choose the character"),
    ],
)
def test_a_post_that_breaks_a_rule_is_refused_on_its_field(case, field, words):
    account = f.PlatformAccountFactory(platform="instagram")
    changes = {
        "other_account": {"platform_account": f.PlatformAccountFactory()},
        "other_content": {
            "content": f.ContentFactory(approved=True, content_type="image")
        },
        "unapproved": {
            "content": f.ContentFactory(
                character=account.character, approval_status="pending"
            )
        },
        "text_only": {"content": None},
        "timezone": {"timezone": "Mars/Base"},
        "naive": {"scheduled_at": dt.datetime(2030, 1, 1, 9)},
        "past": {"scheduled_at": timezone.now() - dt.timedelta(hours=1)},
        "no_character": {"character": None},
    }[case]
    post = draft(account, **changes)
    with pytest.raises(ValidationError) as caught:
        scheduled_posts_create(posts=[post])
    assert words in " ".join(caught.value.message_dict[field])
    assert not ScheduledPost.objects.exists()


def test_several_posts_go_all_or_none_and_each_problem_names_its_account():
    character = f.CharacterFactory()
    good = draft(f.PlatformAccountFactory(character=character, platform="instagram"))
    bad = draft(
        f.PlatformAccountFactory(character=character, platform="twitter"),
        caption="語" * 150,
        post_type="tweet",
    )
    assert scheduled_post_problems([good, bad])[0] == {}
    assert "caption" in scheduled_post_problems([good, bad])[1]
    with pytest.raises(ValidationError) as caught:
        scheduled_posts_create(posts=[good, bad])
    [message] = caught.value.message_dict["posts"]
    assert str(bad.platform_account) in message and "280" in message
    assert not ScheduledPost.objects.exists()
