"""Character reads are cached in Redis for five minutes and every edit of the
character, its personality or its appearance is visible at once."""

import pytest
from django.conf import settings
from django.core.cache import cache

from characters.models import Character
from characters.selectors import character_cache_key, character_with_stats_cached
from characters.services import character_soft_delete
from tests import factories as f


def test_the_cache_is_redis():
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


@pytest.mark.django_db
def test_a_cached_read_costs_no_query(django_assert_num_queries):
    character = f.CharacterFactory()
    with django_assert_num_queries(1):
        character_with_stats_cached(character.pk)
    with django_assert_num_queries(0):
        cached = character_with_stats_cached(character.pk)
    assert cached.personality.character_id == character.pk
    key = cache.make_and_validate_key(character_cache_key(character.pk))
    ttl = cache._cache.get_client(key).ttl(key)  # straight from Redis
    assert 290 <= ttl <= 300


def edit(character, target: str) -> None:
    """Change one field of the character, its personality or its appearance."""
    if target == "character":
        character.bio = "after"
        character.save()
    elif target == "personality":
        character.personality.emoji_usage = "heavy"
        character.personality.save()
    else:
        character.appearance.hair_color = "teal"
        character.appearance.save()


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["character", "personality", "appearance"])
def test_an_edit_is_visible_at_once(target, django_capture_on_commit_callbacks):
    character = f.CharacterFactory(bio="before")
    character_with_stats_cached(character.pk)
    with django_capture_on_commit_callbacks(execute=True):
        edit(character, target)
    fresh = character_with_stats_cached(character.pk)
    assert (fresh.bio, fresh.personality.emoji_usage, fresh.appearance.hair_color)[
        ["character", "personality", "appearance"].index(target)
    ] == {"character": "after", "personality": "heavy", "appearance": "teal"}[target]


@pytest.mark.django_db
def test_a_deleted_character_leaves_the_cache(django_capture_on_commit_callbacks):
    character = f.CharacterFactory()
    character_with_stats_cached(character.pk)
    with django_capture_on_commit_callbacks(execute=True):
        character_soft_delete(character=character)
    with pytest.raises(Character.DoesNotExist):
        character_with_stats_cached(character.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["character", "personality", "appearance"])
def test_the_api_detail_shows_an_edit_at_once(
    target, admin_client, django_capture_on_commit_callbacks
):
    character = f.CharacterFactory(bio="before")
    url = f"/api/v1/characters/{character.pk}/"
    assert admin_client.get(url).json()["bio"] == "before"  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        edit(character, target)
    body = admin_client.get(url).json()
    assert {
        "character": body["bio"] == "after",
        "personality": body["personality"]["emoji_usage"] == "heavy",
        "appearance": body["appearance"]["hair_color"] == "teal",
    }[target]
