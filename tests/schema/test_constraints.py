"""Every CHECK, UNIQUE and NOT NULL of the schema: the database refuses a
violating row, model validation reports it as a field error, and the boundary
values are accepted."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests import factories as f


def make(factory_name, **overrides):
    """An unsaved row from a factory, with its related rows saved."""
    if factory_name == "ScheduledPostFactory":
        # Instagram takes every post type with an image: the platform's own
        # rules (checked by full_clean) stay out of these column cases
        overrides.setdefault("platform_account__platform", "instagram")
    return getattr(f, factory_name).build(**overrides)


def save_related(obj):
    for field in obj._meta.concrete_fields:
        if field.is_relation:
            related = getattr(obj, field.name, None)
            if related is not None and related._state.adding:
                save_related(related)
                related.save()
    return obj


# (factory, field, bad value, [good boundary values])
FIELD_CASES = [
    ("BareCharacterFactory", "status", "retired", ["active", "paused", "error"]),
    ("BareCharacterFactory", "age", -1, [0, 150]),
    ("BareCharacterFactory", "age", 151, [None]),
    (
        "CharacterPersonalityFactory",
        "extroversion",
        Decimal("1.01"),
        [Decimal("0"), Decimal("1")],
    ),
    ("CharacterPersonalityFactory", "humor", Decimal("-0.01"), [Decimal("0.00")]),
    ("CharacterPersonalityFactory", "creativity", Decimal("1.5"), [Decimal("1.00")]),
    ("CharacterPersonalityFactory", "professionalism", Decimal("-1"), [Decimal("0.5")]),
    ("CharacterPersonalityFactory", "authenticity", Decimal("2"), [Decimal("1")]),
    ("CharacterPersonalityFactory", "energy_level", Decimal("1.1"), [Decimal("0.99")]),
    (
        "CharacterPersonalityFactory",
        "flirtatiousness_level",
        Decimal("1.2"),
        [Decimal("0")],
    ),
    (
        "CharacterPersonalityFactory",
        "temperature",
        Decimal("2.01"),
        [Decimal("0"), Decimal("2")],
    ),
    ("CharacterPersonalityFactory", "communication_style", "rude", [None, "sassy"]),
    ("CharacterPersonalityFactory", "content_tone", "dark", [None, "edgy"]),
    ("CharacterPersonalityFactory", "emoji_usage", "tons", ["none", "heavy"]),
    (
        "CharacterAppearanceFactory",
        "face_consistency_method",
        "magic",
        ["none", "lora"],
    ),
    (
        "CharacterAppearanceFactory",
        "face_consistency_weight",
        Decimal("1.01"),
        [Decimal("0"), Decimal("1")],
    ),
    ("ContentFactory", "content_type", "gif", ["text"]),
    ("ContentFactory", "approval_status", "maybe", ["pending"]),
    (
        "ContentFactory",
        "quality_score",
        Decimal("1.01"),
        [None, Decimal("0"), Decimal("1")],
    ),
    ("ContentFactory", "file_size", 0, [None, 1]),
    ("ContentFactory", "times_used", -1, [0]),
    ("ContentGenerationFactory", "status", "queued", ["cancelled"]),
    ("ContentGenerationFactory", "job_type", "3d", ["batch"]),
    ("ContentGenerationFactory", "priority", 0, [1, 10]),
    ("ContentGenerationFactory", "priority", 11, [5]),
    ("ContentGenerationFactory", "batch_size", 101, [1, 100]),
    ("ContentGenerationFactory", "max_retries", 11, [0, 10]),
    ("ContentGenerationFactory", "success_count", -1, [0]),
    ("ContentGenerationFactory", "failure_count", -1, [0]),
    ("ContentGenerationFactory", "retry_count", -1, [0]),
    ("ContentGenerationFactory", "duration_seconds", -1, [None, 0]),
    ("PlatformAccountFactory", "platform", "myspace", ["youtube"]),
    ("PlatformAccountFactory", "connection_status", "asleep", ["suspended"]),
    ("PlatformAccountFactory", "auth_type", "password", [None, "cookie"]),
    ("PlatformAccountFactory", "follower_count", -1, [0]),
    ("PlatformAccountFactory", "following_count", -1, [0]),
    ("PlatformAccountFactory", "post_count", -1, [0]),
    ("PlatformAccountFactory", "rate_limit_remaining", -1, [None, 0]),
    ("PostFactory", "status", "archived", ["draft"]),
    ("PostFactory", "post_type", "carousel", [None, "video"]),
    ("PostFactory", "likes_count", -1, [0]),
    ("PostFactory", "comments_count", -1, [0]),
    ("PostFactory", "shares_count", -1, [0]),
    ("PostFactory", "views_count", -1, [0]),
    ("PostFactory", "retry_count", -1, [0]),
    ("ScheduledPostFactory", "status", "sent", ["cancelled"]),
    ("ScheduledPostFactory", "post_type", "carousel", [None, "story"]),
    ("ScheduledPostFactory", "max_retries", 11, [0, 10]),
    ("ScheduledPostFactory", "retry_count", -1, [0]),
    ("EngagementActionFactory", "action_type", "poke", ["reply"]),
    ("EngagementActionFactory", "status", "done", ["cancelled", "processing"]),
    ("EngagementActionFactory", "retry_count", -1, [0]),
    ("AutomationRuleFactory", "trigger_type", "webhook", ["manual"]),
    ("AutomationRuleFactory", "content_type", "gif", [None, "mixed"]),
    ("AutomationRuleFactory", "hashtag_strategy", "random", [None, "none"]),
    ("AutomationRuleFactory", "platforms", [], [["telegram", "youtube"]]),
    ("AutomationRuleFactory", "platforms", ["instagram", "myspace"], [["instagram"]]),
    (
        "AutomationRuleFactory",
        "min_content_quality",
        Decimal("1.01"),
        [Decimal("0"), Decimal("1")],
    ),
    ("AutomationRuleFactory", "max_posts_per_day", 0, [None, 1]),
    ("AutomationRuleFactory", "max_posts_per_week", 0, [None, 1]),
    ("AutomationRuleFactory", "cooldown_minutes", -1, [0]),
    ("AutomationRuleFactory", "times_executed", -1, [0]),
    ("AnalyticsFactory", "metric_type", "mood", ["impressions"]),
    ("SystemLogFactory", "log_level", "fatal", ["critical", "debug"]),
]


def _id(case):
    return f"{case[0].removesuffix('Factory')}.{case[1]}={case[2]!r}"


@pytest.mark.django_db
@pytest.mark.parametrize("case", FIELD_CASES, ids=_id)
def test_database_rejects_the_bad_value(case):
    factory_name, field, bad, _ = case
    obj = save_related(make(factory_name, **{field: bad}))
    with pytest.raises(IntegrityError), transaction.atomic():
        obj.save()


@pytest.mark.django_db
@pytest.mark.parametrize("case", FIELD_CASES, ids=_id)
def test_validation_reports_the_bad_value_on_its_field(case):
    factory_name, field, bad, _ = case
    obj = save_related(make(factory_name, **{field: bad}))
    with pytest.raises(ValidationError) as excinfo:
        obj.full_clean()
    assert field in excinfo.value.message_dict, excinfo.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("case", FIELD_CASES, ids=_id)
def test_boundary_values_are_accepted(case):
    factory_name, field, _, goods = case
    for good in goods:
        obj = save_related(make(factory_name, **{field: good}))
        obj.full_clean()
        with transaction.atomic():
            obj.save()
        obj.refresh_from_db()
        assert getattr(obj, field) == good


# NOT NULL columns: (factory, field)
NOT_NULL_CASES = [
    ("BareCharacterFactory", "name"),
    ("BareCharacterFactory", "status"),
    ("ContentFactory", "file_path"),
    ("ContentFactory", "content_type"),
    ("ContentGenerationFactory", "prompt"),
    ("ContentGenerationFactory", "generation_settings"),
    ("ContentGenerationFactory", "job_type"),
    ("PlatformAccountFactory", "platform"),
    ("PostFactory", "platform"),
    ("ScheduledPostFactory", "scheduled_at"),
    ("EngagementActionFactory", "action_type"),
    ("AutomationRuleFactory", "name"),
    ("AutomationRuleFactory", "trigger_type"),
    ("AutomationRuleFactory", "platforms"),
    ("AnalyticsFactory", "metric_date"),
    ("AnalyticsFactory", "metric_value"),
    ("SystemLogFactory", "message"),
    ("SystemLogFactory", "log_level"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", NOT_NULL_CASES, ids=lambda c: f"{c[0]}.{c[1]}")
def test_not_null_columns(case):
    factory_name, field = case
    obj = save_related(make(factory_name, **{field: None}))
    with pytest.raises(ValidationError) as excinfo:
        obj.full_clean()
    assert field in excinfo.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        obj.save()


# --- constraints over several columns --------------------------------------


@pytest.mark.django_db
def test_character_name_length_is_checked_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as c:
        c.execute("INSERT INTO characters (name) VALUES ('')")
    with pytest.raises(ValidationError) as excinfo:
        f.BareCharacterFactory.build(name="").full_clean()
    assert "name" in excinfo.value.message_dict


@pytest.mark.django_db
def test_images_need_dimensions_but_text_does_not():
    character = f.CharacterFactory()
    image = f.ContentFactory.build(
        character=character, content_type="image", width=None
    )
    with pytest.raises(ValidationError) as excinfo:
        image.full_clean()
    assert "width" in excinfo.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        image.save()
    text = f.ContentFactory.build(
        character=character, content_type="text", width=None, height=None
    )
    text.full_clean()
    text.save()


@pytest.mark.django_db
def test_generation_cannot_complete_before_it_started():
    gen = f.ContentGenerationFactory()
    now = timezone.now()
    gen.started_at = now
    gen.completed_at = now - dt.timedelta(seconds=1)
    with pytest.raises(ValidationError):
        gen.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        gen.save()
    gen.completed_at = now
    gen.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(gen).objects.filter(pk=gen.pk).update(started_at=None)


@pytest.mark.django_db
def test_scheduled_at_cannot_be_before_creation():
    sp = f.ScheduledPostFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(sp).objects.filter(pk=sp.pk).update(
            scheduled_at=sp.created_at - dt.timedelta(minutes=1)
        )
    type(sp).objects.filter(pk=sp.pk).update(scheduled_at=sp.created_at)


@pytest.mark.django_db
def test_one_account_per_platform_per_character():
    account = f.PlatformAccountFactory(platform="telegram")
    dup = type(account)(character=account.character, platform="telegram")
    with pytest.raises(ValidationError) as excinfo:
        dup.full_clean()
    assert "already has an account" in str(excinfo.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        dup.save()


@pytest.mark.django_db
def test_one_personality_and_appearance_per_character():
    character = f.CharacterFactory()
    for factory_name, field in (
        ("CharacterPersonalityFactory", "character"),
        ("CharacterAppearanceFactory", "character"),
    ):
        dup = getattr(f, factory_name).build(character=character)
        with pytest.raises(ValidationError) as excinfo:
            dup.full_clean()
        assert field in excinfo.value.message_dict
        with pytest.raises(IntegrityError), transaction.atomic():
            dup.save()


@pytest.mark.django_db
def test_platform_post_id_is_unique_per_platform_only_when_set():
    post = f.PostFactory(platform_post_id="abc")
    other_account = f.PlatformAccountFactory(platform=post.platform)
    dup = f.PostFactory.build(
        platform_account=other_account,
        character=other_account.character,
        platform=post.platform,
        platform_post_id="abc",
        content=None,
    )
    with pytest.raises(ValidationError):
        dup.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        dup.save()
    # NULL ids never collide; the same id on another platform is fine
    for _ in range(2):
        f.PostFactory(
            platform_account=other_account, platform_post_id=None, status="draft"
        )
    elsewhere = f.PlatformAccountFactory(
        platform="youtube" if post.platform != "youtube" else "twitter"
    )
    f.PostFactory(platform_account=elsewhere, platform_post_id="abc")


@pytest.mark.django_db
def test_analytics_unique_metric_treats_null_account_as_equal():
    """The document's UNIQUE let duplicates in when the account is NULL."""
    row = f.AnalyticsFactory(character_wide=True)
    dup = f.AnalyticsFactory.build(
        character=row.character,
        platform_account=None,
        platform=None,
        metric_date=row.metric_date,
        metric_type=row.metric_type,
    )
    with pytest.raises(ValidationError):
        dup.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        dup.save()


@pytest.mark.django_db
def test_a_post_must_belong_to_its_accounts_character_and_platform():
    post = f.PostFactory()
    stranger = f.CharacterFactory()
    wrong_platform = "youtube" if post.platform != "youtube" else "twitter"
    for changes, field in (
        ({"character": stranger}, "platform_account"),
        ({"platform": wrong_platform}, "platform"),
    ):
        bad = f.PostFactory.build(
            platform_account=post.platform_account, content=None, **changes
        )
        with pytest.raises(ValidationError) as excinfo:
            bad.full_clean()
        assert field in excinfo.value.message_dict
        with pytest.raises(IntegrityError), transaction.atomic():
            bad.save()


@pytest.mark.django_db
def test_content_approval_flag_follows_the_status():
    content = f.ContentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(content).objects.filter(pk=content.pk).update(is_approved=True)
    content.approval_status = "approved"
    content.full_clean()  # clean() derives is_approved
    content.save()
    content.refresh_from_db()
    assert content.is_approved


@pytest.mark.django_db
def test_a_published_post_needs_published_at():
    post = f.PostFactory.build(status="published", published_at=None, content=None)
    save_related(post)
    with pytest.raises(ValidationError) as excinfo:
        post.full_clean()
    assert "published_at" in excinfo.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        post.save()


@pytest.mark.django_db
def test_soft_deleted_state_is_consistent():
    character = f.CharacterFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(character).all_objects.filter(pk=character.pk).update(status="deleted")


@pytest.mark.django_db
def test_timezone_must_be_a_known_zone():
    with pytest.raises(ValidationError) as excinfo:
        f.BareCharacterFactory.build(timezone="Mars/Olympus").full_clean()
    assert "timezone" in excinfo.value.message_dict
