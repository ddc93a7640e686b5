"""The composer: one post for several accounts, previews checked by each
platform's own rules (the same as scheduling), a time or the next free slot."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from platforms.models import ScheduledPost
from tests.factories import CharacterFactory, ContentFactory, PlatformAccountFactory

BERLIN = "Europe/Berlin"


@pytest.fixture
def setup(db):
    character = CharacterFactory(timezone=BERLIN)
    accounts = {
        p: PlatformAccountFactory(character=character, platform=p)
        for p in ("instagram", "twitter", "telegram")
    }
    image = ContentFactory(
        character=character,
        approved=True,
        content_type="image",
        width=1080,
        height=1350,
    )
    return character, accounts, image


def url(character, preview=False) -> str:
    base = reverse("admin:platforms_scheduledpost_compose", args=[character.pk])
    return base + ("?preview=1" if preview else "")


def data(accounts, image, **extra):
    return {
        "accounts": [str(a.pk) for a in accounts],
        "content": str(image.pk) if image else "",
        "caption": "Golden hour in Lisbon",
        "hashtags": "#sunset travel",
        "when": "time",
        "scheduled_at": "2038-01-15T19:00",
        **extra,
    }


def test_the_preview_uses_each_platforms_rules(administrator_client, setup):
    character, accounts, image = setup
    long_text = "é" * 300
    response = administrator_client.post(
        url(character, preview=True),
        data(accounts.values(), image, caption=long_text),
    )
    rows = {r["platform"]: r for r in response.json()["accounts"]}
    assert set(rows) == {"instagram", "twitter", "telegram"}
    assert rows["twitter"]["limit"] == 280 and rows["twitter"]["problems"]
    assert "caption" in rows["twitter"]["problems"]
    assert rows["instagram"]["problems"] == {}
    assert rows["instagram"]["text"].endswith("#sunset #travel")
    assert (
        rows["instagram"]["hashtags"] == 2 and rows["instagram"]["hashtags_max"] == 30
    )
    assert rows["instagram"]["thumb"].endswith(f"/{image.pk}/thumbnail/")


def test_the_preview_flags_too_many_hashtags_and_text_only_posts(
    administrator_client, setup
):
    character, accounts, _ = setup
    tags = " ".join(f"tag{i}" for i in range(31))
    response = administrator_client.post(
        url(character, preview=True),
        data([accounts["instagram"]], None, hashtags=tags),
    )
    (row,) = response.json()["accounts"]
    assert "hashtags" in row["problems"] and "content" in row["problems"]


def test_a_caption_of_its_own_for_one_platform(administrator_client, setup):
    character, accounts, image = setup
    x = accounts["twitter"]
    response = administrator_client.post(
        url(character),
        data(
            accounts.values(),
            image,
            **{
                f"own_{x.pk}": "on",
                f"caption_{x.pk}": "Short one",
                f"hashtags_{x.pk}": "",
            },
        ),
    )
    assert response.status_code == 302, response.content[-3000:]
    posts = {
        p.platform_account.platform: p
        for p in ScheduledPost.objects.select_related("platform_account")
    }
    assert posts["twitter"].caption == "Short one" and posts["twitter"].hashtags is None
    assert posts["instagram"].caption == "Golden hour in Lisbon"
    assert posts["instagram"].hashtags == ["sunset", "travel"]
    assert {p.scheduled_at for p in posts.values()} == {
        dt.datetime(2038, 1, 15, 18, 0, tzinfo=dt.UTC)
    }
    assert {p.timezone for p in posts.values()} == {BERLIN}


def test_nothing_is_scheduled_when_one_platform_refuses(administrator_client, setup):
    character, accounts, image = setup
    response = administrator_client.post(
        url(character), data(accounts.values(), image, caption="x" * 300)
    )
    assert response.status_code == 400
    assert "Twitter / X:" in response.content.decode()
    assert not ScheduledPost.objects.exists()


def test_only_the_characters_approved_content_can_be_used(administrator_client, setup):
    character, accounts, _ = setup
    other = ContentFactory(approved=True, content_type="image")
    pending = ContentFactory(character=character, content_type="image")
    for item in (other, pending):
        response = administrator_client.post(
            url(character), data([accounts["telegram"]], item)
        )
        assert response.status_code == 400
        assert "content" in response.context["form"].errors
    assert not ScheduledPost.objects.exists()


def test_accounts_of_another_character_are_refused(administrator_client, setup):
    character, _, image = setup
    stranger = PlatformAccountFactory(platform="telegram")
    response = administrator_client.post(url(character), data([stranger], image))
    assert response.status_code == 400
    assert "accounts" in response.context["form"].errors


def test_the_next_free_slot(administrator_client, setup):
    character, accounts, image = setup
    response = administrator_client.post(
        url(character),
        data([accounts["telegram"]], image, when="next_slot", scheduled_at=""),
    )
    assert response.status_code == 302, response.content[-3000:]
    post = ScheduledPost.objects.get()
    local = post.scheduled_at.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert post.scheduled_at > timezone.now()
    assert post.scheduled_at.minute == 0 and 8 <= local.hour <= 21


def test_a_time_in_the_past_is_refused(administrator_client, setup):
    character, accounts, image = setup
    response = administrator_client.post(
        url(character),
        data([accounts["telegram"]], image, scheduled_at="2020-01-01T10:00"),
    )
    assert response.status_code == 400
    assert "Choose a time in the future." in response.content.decode()


def test_the_page_offers_rules_and_the_approved_library(administrator_client, setup):
    character, accounts, image = setup
    ContentFactory(character=character, content_type="image")  # pending: not offered
    page = administrator_client.get(url(character))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="composer-config"' in html and '"caption_max": 2200' in html
    picker = page.context["form"].fields["content"]
    assert [str(v) for v, _ in picker.choices if v] == [str(image.pk)]
    assert "Times are in Europe/Berlin" in html


def test_the_composer_costs_the_same_with_more_content(
    administrator_client, setup, django_assert_max_num_queries
):
    character, accounts, _ = setup
    administrator_client.get(url(character))
    with django_assert_max_num_queries(12) as few:
        administrator_client.get(url(character))
    ContentFactory.create_batch(
        20, character=character, approved=True, content_type="image"
    )
    with django_assert_max_num_queries(12) as many:
        administrator_client.get(url(character))
    assert len(few.captured_queries) == len(many.captured_queries)
