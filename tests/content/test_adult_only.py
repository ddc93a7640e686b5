"""Adult-only settings at every layer: the database (triggers), validation
(the models' clean) and the publish step (rows written around both)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from characters.models import Character, CharacterPersonality
from content.models import Content, ContentGeneration
from content.services import content_mark_nsfw
from platforms.publishing import publish_due_posts
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def minor():
    return f.CharacterFactory(age=16)


@pytest.fixture
def adult():
    return f.CharacterFactory(age=18)


def assert_refused(write, constraint):
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    assert caught.value.__cause__.diag.constraint_name == constraint


# --- the database ----------------------------------------------------------------


@pytest.mark.parametrize("age", [16, None])
def test_the_database_refuses_a_flirting_personality_for_a_minor(age):
    character = f.CharacterFactory(age=age)
    for change in (
        {"flirtatiousness_level": Decimal("0.1")},
        {"flirting_style": "coy"},
    ):
        assert_refused(
            lambda c=change: CharacterPersonality.objects.filter(
                character=character
            ).update(**c),
            "character_personalities_adult_only_check",
        )


def test_the_database_refuses_nsfw_content_and_jobs_for_a_minor(minor):
    assert_refused(
        lambda: f.ContentFactory(character=minor, is_nsfw=True),
        "content_adult_only_check",
    )
    content = f.ContentFactory(character=minor)
    assert_refused(
        lambda: Content.objects.filter(pk=content.pk).update(is_nsfw=True),
        "content_adult_only_check",
    )
    assert_refused(
        lambda: f.ContentGenerationFactory(character=minor, is_nsfw=True),
        "content_generations_adult_only_check",
    )


def test_plain_sql_is_refused_too(minor):
    content = f.ContentFactory(character=minor)

    def sql():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE content SET is_nsfw = true WHERE id = %s", [content.pk]
            )

    assert_refused(sql, "content_adult_only_check")


def test_an_adult_may_have_all_of_it(adult):
    CharacterPersonality.objects.filter(character=adult).update(
        flirtatiousness_level=Decimal("0.6"), flirting_style="playful"
    )
    content = f.ContentFactory(character=adult, is_nsfw=True)
    job = f.ContentGenerationFactory(character=adult, is_nsfw=True)
    adult.personality.refresh_from_db()
    assert adult.personality.flirting_style == "playful"
    assert content.pk and job.pk and content.is_nsfw and job.is_nsfw


@pytest.mark.parametrize("new_age", [17, None])
@pytest.mark.parametrize("what", ["flirt", "content", "job"])
def test_a_character_with_adult_only_rows_cannot_become_a_minor(adult, new_age, what):
    if what == "flirt":
        CharacterPersonality.objects.filter(character=adult).update(
            flirtatiousness_level=Decimal("0.2")
        )
    elif what == "content":
        f.ContentFactory(character=adult, is_nsfw=True)
    else:
        f.ContentGenerationFactory(character=adult, is_nsfw=True)
    assert_refused(
        lambda: Character.objects.filter(pk=adult.pk).update(age=new_age),
        "characters_adult_only_check",
    )
    # other ages are fine
    assert Character.objects.filter(pk=adult.pk).update(age=40) == 1


# --- validation ------------------------------------------------------------------


def test_validation_names_the_fields(minor, adult):
    personality = minor.personality
    personality.flirtatiousness_level, personality.flirting_style = (
        Decimal("0.3"),
        "coy",
    )
    with pytest.raises(ValidationError) as caught:
        personality.full_clean()
    assert set(caught.value.message_dict) == {"flirtatiousness_level", "flirting_style"}
    assert "age must be 18 or more (it is 16)" in str(caught.value)

    for row in (
        f.ContentFactory.build(character=minor, is_nsfw=True),
        f.ContentGenerationFactory.build(character=minor, is_nsfw=True),
    ):
        with pytest.raises(ValidationError) as caught:
            row.full_clean()
        assert list(caught.value.message_dict) == ["is_nsfw"]

    f.ContentFactory(character=adult, is_nsfw=True)
    adult.age = 12
    with pytest.raises(ValidationError) as caught:
        adult.full_clean()
    assert "This character has NSFW content: remove those first" in str(
        caught.value.message_dict["age"]
    )


def test_marking_a_minors_content_nsfw_changes_nothing(minor, adult):
    rows = [f.ContentFactory(character=minor), f.ContentFactory(character=adult)]
    changed = content_mark_nsfw(
        queryset=Content.objects.filter(pk__in=[r.pk for r in rows])
    )
    assert changed == 1
    assert list(Content.objects.filter(is_nsfw=True).values_list("pk", flat=True)) == [
        rows[1].pk
    ]


# --- the publish step ------------------------------------------------------------


def test_the_publish_step_refuses_nsfw_content_of_a_minor_written_around_the_rules(
    settings, minor
):
    """GIVEN rows written with the database's rules off (a restore with
    triggers disabled, a superuser's SQL) WHEN the post is due THEN the
    publish step refuses it."""
    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.dryrun.DryRunAdapter"}
    account = f.PlatformAccountFactory(character=minor, platform="telegram")
    extra = f.ContentFactory(character=minor, approved=True, content_type="image")
    sp = f.ScheduledPostFactory(
        platform_account=account, additional_content_ids=[extra.pk]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks
        cursor.execute("ALTER TABLE content DISABLE TRIGGER content_adult_only")
        cursor.execute("UPDATE content SET is_nsfw = true WHERE id = %s", [extra.pk])
        cursor.execute("ALTER TABLE content ENABLE TRIGGER content_adult_only")
        cursor.execute(
            "UPDATE scheduled_posts SET scheduled_at = created_at WHERE id = %s",
            [sp.pk],
        )
    assert publish_due_posts(now=timezone.now()) == 0
    sp.refresh_from_db()
    assert sp.status == "failed"
    assert f"Content {extra.pk} is NSFW and the character is not an adult" in (
        sp.error_message
    )
    assert ContentGeneration.objects.count() == 0
