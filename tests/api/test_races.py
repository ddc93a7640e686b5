"""An edit racing a delete answers 404 or 409, never 500, and never revives the row."""

import pytest
from django.db import connection

from config.api import FullCleanModelSerializer
from platforms.models import ScheduledPost
from tests.factories import PlatformAccountFactory, ScheduledPostFactory

pytestmark = pytest.mark.django_db

# what the engine writes on a scheduled post: its claim (a lease and the
# attempt journal), and a retry's backoff on a post that stays waiting
ENGINE_CLAIMS = (
    "UPDATE scheduled_posts SET status = 'processing', locked_until = "
    "now() + interval '5 minutes', attempt_started_at = now() WHERE id = %s"
)
RETRY_BACKS_OFF = (
    "UPDATE scheduled_posts SET locked_until = now() + interval '10 minutes', "
    "retry_count = 1, error_message = 'HTTP 503' WHERE id = %s"
)


@pytest.fixture
def delete_during_validation(monkeypatch):
    """Run `sql` after the view read the row, before the serializer validates:
    what a concurrent request deleting it would do."""

    def arm(sql, params):
        original = FullCleanModelSerializer.validate

        def racing(self, attrs):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
            return original(self, attrs)

        monkeypatch.setattr(FullCleanModelSerializer, "validate", racing)

    return arm


def test_a_patch_while_its_account_is_deleted_is_404(
    admin_api, delete_during_validation
):
    account = PlatformAccountFactory()
    sp = ScheduledPostFactory(platform_account=account, character=account.character)
    delete_during_validation(
        "DELETE FROM platform_accounts WHERE id = %s", [account.pk]
    )
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
    admin_api, delete_during_validation
):
    sp = ScheduledPostFactory()
    delete_during_validation("DELETE FROM scheduled_posts WHERE id = %s", [sp.pk])
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "This row was deleted meanwhile."
    assert not ScheduledPost.objects.filter(pk=sp.pk).exists()


@pytest.fixture
def write_during_validation(delete_during_validation):
    """Any write at the moment between the view's read and the save."""
    return delete_during_validation


def test_a_patch_racing_the_engines_claim_is_409_and_keeps_the_claim(
    admin_api, write_during_validation
):
    """Broken before: the PATCH wrote every column as read, status 'scheduled'
    and an empty lease and journal, so the post was taken and sent again."""
    sp = ScheduledPostFactory(caption="Before")
    write_during_validation(
        ENGINE_CLAIMS,
        [sp.pk],
    )
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "After"}, format="json"
    )
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
    ],
)
def test_a_row_a_worker_holds_or_has_finished_cannot_be_patched(
    admin_api, factory, status, path, change, says
):
    from tests.factories import ContentGenerationFactory, EngagementActionFactory

    row = {
        "scheduled_post": ScheduledPostFactory,
        "engagement": EngagementActionFactory,
        "generation": ContentGenerationFactory,
    }[factory]()
    model = type(row)
    extra = {}
    if status == "published":
        extra["published_at"] = row.created_at
    elif status == "completed":
        extra["completed_at"] = row.created_at
        if factory == "generation":  # its timing CHECK: started before completed
            extra["started_at"] = row.created_at
    model.objects.filter(pk=row.pk).update(status=status, **extra)
    before = model.objects.values().get(pk=row.pk)
    response = admin_api.patch(f"/api/v1/{path}/{row.pk}/", change, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["detail"] == (
        f"{says}: it is a record of what was done and cannot be edited."
    )
    assert model.objects.values().get(pk=row.pk) == before


def test_a_patch_keeps_what_the_engine_wrote_to_other_columns(
    admin_api, write_during_validation
):
    """A retry's backoff set meanwhile on a waiting post stays after the edit."""
    sp = ScheduledPostFactory(caption="Before")
    write_during_validation(
        RETRY_BACKS_OFF,
        [sp.pk],
    )
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "After"}, format="json"
    )
    assert response.status_code == 200, response.content
    row = ScheduledPost.objects.get(pk=sp.pk)
    assert (row.caption, row.retry_count, row.error_message) == (
        "After",
        1,
        "HTTP 503",
    )
    assert row.locked_until is not None


def test_an_account_patch_keeps_the_numbers_a_sync_wrote_meanwhile(
    admin_api, write_during_validation
):
    account = PlatformAccountFactory(follower_count=10)
    write_during_validation(
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
    admin_api, write_during_validation
):
    from tests.factories import CharacterFactory

    character = CharacterFactory()
    write_during_validation(
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
