"""Behaviour of the REST API: auth, permissions, nested writes, actions, errors."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from characters.models import Character
from logs.models import SystemLog
from platforms.models import PlatformAccount, ScheduledPost
from tests.factories import (
    AnalyticsFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
    UserFactory,
)
from tests.factories.users import api_token_for

pytestmark = pytest.mark.django_db


def test_anonymous_requests_get_401():
    response = APIClient().get("/api/v1/characters/")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_analysts_read_but_cannot_write(analyst_api, character):
    listed = analyst_api.get("/api/v1/characters/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [str(character.pk)]
    response = analyst_api.post("/api/v1/characters/", {"name": "X"}, format="json")
    assert response.status_code == 403


def test_operators_cannot_delete_characters(operator_api, character):
    response = operator_api.delete(f"/api/v1/characters/{character.pk}/")
    assert response.status_code == 403
    assert Character.objects.filter(pk=character.pk).exists()


def test_character_is_created_with_nested_personality_and_appearance(admin_api):
    response = admin_api.post(
        "/api/v1/characters/",
        {
            "name": "Nova",
            "age": 25,
            "personality": {"humor": "0.70", "content_tone": "positive"},
            "appearance": {"hair_color": "red"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["personality"]["humor"] == "0.70"
    assert body["appearance"]["hair_color"] == "red"
    assert body["post_count"] == 0
    character = Character.objects.get(pk=body["id"])
    assert character.personality.content_tone == "positive"

    response = admin_api.patch(
        f"/api/v1/characters/{character.pk}/",
        {"appearance": {"eye_color": "green"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    character.appearance.refresh_from_db()
    assert character.appearance.eye_color == "green"
    assert character.appearance.hair_color == "red"


def test_a_character_create_validates_each_row_once(admin_api, monkeypatch):
    """full_clean runs in the serializer (400 per nested field), not again in
    the service."""
    from characters.models import CharacterAppearance, CharacterPersonality

    calls = []
    for model in (Character, CharacterPersonality, CharacterAppearance):
        # every full clean (Django's, or config.validation's) calls clean_fields
        original = model.clean_fields

        def counting(self, *args, _original=original, **kwargs):
            calls.append(type(self).__name__)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(model, "clean_fields", counting)
    response = admin_api.post(
        "/api/v1/characters/",
        {
            "name": "Once",
            "age": 30,
            "personality": {"humor": "0.50"},
            "appearance": {"hair_color": "black"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert sorted(calls) == [
        "Character",
        "CharacterAppearance",
        "CharacterPersonality",
    ]


def test_invalid_character_answers_400_with_the_fields(admin_api):
    response = admin_api.post(
        "/api/v1/characters/",
        {"name": "Old", "age": 151, "personality": {"humor": "3"}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert "age" in body
    assert "humor" in body["personality"]


def test_character_detail_runs_at_most_three_queries(
    character, django_assert_max_num_queries
):
    """Token lookup (with its user) + the character with stats: 2 queries. A
    superuser skips the permission queries, which are not the endpoint's."""
    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True))
    with django_assert_max_num_queries(3):
        response = client.get(f"/api/v1/characters/{character.pk}/")
    assert response.status_code == 200
    assert response.json()["platform_count"] == 0


def test_delete_soft_deletes_and_audits_the_api_user(admin_api, character):
    response = admin_api.delete(f"/api/v1/characters/{character.pk}/")
    assert response.status_code == 204
    row = Character.all_objects.get(pk=character.pk)
    assert row.deleted_at is not None
    log = SystemLog.objects.get(character_id=character.pk)
    assert admin_api.user.username in str(log.metadata)
    assert admin_api.get(f"/api/v1/characters/{character.pk}/").status_code == 404


def test_content_reject_requires_a_reason_and_approve_conflicts(admin_api):
    content = ContentFactory()
    url = f"/api/v1/content/{content.pk}/"
    assert admin_api.post(url + "reject/", {}, format="json").status_code == 400
    response = admin_api.post(url + "approve/")
    assert response.status_code == 200
    assert response.json()["approval_status"] == "approved"
    response = admin_api.post(url + "approve/")
    assert response.status_code == 409
    assert "approved" in response.json()["detail"]
    response = admin_api.post(url + "reject/", {"reason": "blurry"}, format="json")
    assert response.status_code == 200
    assert response.json()["rejection_reason"] == "blurry"


def test_cancelling_a_published_post_is_409(admin_api):
    scheduled = ScheduledPostFactory(
        status=ScheduledPost.Status.PUBLISHED, published_at=timezone.now()
    )
    response = admin_api.post(f"/api/v1/scheduled-posts/{scheduled.pk}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    scheduled = ScheduledPostFactory(status=ScheduledPost.Status.SCHEDULED)
    response = admin_api.post(f"/api/v1/scheduled-posts/{scheduled.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_auth_data_is_write_only_and_audited(admin_api, character):
    response = admin_api.post(
        "/api/v1/platform-accounts/",
        {
            "character": str(character.pk),
            "platform": "twitter",
            "auth_data": {"token": "s3cret-value"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert "auth_data" not in response.json()
    account = PlatformAccount.objects.get(pk=response.json()["id"])
    assert account.auth_data == {"token": "s3cret-value"}
    log = SystemLog.objects.get(component="credentials", platform_account=account)
    assert "s3cret-value" not in str(log.metadata) + log.message
    for url in (
        "/api/v1/platform-accounts/",
        f"/api/v1/platform-accounts/{account.pk}/",
    ):
        assert "s3cret" not in admin_api.get(url).content.decode()


def test_operators_cannot_write_credentials(operator_api, account):
    response = operator_api.patch(
        f"/api/v1/platform-accounts/{account.pk}/",
        {"auth_data": {"token": "x"}},
        format="json",
    )
    assert response.status_code == 400
    assert "auth_data" in response.json()


def test_duplicate_account_per_platform_is_400(admin_api, account):
    response = admin_api.post(
        "/api/v1/platform-accounts/",
        {"character": str(account.character_id), "platform": account.platform},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()


def test_unknown_character_is_400_on_the_field(admin_api):
    response = admin_api.post(
        "/api/v1/content/",
        {
            "character": "00000000-0000-0000-0000-000000000000",
            "content_type": "text",
            "file_path": "/x",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "character" in response.json()


def test_analytics_series_buckets_in_the_database(admin_api, character):
    for day, value in ((1, 10), (2, 5), (40, 7)):
        AnalyticsFactory(
            character=character,
            platform_account=None,
            platform=None,
            metric_type="likes_count",
            metric_date=dt.date(2026, 1, 1) + dt.timedelta(days=day),
            metric_value=value,
        )
    response = admin_api.get(
        "/api/v1/analytics/series/",
        {
            "character": str(character.pk),
            "metric_type": "likes_count",
            "bucket": "month",
        },
    )
    assert response.status_code == 200, response.json()
    assert [(p["bucket"], p["total"]) for p in response.json()] == [
        ("2026-01-01", "15.00"),
        ("2026-02-01", "7.00"),
    ]
    bad = admin_api.get("/api/v1/analytics/series/", {"bucket": "year"})
    assert bad.status_code == 400


def test_reschedule_moves_a_failed_post(admin_api):
    scheduled = ScheduledPostFactory(status=ScheduledPost.Status.FAILED)
    when = (timezone.now() + dt.timedelta(days=2)).isoformat()
    response = admin_api.post(
        f"/api/v1/scheduled-posts/{scheduled.pk}/reschedule/",
        {"scheduled_at": when},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "scheduled"


def test_account_fixture_is_usable():
    assert PlatformAccountFactory()._meta  # factories build against this schema
    assert CharacterFactory().personality


def test_an_operators_token_read_of_a_character_is_three_queries_then_cached(
    character, django_assert_num_queries
):
    """Token (with user) + permissions in one query + the character with its
    counts; the second read comes from the Redis cache, and the token and its
    permissions from the process's memory (config.api_gate): no query."""
    from django.contrib.auth.models import Group

    user = UserFactory(groups=[Group.objects.get(name="Operators")])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    url = f"/api/v1/characters/{character.pk}/"
    with django_assert_num_queries(3):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(url).json()["name"] == character.name
    assert client.get("/api/v1/characters/not-a-uuid/").status_code == 404


def test_a_date_time_filter_with_an_extreme_offset_is_not_a_server_error(admin_api):
    """Found by schemathesis: PostgreSQL refuses offsets beyond ±15:59."""
    response = admin_api.get(
        "/api/v1/characters/", {"created_before": "2324-11-15T12:36:05-22:22"}
    )
    assert response.status_code == 200
    # also found by schemathesis: in UTC this instant is in year 0
    response = admin_api.get(
        "/api/v1/characters/", {"created_before": "0001-01-01T00:00:03+01:01"}
    )
    assert response.status_code == 400
    assert response.json()["created_before"] == ["This date-time is out of range."]


def test_a_nested_patch_is_checked_against_the_stored_row(admin_api, character):
    from characters.api.serializers import CharacterSerializer

    character.personality.humor = "0.90"
    character.personality.save()
    serializer = CharacterSerializer(
        character, data={"personality": {"energy_level": "0.20"}}, partial=True
    )
    nested = serializer.fields["personality"]
    assert nested._existing_instance().pk == character.personality.pk

    bad = admin_api.patch(
        f"/api/v1/characters/{character.pk}/",
        {"personality": {"humor": "3"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "humor" in bad.json()["personality"]
    ok = admin_api.patch(
        f"/api/v1/characters/{character.pk}/",
        {"personality": {"energy_level": "0.20"}},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json()["personality"]["humor"] == "0.90"
    assert ok.json()["personality"]["energy_level"] == "0.20"


def test_deleting_a_post_takes_it_down_and_keeps_the_row(admin_api, settings):
    from platforms.models import Post
    from tests.factories import PostFactory

    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.dryrun.DryRunAdapter"}
    post = PostFactory(status="published", platform_post_id="dry-1")
    assert admin_api.delete(f"/api/v1/posts/{post.pk}/").status_code == 204
    post.refresh_from_db()
    assert post.status == "deleted"
    log = SystemLog.objects.get(message__startswith="Post deleted")
    assert log.metadata["by"]["actor"] == admin_api.user.get_username()
    assert admin_api.delete(f"/api/v1/posts/{post.pk}/").status_code == 204

    # a platform without an adapter refuses: 409 with why, the row unchanged
    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.UnconfiguredAdapter"}
    live = PostFactory(status="published", platform_post_id="x-2")
    response = admin_api.delete(f"/api/v1/posts/{live.pk}/")
    assert response.status_code == 409
    assert "not configured" in response.json()["detail"]
    assert Post.objects.get(pk=live.pk).status == "published"


def test_analysts_cannot_delete_posts(analyst_api):
    from tests.factories import PostFactory

    post = PostFactory(status="published")
    assert analyst_api.delete(f"/api/v1/posts/{post.pk}/").status_code == 403


def test_big_tables_sort_only_by_indexed_columns(admin_api):
    """An unindexed ?ordering= on millions of rows would be a full sort: it is
    refused (400 naming the allowed ones)."""
    from platforms.models import Post
    from tests.factories import PostFactory

    first = PostFactory(caption="a first")
    second = PostFactory(caption="z second")
    Post.objects.filter(pk=first.pk).update(created_at=timezone.now() - dt.timedelta(1))
    refused = admin_api.get("/api/v1/posts/", {"ordering": "caption"})
    assert refused.status_code == 400
    assert "created_at, published_at" in refused.json()["ordering"][0]
    by_created = admin_api.get("/api/v1/posts/", {"ordering": "created_at"}).json()
    assert [r["id"] for r in by_created["results"]] == [str(first.pk), str(second.pk)]


def test_a_revoked_permission_takes_effect_on_the_next_request(character):
    """Permissions are cached in Redis; any change to groups makes them stale."""
    from django.contrib.auth.models import Group

    operators = Group.objects.get(name="Operators")
    user = UserFactory(groups=[operators])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    url = f"/api/v1/characters/{character.pk}/"
    assert client.get(url).status_code == 200  # permissions now cached
    user.groups.remove(operators)
    assert client.get(url).status_code == 403
    user.groups.add(operators)
    assert client.get(url).status_code == 200
    view = operators.permissions.get(codename="view_character")
    operators.permissions.remove(view)
    assert client.get(url).status_code == 403
