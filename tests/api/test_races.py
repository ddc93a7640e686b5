"""An edit racing a delete answers 404 or 409, never 500, and never revives the row."""

import pytest

from config.api import FullCleanModelSerializer
from platforms.models import ScheduledPost
from tests.factories import PlatformAccountFactory, ScheduledPostFactory
from tests.races import ENGINE_CLAIMS, RETRY_BACKS_OFF, row_in_status, sql_before

pytestmark = pytest.mark.django_db


@pytest.fixture
def during_validation(monkeypatch):
    """Run `sql` after the view read the row, before the serializer validates:
    what a concurrent request (a delete, the engine's claim, a sync) would do."""

    def arm(sql, params):
        sql_before(monkeypatch, FullCleanModelSerializer, "validate", sql, params)

    return arm


def caption_patch_racing(api, during_validation, sql):
    """A caption PATCH of a waiting post while `sql` writes the post; the post
    and the answer."""
    sp = ScheduledPostFactory(caption="Before")
    during_validation(sql, [sp.pk])
    response = api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "After"}, format="json"
    )
    return sp, response


def test_a_patch_while_its_account_is_deleted_is_404(admin_api, during_validation):
    account = PlatformAccountFactory()
    sp = ScheduledPostFactory(platform_account=account, character=account.character)
    during_validation("DELETE FROM platform_accounts WHERE id = %s", [account.pk])
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    # the account's delete cascaded to the post itself
    assert response.status_code == 404, response.content
    assert not ScheduledPost.objects.filter(pk=sp.pk).exists()


def test_a_patch_while_a_related_row_vanishes_is_409_not_500(admin_api, monkeypatch):
    """The model's clean() meets a related row that is gone."""
    from platforms.models import PlatformAccount

    sp = ScheduledPostFactory()

    def gone(self):
        raise PlatformAccount.DoesNotExist

    monkeypatch.setattr(ScheduledPost, "clean", gone)
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    assert response.status_code == 409
    assert "deleted meanwhile" in response.json()["detail"]


def test_a_patch_of_a_row_deleted_meanwhile_is_404_and_does_not_revive_it(
    admin_api, during_validation
):
    sp = ScheduledPostFactory()
    during_validation("DELETE FROM scheduled_posts WHERE id = %s", [sp.pk])
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "This row was deleted meanwhile."
    assert not ScheduledPost.objects.filter(pk=sp.pk).exists()


def test_a_patch_racing_the_engines_claim_is_409_and_keeps_the_claim(
    admin_api, during_validation
):
    """Broken before: the PATCH wrote every column as read, status 'scheduled'
    and an empty lease and journal, so the post was taken and sent again."""
    sp, response = caption_patch_racing(admin_api, during_validation, ENGINE_CLAIMS)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "conflict"
    assert "changed while you edited it (now: status processing)" in body["detail"]
    row = ScheduledPost.objects.get(pk=sp.pk)
    assert (row.status, row.caption) == ("processing", "Before")
    assert row.locked_until is not None and row.attempt_started_at is not None


@pytest.mark.parametrize(
    "factory, status, path, change, says",
    [
        (
            "scheduled_post",
            "processing",
            "scheduled-posts",
            {"caption": "After"},
            "This scheduled post is being published",
        ),
        (
            "scheduled_post",
            "published",
            "scheduled-posts",
            {"caption": "After"},
            "This scheduled post is published",
        ),
        (
            "engagement",
            "processing",
            "engagement-actions",
            {"comment_text": "After"},
            "This engagement action is being performed",
        ),
        (
            "engagement",
            "completed",
            "engagement-actions",
            {"comment_text": "After"},
            "This engagement action is done",
        ),
        (
            "generation",
            "processing",
            "generations",
            {"prompt": "After"},
            "This content generation is being generated",
        ),
        (
            "generation",
            "completed",
            "generations",
            {"prompt": "After"},
            "This content generation is completed",
        ),
        ("post", "published", "posts", {"caption": "After"}, "This post is published"),
        ("post", "deleted", "posts", {"likes_count": 1}, "This post is taken down"),
    ],
)
def test_a_row_a_worker_holds_or_has_finished_cannot_be_patched(
    admin_api, factory, status, path, change, says
):
    row = row_in_status(factory, status)
    model = type(row)
    before = model.objects.values().get(pk=row.pk)
    response = admin_api.patch(f"/api/v1/{path}/{row.pk}/", change, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["detail"] == (
        f"{says}: it is a record of what was done and cannot be edited."
    )
    assert model.objects.values().get(pk=row.pk) == before


def test_a_patch_keeps_what_the_engine_wrote_to_other_columns(
    admin_api, during_validation
):
    """A retry's backoff set meanwhile on a waiting post stays after the edit."""
    sp, response = caption_patch_racing(admin_api, during_validation, RETRY_BACKS_OFF)
    assert response.status_code == 200, response.content
    row = ScheduledPost.objects.get(pk=sp.pk)
    assert (row.caption, row.retry_count, row.error_message) == (
        "After",
        1,
        "HTTP 503",
    )
    assert row.locked_until is not None


def test_an_account_patch_keeps_the_numbers_a_sync_wrote_meanwhile(
    admin_api, during_validation
):
    account = PlatformAccountFactory(follower_count=10)
    during_validation(
        "UPDATE platform_accounts SET follower_count = 12345, "
        "connection_status = 'rate_limited' WHERE id = %s",
        [account.pk],
    )
    response = admin_api.patch(
        f"/api/v1/platform-accounts/{account.pk}/",
        {"account_username": "renamed"},
        format="json",
    )
    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert (account.account_username, account.follower_count) == ("renamed", 12345)
    assert account.connection_status == "rate_limited"


def test_a_nested_personality_patch_keeps_a_field_written_meanwhile(
    admin_api, during_validation
):
    from tests.factories import CharacterFactory

    character = CharacterFactory()
    during_validation(
        "UPDATE character_personalities SET content_tone = 'edgy' "
        "WHERE character_id = %s",
        [character.pk],
    )
    response = admin_api.patch(
        f"/api/v1/characters/{character.pk}/",
        {"personality": {"humor": "0.90"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    character.personality.refresh_from_db()
    assert str(character.personality.humor) == "0.90"
    assert character.personality.content_tone == "edgy"
