"""Characters are soft-deleted: hidden by default, audited, purged explicitly."""

from decimal import Decimal

import pytest

from characters.models import Character
from characters.services import (
    character_bulk_purge,
    character_bulk_soft_delete,
    character_create,
    character_purge,
    character_restore,
    character_soft_delete,
)
from logs.models import SystemLog
from platforms.models import Post
from tests import factories as f


@pytest.mark.django_db
def test_delete_hides_the_character_and_audits_who_did_it():
    staff = f.UserFactory(username="olivia")
    character = f.CharacterFactory(name="Luna")
    character_soft_delete(character=character, actor=staff)
    assert not Character.objects.filter(pk=character.pk).exists()
    row = Character.all_objects.get(pk=character.pk)
    assert (row.status, row.is_active, row.deleted_at is not None) == (
        "deleted",
        False,
        True,
    )
    log = SystemLog.objects.get(
        character_id=character.pk, component="character_service"
    )
    assert log.message == "Character deleted: Luna"
    assert log.metadata["deleted_by"]["actor"] == "olivia"


@pytest.mark.django_db
def test_the_orm_delete_is_a_real_delete():
    """No hidden behaviour: soft deletion goes through the service only."""
    a, b, c = f.CharacterFactory.create_batch(3)
    a.delete()
    Character.objects.filter(pk__in=[b.pk, c.pk]).delete()
    assert not Character.all_objects.filter(pk__in=[a.pk, b.pk, c.pk]).exists()
    assert not SystemLog.objects.filter(component="character_service").exists()


@pytest.mark.django_db
def test_bulk_soft_delete_costs_the_same_for_many(django_assert_max_num_queries):
    f.CharacterFactory.create_batch(20)
    with django_assert_max_num_queries(6):
        deleted, _ = character_bulk_soft_delete(queryset=Character.objects.all())
    assert deleted == 20
    assert Character.all_objects.filter(status="deleted").count() == 20


@pytest.mark.django_db
def test_posts_of_a_deleted_character_still_reach_it():
    post = f.PostFactory()
    character_soft_delete(character=post.character, actor=None)
    assert Post.objects.get(pk=post.pk).character.status == "deleted"


@pytest.mark.django_db
def test_restore_brings_it_back():
    character = f.CharacterFactory()
    character_soft_delete(character=character)
    character_restore(character=character)
    assert Character.objects.get(pk=character.pk).deleted_at is None


@pytest.mark.django_db
def test_purge_removes_everything_in_the_database_and_keeps_the_audit():
    post = f.PostFactory()
    character = post.character
    assert character_purge(character_id=character.pk) is True
    assert not Character.all_objects.filter(pk=character.pk).exists()
    assert not Post.objects.filter(pk=post.pk).exists()
    log = SystemLog.objects.get(message__startswith="Character purged")
    assert log.character_id is None
    assert log.metadata["character_id"] == str(character.pk)
    assert character_purge(character_id=character.pk) is False


@pytest.mark.django_db
def test_bulk_purge_takes_only_deleted_characters_in_one_delete(
    django_assert_num_queries,
):
    live = f.CharacterFactory()
    gone = f.CharacterFactory.create_batch(3)
    post = f.PostFactory(platform_account__character=gone[0])
    for character in gone:
        character_soft_delete(character=character)
    everyone = Character.all_objects.filter(pk__in=[live.pk, *(g.pk for g in gone)])

    # savepoint, SELECT ... FOR UPDATE, INSERT of the audit rows, DELETE, release
    with django_assert_num_queries(5):
        purged, left = character_bulk_purge(queryset=everyone)

    assert (purged, left) == (3, 1)
    assert list(Character.all_objects.all()) == [live]
    assert not Post.objects.filter(pk=post.pk).exists()
    assert SystemLog.objects.filter(message__startswith="Character purged").count() == 3


@pytest.mark.django_db
def test_create_makes_personality_and_appearance():
    character = character_create(
        name="Nova", personality={"humor": "0.9"}, appearance={"hair_color": "silver"}
    )
    assert character.personality.humor == Decimal("0.9")
    assert character.appearance.hair_color == "silver"
