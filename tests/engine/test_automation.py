"""The automation engine: cron in the character's timezone, dispatch, runs, events."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from automation.dispatch import dispatch_due_rules, due_q
from automation.models import AutomationRule, AutomationRun
from automation.rules import next_run
from automation.runs import run_rule
from automation.services import automation_rules_enable
from config.permissions import ADMINISTRATORS
from content.models import Content, ContentGeneration
from content.services import content_approve
from logs.events import emit
from logs.models import Event, SystemLog
from logs.outbox import dispatch_events
from platforms.models import ScheduledPost
from tests import factories as f

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def at(tz, *args):
    return dt.datetime(*args, tzinfo=tz)


# --- validation -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"trigger_config": {"cron": "every morning"}}, "trigger_config", "cron"),
        ({"trigger_config": {"cron": "61 9 * * *"}}, "trigger_config", "cron"),
        ({"trigger_config": {}}, "trigger_config", "needs a cron"),
        (
            {"trigger_type": "event", "trigger_config": {"event": "sunrise"}},
            "trigger_config",
            "content_approved",
        ),
        (
            {
                "trigger_type": "event",
                "trigger_config": {"event": "follower_milestone", "every": 0},
            },
            "trigger_config",
            "positive",
        ),
        ({"caption_template": "Hi from {city}"}, "caption_template", "{location}"),
        ({"caption_template": "{name.__class__}"}, "caption_template", "Unknown"),
        ({"caption_template": "broken {"}, "caption_template", "malformed"),
    ],
)
def test_bad_rules_are_refused_on_the_field(changes, field, words):
    rule = f.AutomationRuleFactory.build(character=f.CharacterFactory(), **changes)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert field in caught.value.message_dict
    assert words in " ".join(caught.value.message_dict[field])


@pytest.mark.django_db
def test_the_api_answers_400_on_a_bad_cron():
    from tests.api.conftest import _client_for

    character = f.CharacterFactory()
    response = _client_for(ADMINISTRATORS).post(
        "/api/v1/automation-rules/",
        {
            "character": str(character.pk),
            "name": "Morning",
            "trigger_type": "schedule",
            "trigger_config": {"cron": "at nine"},
            "platforms": ["instagram"],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "cron" in str(response.json()["trigger_config"])


# --- schedules --------------------------------------------------------------------


def test_nine_oclock_follows_the_characters_wall_clock_across_dst():
    before = next_run("0 9 * * *", "Europe/Berlin", at(UTC, 2026, 3, 28, 12))
    after = next_run("0 9 * * *", "Europe/Berlin", at(UTC, 2026, 3, 29, 12))
    assert before == at(UTC, 2026, 3, 29, 7)  # CEST (+02:00) from this day
    assert after == at(UTC, 2026, 3, 30, 7)
    winter = next_run("0 9 * * *", "Europe/Berlin", at(UTC, 2026, 1, 5, 12))
    assert winter == at(UTC, 2026, 1, 6, 8)  # CET (+01:00)


def test_a_time_repeated_in_autumn_runs_once():
    first = next_run("30 2 * * *", "Europe/Berlin", at(UTC, 2026, 10, 24, 12))
    assert first == at(UTC, 2026, 10, 25, 0, 30)  # 02:30 CEST
    second = next_run("30 2 * * *", "Europe/Berlin", first)
    assert second == at(UTC, 2026, 10, 26, 1, 30)  # next day, not 02:30 CET


def test_a_time_missing_in_spring_runs_an_hour_later():
    run = next_run("30 2 * * *", "Europe/Berlin", at(UTC, 2026, 3, 28, 12))
    assert run.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") == "2026-03-29 03:30"


@pytest.mark.django_db
def test_saving_a_schedule_rule_sets_its_next_run_in_the_characters_timezone():
    character = f.CharacterFactory(timezone="America/New_York")
    rule = f.AutomationRuleFactory(
        character=character, trigger_config={"cron": "15 8 * * *"}
    )
    local = rule.next_run_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (8, 15)
    assert rule.next_run_at > timezone.now()
    manual = f.AutomationRuleFactory(character=character, trigger_type="manual")
    assert manual.next_run_at is None


def _make_due(*rules, minutes=1):
    AutomationRule.objects.filter(pk__in=[r.pk for r in rules]).update(
        next_run_at=timezone.now() - dt.timedelta(minutes=minutes)
    )


@pytest.mark.django_db
def test_dispatch_queues_due_rules_once_and_moves_them_on(
    django_capture_on_commit_callbacks,
):
    due = f.AutomationRuleFactory.create_batch(3)
    later = f.AutomationRuleFactory()
    off = f.AutomationRuleFactory(is_enabled=False)
    _make_due(*due, off)
    queued = []

    with django_capture_on_commit_callbacks(execute=True):
        ids = dispatch_due_rules(enqueue=lambda *a: queued.append(a))

    assert sorted(ids) == sorted(str(r.pk) for r in due)
    assert sorted(q[0] for q in queued) == sorted(ids)
    for rule in due:
        rule.refresh_from_db()
        local = rule.next_run_at.astimezone(ZoneInfo(rule.character.timezone))
        assert rule.next_run_at > timezone.now() and (local.hour, local.minute) == (
            9,
            0,
        )
    assert dispatch_due_rules(enqueue=lambda *a: queued.append(a)) == []
    later.refresh_from_db()
    assert later.next_run_at > timezone.now()


@pytest.mark.django_db
def test_dispatch_costs_the_same_queries_for_ten_or_a_hundred_rules(
    django_assert_num_queries,
):
    def dispatch(n):
        rules = f.AutomationRuleFactory.create_batch(n)
        _make_due(*rules)
        with django_assert_num_queries(4):  # savepoint, claim, update, release
            assert len(dispatch_due_rules(enqueue=lambda *a: None)) == n

    dispatch(10)
    dispatch(100)


@pytest.mark.django_db
def test_a_re_enabled_rule_does_not_catch_up_but_runs_at_its_next_time():
    rule = f.AutomationRuleFactory(is_enabled=False)
    _make_due(rule, minutes=60 * 24 * 3)
    automation_rules_enable(queryset=AutomationRule.objects.filter(pk=rule.pk))
    assert dispatch_due_rules(enqueue=lambda *a: None) == []
    rule.refresh_from_db()
    assert rule.next_run_at > timezone.now()


@pytest.mark.django_db
def test_a_rule_with_a_broken_cron_is_disabled_with_a_reason():
    rule = f.AutomationRuleFactory()
    AutomationRule.objects.filter(pk=rule.pk).update(
        trigger_config={"cron": "nonsense"},
        next_run_at=timezone.now() - dt.timedelta(minutes=1),
    )
    assert dispatch_due_rules(enqueue=lambda *a: None) == []
    rule.refresh_from_db()
    assert rule.is_enabled is False
    log = SystemLog.objects.get(component="automation", log_level="error")
    assert "no valid cron" in log.message


@pytest.mark.django_db(transaction=True)
def test_ten_thousand_rules_cost_one_indexed_query():
    character = f.CharacterFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO automation_rules
                (character_id, name, trigger_type, trigger_config, platforms, next_run_at)
            SELECT %s, 'rule ' || n, 'schedule', '{"cron": "0 9 * * *"}',
                   ARRAY['instagram'], now() + (n || ' minutes')::interval
            FROM generate_series(1, 10000) AS n
            """,
            [character.pk],
        )
        cursor.execute("ANALYZE automation_rules")
    plan = (
        AutomationRule.objects.filter(due_q(timezone.now()))
        .order_by("next_run_at")
        .values("id")[:2000]
        .explain()
    )
    assert "idx_automation_rules_due" in plan, plan
    assert "Seq Scan on automation_rules" not in plan, plan


# --- runs ------------------------------------------------------------------------


@pytest.fixture
def world(db):
    character = f.CharacterFactory(
        name="Luna",
        location="Lisbon",
        interests=["Surf", "street food"],
        timezone="Europe/Lisbon",
    )
    character.appearance.default_prompt_prefix = "photo of luna"
    character.appearance.save()
    character.personality.preferred_topics = ["travel"]
    character.personality.save()
    instagram = f.PlatformAccountFactory(character=character, platform="instagram")
    twitter = f.PlatformAccountFactory(character=character, platform="twitter")
    return character, instagram, twitter


def approved(character, **kwargs):
    defaults = {
        "content_type": "image",
        "approved": True,
        "quality_score": Decimal("0.90"),
        "is_nsfw": False,
        "tags": ["Beach Day"],
        "prompt": "photo of luna, sunset at the beach",
    }
    return f.ContentFactory(character=character, **{**defaults, **kwargs})


def rule_for(character, **kwargs):
    defaults = {
        "platforms": ["instagram", "twitter"],
        "caption_template": "{caption} — {name} from {location} #golden hour",
        "hashtag_strategy": "auto",
        "max_posts_per_day": None,
        "cooldown_minutes": 0,
        "trigger_type": "manual",
        "trigger_config": {},
    }
    return f.AutomationRuleFactory(character=character, **{**defaults, **kwargs})


def test_a_run_schedules_one_post_per_connected_account(world):
    character, instagram, twitter = world
    f.PlatformAccountFactory(
        character=character, platform="facebook"
    )  # not in the rule's platforms
    content = approved(character)
    rule = rule_for(character)

    result = run_rule(rule.pk)

    assert result.outcome == "scheduled"
    posts = ScheduledPost.objects.filter(automation_rule=rule).order_by("post_type")
    assert [(p.platform_account_id, p.post_type) for p in posts] == [
        (instagram.pk, "post"),
        (twitter.pk, "tweet"),
    ]
    insta = posts[0]
    assert insta.content_id == content.pk and insta.status == "scheduled"
    assert insta.caption == "sunset at the beach — Luna from Lisbon #golden hour"
    assert insta.hashtags == ["beachday", "travel", "surf", "streetfood"]
    assert posts[1].hashtags == ["beachday", "travel"]  # twitter keeps two
    assert insta.scheduled_at <= timezone.now() and insta.timezone == "Europe/Lisbon"
    rule.refresh_from_db()
    assert (rule.times_executed, rule.success_count, rule.failure_count) == (1, 1, 0)
    assert rule.last_executed_at is not None
    log = SystemLog.objects.get(component="automation")
    assert "scheduled 2 post(s)" in log.message and log.content_id == content.pk


def test_template_hashtags_come_out_of_the_caption(world):
    character, *_ = world
    approved(character)
    rule = rule_for(
        character,
        hashtag_strategy="template",
        caption_template="Good morning from {location} #sunrise #Lisbon",
        trigger_config={"hashtags": ["ocean"]},
        platforms=["instagram"],
    )
    run_rule(rule.pk)
    post = ScheduledPost.objects.get(automation_rule=rule)
    assert post.caption == "Good morning from Lisbon"
    assert post.hashtags == ["sunrise", "lisbon", "ocean"]


def test_the_least_used_good_content_is_picked(world):
    character, *_ = world
    approved(character, is_nsfw=True)
    approved(character, quality_score=Decimal("0.50"))
    approved(character, content_type="video")
    f.ContentFactory(
        character=character, content_type="image", quality_score=Decimal("0.99")
    )
    used = approved(character)
    Content.objects.filter(pk=used.pk).update(times_used=4)
    fresh = approved(character)
    rule = rule_for(character, platforms=["instagram"])

    assert run_rule(rule.pk).content_id == fresh.pk
    # the fresh piece is now queued: the next run takes the other one
    assert run_rule(rule.pk).content_id == used.pk
    result = run_rule(rule.pk)
    assert result.outcome == "nothing" and "not already queued" in result.reason


def test_nothing_to_post_is_counted_and_explained(world):
    character, *_ = world
    rule = rule_for(character, content_category="fitness")
    result = run_rule(rule.pk)
    assert result.outcome == "nothing"
    rule.refresh_from_db()
    assert (rule.times_executed, rule.failure_count) == (1, 1)
    log = SystemLog.objects.get(component="automation", log_level="warning")
    assert "in category 'fitness'" in log.message


def test_a_prompt_template_queues_a_generation_when_content_runs_out(world):
    character, *_ = world
    rule = rule_for(character, prompt_template="{name} surfing in {location}")
    result = run_rule(rule.pk)
    job = ContentGeneration.objects.get(character=character)
    assert job.prompt == "Luna surfing in Lisbon" and job.status == "pending"
    assert str(job.pk) in result.reason


def test_no_connected_account_is_explained(world):
    character, instagram, twitter = world
    instagram.connection_status = "suspended"
    instagram.save()
    twitter.auto_posting_enabled = False
    twitter.save()
    approved(character)
    result = run_rule(rule_for(character).pk)
    assert result.outcome == "nothing" and "no connected account" in result.reason


def test_the_cooldown_holds_runs_back(world):
    character, *_ = world
    approved(character)
    approved(character)
    rule = rule_for(character, cooldown_minutes=30, platforms=["instagram"])
    assert run_rule(rule.pk).outcome == "scheduled"
    second = run_rule(rule.pk)
    assert second.outcome == "skipped" and "cooling down" in second.reason
    rule.refresh_from_db()
    assert rule.times_executed == 1
    later = timezone.now() + dt.timedelta(minutes=31)
    assert run_rule(rule.pk, now=later).outcome == "scheduled"


def test_an_hourly_rule_is_not_refused_by_a_late_start(world):
    character, *_ = world
    approved(character)
    approved(character)
    rule = rule_for(character, cooldown_minutes=60, platforms=["instagram"])
    nine = timezone.now().replace(minute=0, second=0, microsecond=0)
    run_rule(rule.pk, scheduled_for=nine, now=nine + dt.timedelta(seconds=40))
    ten = nine + dt.timedelta(hours=1)
    result = run_rule(rule.pk, scheduled_for=ten, now=ten + dt.timedelta(seconds=2))
    assert result.outcome == "scheduled"


def test_daily_limit_counts_on_the_characters_calendar(world):
    character, *_ = world
    character.timezone = "Pacific/Auckland"
    character.save()
    for _ in range(3):
        approved(character)
    rule = rule_for(character, max_posts_per_day=1, platforms=["instagram", "twitter"])
    tz = ZoneInfo("Pacific/Auckland")
    now = timezone.now()
    local_midnight = dt.datetime.combine(
        now.astimezone(tz).date(), dt.time(0), tzinfo=tz
    )
    # made by the rule just before local midnight: yesterday, does not count
    old = f.ScheduledPostFactory(
        character=character,
        platform_account=character.platform_accounts.get(platform="instagram"),
        automation_rule=rule,
        content=None,
        caption="yesterday",
    )
    ScheduledPost.objects.filter(pk=old.pk).update(
        created_at=local_midnight - dt.timedelta(minutes=5),
        scheduled_at=local_midnight - dt.timedelta(minutes=1),
    )

    first = run_rule(rule.pk)
    assert first.outcome == "scheduled" and len(first.scheduled) == 1  # limit 1
    second = run_rule(rule.pk)
    assert second.outcome == "skipped" and "limit" in second.reason


def test_a_disabled_rule_or_paused_character_does_not_run(world):
    character, *_ = world
    approved(character)
    rule = rule_for(character, is_enabled=False)
    assert "disabled" in run_rule(rule.pk).reason
    rule2 = rule_for(character)
    character.status = "paused"
    character.save()
    assert "not active" in run_rule(rule2.pk).reason
    assert not ScheduledPost.objects.exists()


# --- events ---------------------------------------------------------------------


def test_approving_content_runs_the_characters_event_rules_with_that_content(world):
    character, *_ = world
    approved(character)  # older, unused: would be picked otherwise
    rule = rule_for(
        character,
        trigger_type="event",
        trigger_config={"event": "content_approved"},
        platforms=["instagram"],
    )
    other = f.CharacterFactory()
    new = approved(character, approved=False, approval_status="pending")
    elsewhere = f.ContentFactory(character=other)

    content_approve(queryset=Content.objects.filter(pk__in=[new.pk, elsewhere.pk]))

    # one event per character, written with the approval
    events = {e.character_id: e.payload for e in Event.objects.all()}
    assert events == {
        character.pk: {"content_ids": [str(new.pk)]},
        other.pk: {"content_ids": [str(elsewhere.pk)]},
    }
    assert dispatch_events()["done"] == 2
    # the listening character's rule ran with that content; the other has none
    assert ScheduledPost.objects.get(automation_rule=rule).content_id == new.pk
    assert list(AutomationRun.objects.values_list("rule_id", flat=True)) == [rule.pk]


def test_follower_milestones_fire_only_when_crossed(world):
    character, *_ = world
    approved(character)
    approved(character)
    rule = rule_for(
        character,
        trigger_type="event",
        trigger_config={"event": "follower_milestone", "every": 5000},
        platforms=["instagram"],
    )
    payload = {"platform": "instagram"}
    emit(
        "follower_milestone",
        {"previous": 9100, "current": 9900, **payload},
        character_id=character.pk,
    )
    assert dispatch_events()["done"] == 1
    assert not AutomationRun.objects.exists()
    emit(
        "follower_milestone",
        {"previous": 9900, "current": 10100, **payload},
        character_id=character.pk,
    )
    assert dispatch_events()["done"] == 1
    run = AutomationRun.objects.get(rule=rule)
    assert (run.trigger, run.outcome) == ("event", "scheduled")


def test_a_post_its_platform_would_refuse_is_left_out_and_said_why(world):
    character, instagram, twitter = world
    # a text: a tweet takes it, an Instagram post needs an image or a video
    text = approved(character, content_type="text", prompt="words only")
    rule = rule_for(character, content_type="text")

    result = run_rule(rule.pk)

    assert result.outcome == "scheduled" and result.content_id == text.pk
    [post] = ScheduledPost.objects.filter(automation_rule=rule)
    assert post.platform_account_id == twitter.pk
    assert result.reason.startswith("Left out: instagram: ")
    assert "text-only posts are refused" in result.reason
    twitter.auto_posting_enabled = False
    twitter.save()
    approved(character, content_type="text", prompt="more words")
    nothing = run_rule(rule.pk)
    assert nothing.outcome == "nothing"
    assert "every platform would refuse the post: instagram: " in nothing.reason
