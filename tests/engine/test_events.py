"""Events: written with the producer's transaction, kicked by name at most
about once a second, dispatched once per consumer, safe to deliver again."""

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connections, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from automation.listeners import consume as automation_consume
from automation.models import AutomationRun
from automation.runs import run_rule
from config.periodic import PERIODIC_TASKS, Every
from content.backends import LocalImageBackend
from content.generation import process_generation_queue
from content.models import Content
from content.services import content_approve
from logs import events
from logs.events import KICK_KEY, emit, emit_many, emit_selected
from logs.maintenance import purge_done_events
from logs.models import Event
from logs.outbox import dispatch_events, events_retry
from logs.tasks import dispatch_events as dispatch_task
from platforms.models import PlatformAccount, ScheduledPost
from platforms.publishing import publish_due_posts
from platforms.queues import credentials_failed
from platforms.services import platform_accounts_resume
from tests import factories as f
from tests.engine.conftest import later

# --- consumers named in settings by the tests -------------------------------------

DELIVERED: list[tuple[str, object]] = []
_delivered_lock = threading.Lock()


def _recording(name):
    def consume(batch):
        def handle(event):
            with _delivered_lock:
                DELIVERED.append((name, event.pk))

        return handle

    return consume


consume_a = _recording("a")
consume_b = _recording("b")


class Killed(BaseException):
    """The dispatcher's process dies (not an error of one event)."""


KILLS = {"left": 0}


def killing_consume(batch):
    def handle(event):
        if KILLS["left"]:
            KILLS["left"] -= 1
            raise Killed()

    return handle


def picky_consume(batch):
    def handle(event):
        if event.payload.get("bad"):
            raise ValueError("cannot handle this one")

    return handle


HERE = "tests.engine.test_events"


@pytest.fixture(autouse=True)
def _clean():
    DELIVERED.clear()
    KILLS["left"] = 0
    yield


@pytest.fixture
def kicks(monkeypatch, settings):
    """What the dispatcher was sent (its countdowns), with a fresh throttle."""
    sent = []

    def send_task(name, *, countdown=None, retry=True, **kwargs):
        assert name == "logs.tasks.dispatch_events" and retry is False
        sent.append(countdown)

    monkeypatch.setattr(events.celery_app, "send_task", send_task)
    monkeypatch.setattr(events, "_covered_until", 0.0)
    client = events._redis()  # the test's Redis (a test may point elsewhere)
    client.delete(KICK_KEY, f"{KICK_KEY}:later")
    yield sent
    client.delete(KICK_KEY, f"{KICK_KEY}:later")


# --- written with the producer ----------------------------------------------------


@pytest.mark.django_db
def test_an_event_is_rolled_back_with_the_producers_transaction(
    django_capture_on_commit_callbacks,
):
    content = f.ContentFactory(approval_status="pending", is_approved=False)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        content_approve(queryset=Content.objects.filter(pk=content.pk))
        assert Event.objects.filter(name="content_approved").count() == 1
        raise RuntimeError("the approval fails after all")
    assert not Event.objects.exists()
    assert callbacks == []  # nothing to kick either
    content_approve(queryset=Content.objects.filter(pk=content.pk))
    assert Event.objects.get().payload == {"content_ids": [str(content.pk)]}


@pytest.mark.django_db
def test_an_unknown_event_name_is_refused():
    with pytest.raises(ValueError, match="Unknown event 'post_publshed'"):
        emit("post_publshed", {})


@pytest.mark.django_db
def test_many_events_in_one_transaction_register_one_kick(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        emit("rule_did_nothing", {"n": 1})
        emit_many("rule_did_nothing", [(None, {"n": 2}), (None, {"n": 3})])
    assert callbacks == [events.kick]
    assert Event.objects.count() == 3


@pytest.mark.django_db
def test_events_selected_in_sql_are_written_in_one_statement_and_kick_once(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    select = (
        "SELECT NULL::uuid, jsonb_build_object('n', n) "
        "FROM generate_series(1, %(upto)s) AS n"
    )
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        with django_assert_num_queries(1):
            assert emit_selected("rule_did_nothing", select, {"upto": 3}) == 3
        assert emit_selected("rule_did_nothing", select, {"upto": 0}) == 0
    assert callbacks == [events.kick]
    assert sorted(e.payload["n"] for e in Event.objects.all()) == [1, 2, 3]
    assert {e.status for e in Event.objects.all()} == {"pending"}
    with pytest.raises(ValueError, match="Unknown event 'rule_did_nthing'"):
        emit_selected("rule_did_nthing", select, {"upto": 1})


# --- the kick ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_is_kicked_at_most_about_once_a_second(kicks, settings):
    settings.EVENTS_KICK_INTERVAL_MS = 400
    for n in range(6):
        with transaction.atomic():  # each commit kicks (throttled)
            emit("rule_did_nothing", {"n": n})
            emit("rule_did_nothing", {"n": n, "second": True})
    # one kick at once, one delayed kick for what committed meanwhile
    assert kicks == [None, 0.4]
    time.sleep(0.45)
    emit("rule_did_nothing", {"n": "later"})  # autocommit: kicks at once
    assert kicks == [None, 0.4, None]
    assert Event.objects.count() == 13


@pytest.mark.django_db
def test_redis_down_the_kick_is_sent_anyway(kicks, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    assert events.kick() == "now"
    assert events.kick() == "now"  # no throttle to ask: fails open
    assert kicks == [None, None]


@pytest.mark.django_db
def test_with_redis_and_the_broker_down_beats_run_dispatches_the_events(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    settings.EVENT_CONSUMERS = [f"{HERE}.consume_a"]
    monkeypatch.setattr(events, "_covered_until", 0.0)

    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:9. Connection refused.")

    monkeypatch.setattr(events.celery_app, "send_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("post_failed", {"scheduled_post_id": "x"})  # no error raised
    assert Event.objects.get().status == "pending"
    # beat runs the dispatcher every minute
    [entry] = [p for p in PERIODIC_TASKS if p.task == "logs.tasks.dispatch_events"]
    assert entry.schedule == Every(60)
    assert dispatch_task.run()["rows"] == 1
    assert [("a", event.pk)] == DELIVERED
    assert Event.objects.get().status == "done"


# --- dispatch ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_deliver_each_event_once_to_each_consumer(
    settings, kicks
):
    settings.EVENT_CONSUMERS = [f"{HERE}.consume_a", f"{HERE}.consume_b"]
    emit_many("rule_did_nothing", ((None, {"n": n}) for n in range(600)))
    barrier = threading.Barrier(4)
    outcomes = []

    def dispatcher():
        try:
            barrier.wait()
            outcomes.append(dispatch_events(batch=50, time_budget=60))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    ids = set(Event.objects.values_list("pk", flat=True))
    assert Counter(DELIVERED) == Counter({(c, pk): 1 for c in "ab" for pk in ids})
    assert sum(o["done"] for o in outcomes) == 600
    assert set(Event.objects.values_list("status", flat=True)) == {"done"}
    assert len([o for o in outcomes if o["done"]]) > 1  # they did share the work


@pytest.fixture
def listening_rule(db):
    character = f.CharacterFactory()
    f.PlatformAccountFactory(character=character, platform="instagram")
    f.ContentFactory.create_batch(
        2, character=character, approved=True, content_type="image"
    )
    return f.AutomationRuleFactory(
        character=character,
        trigger_type="event",
        trigger_config={"event": "post_published"},
        platforms=["instagram"],
        min_content_quality=0,
        cooldown_minutes=0,
    )


def test_an_event_delivered_again_after_a_crash_creates_nothing(
    listening_rule, settings
):
    """GIVEN the dispatcher dies after the rule ran but before the event was
    marked done WHEN the event is delivered again THEN the run is not repeated."""
    settings.EVENT_CONSUMERS = [
        "automation.listeners.consume",
        f"{HERE}.killing_consume",
    ]
    KILLS["left"] = 1
    event = emit(
        "post_published", {"post_id": "p1"}, character_id=listening_rule.character_id
    )
    with pytest.raises(Killed):
        dispatch_events()
    assert ScheduledPost.objects.filter(automation_rule=listening_rule).count() == 1
    event.refresh_from_db()
    assert event.status == "pending"  # given back, delivered again

    assert dispatch_events()["done"] == 1
    event.refresh_from_db()
    assert (event.status, event.attempt_count) == ("done", 2)
    assert ScheduledPost.objects.filter(automation_rule=listening_rule).count() == 1
    run = AutomationRun.objects.get(rule=listening_rule)
    assert run.key == f"event:post_published:{event.pk}"


def test_the_automation_consumer_finds_listeners_in_one_query(
    listening_rule, django_assert_num_queries
):
    batch = [
        emit("post_published", {"n": n}, character_id=listening_rule.character_id)
        for n in range(3)
    ] + [
        emit(
            "content_approved",
            {"content_ids": []},
            character_id=f.CharacterFactory().pk,
        )
        for _ in range(20)
    ]
    with django_assert_num_queries(1):
        handle = automation_consume(batch)
    with django_assert_num_queries(0):
        handle(batch[-1])  # nobody listens: no query at all


@pytest.mark.django_db
def test_a_failing_event_backs_off_then_fails_and_the_others_go_on(settings):
    settings.EVENT_CONSUMERS = [f"{HERE}.picky_consume"]
    settings.EVENT_MAX_ATTEMPTS = 2
    bad = emit("rule_did_nothing", {"bad": True})
    good = emit("rule_did_nothing", {"bad": False})
    assert dispatch_events() == Counter(done=1, retry=1)
    bad.refresh_from_db()
    assert bad.status == "pending" and bad.locked_until > timezone.now()
    assert "cannot handle this one" in bad.error_message
    assert dispatch_events() == Counter()  # waiting out its backoff
    Event.objects.filter(pk=bad.pk).update(locked_until=timezone.now())
    assert dispatch_events() == Counter(failed=1)
    bad.refresh_from_db()
    good.refresh_from_db()
    assert (bad.status, good.status) == ("failed", "done")
    # staff queue it again, with fresh attempts
    assert events_retry(queryset=Event.objects.all()) == 1
    bad.refresh_from_db()
    assert (bad.status, bad.attempt_count, bad.error_message) == ("pending", 0, None)


@pytest.mark.django_db
def test_retention_deletes_only_dispatched_events_past_their_days():
    old = timezone.now() - dt.timedelta(days=8)
    for status in ("done", "pending", "failed"):
        emit_many("rule_did_nothing", [(None, {"status": status})] * 3)
        Event.objects.filter(payload__status=status).update(status=status)
    Event.objects.update(created_at=old)
    recent = emit("rule_did_nothing", {})
    Event.objects.filter(pk=recent.pk).update(status="done")
    assert purge_done_events(days=7, batch=2) == 3
    assert sorted(Event.objects.values_list("status", flat=True)) == sorted(
        ["pending"] * 3 + ["failed"] * 3 + ["done"]
    )
    with pytest.raises(ValueError):
        purge_done_events(days=0)


@pytest.mark.django_db
def test_a_message_queued_before_the_outbox_lands_in_it():
    from automation.tasks import fire_event

    character = f.CharacterFactory()
    fire_event.run("post_published", str(character.pk), post_id="p-old")
    event = Event.objects.get()
    assert (event.name, event.character_id, event.payload) == (
        "post_published",
        character.pk,
        {"post_id": "p-old"},
    )


# --- what emits what (issue 16's notifications and webhooks consume these) --------


def _only(name):
    [event] = Event.objects.filter(name=name)
    return event


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("adapter", "name", "words"),
    [
        ("FlakyAdapter", "post_failed", "Gave up after 0 retries"),
        ("BlindTimeoutAdapter", "post_outcome_unknown", "Outcome unknown"),
    ],
)
def test_a_post_that_fails_for_good_emits_its_event(
    due_post, use_adapter, adapter, name, words
):
    use_adapter(adapter)
    sp = due_post(max_retries=0)
    publish_due_posts(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed"
    event = _only(name)
    assert event.character_id == sp.character_id
    assert event.payload["scheduled_post_id"] == str(sp.pk)
    assert words in event.payload["error"] and event.payload["error"] == (
        sp.error_message
    )
    assert Event.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("dry_run")
def test_a_refused_post_emits_post_failed(due_post):
    sp = due_post()
    Content.objects.filter(pk=sp.content_id).update(
        approval_status="pending", is_approved=False
    )
    publish_due_posts(now=later())
    assert "not approved" in _only("post_failed").payload["error"]


@pytest.mark.django_db
def test_an_account_needs_attention_once_until_it_is_resumed(due_post, use_adapter):
    use_adapter("BadCredentialsAdapter")
    sp = due_post()
    due_post(platform_account=sp.platform_account)
    publish_due_posts(now=later())
    account = sp.platform_account
    event = _only("account_needs_attention")
    assert event.payload == {
        "platform_account_id": str(account.pk),
        "platform": account.platform,
        "reason": "token revoked",
    }
    # refused again (the metrics sync, another post): no second event
    again = {
        "character_id": account.character_id,
        "platform": account.platform,
        "reason": "token revoked",
    }
    assert credentials_failed(account.pk, **again) is False
    platform_accounts_resume(queryset=PlatformAccount.objects.filter(pk=account.pk))
    assert credentials_failed(account.pk, **again) is True
    assert Event.objects.filter(name="account_needs_attention").count() == 2


@pytest.mark.django_db
def test_a_generation_that_fails_for_good_emits_generation_failed():
    job = f.ContentGenerationFactory(job_type="video")
    process_generation_queue(backend=LocalImageBackend())
    event = _only("generation_failed")
    assert event.character_id == job.character_id
    assert event.payload["generation_id"] == str(job.pk)
    assert "No video-capable generation backend" in event.payload["error"]


@pytest.mark.django_db
def test_a_rule_that_schedules_nothing_emits_rule_did_nothing():
    rule = f.AutomationRuleFactory(trigger_type="manual", cooldown_minutes=0)
    result = run_rule(rule.pk)
    assert result.outcome == "nothing"
    event = _only("rule_did_nothing")
    run = AutomationRun.objects.get(rule=rule)
    assert event.payload == {
        "automation_rule_id": str(rule.pk),
        "run_id": str(run.pk),
        "trigger": "manual",
        "reason": result.reason,
    }
    # skipped (cooldown, limits, disabled) is not "did nothing"
    rule.is_enabled = False
    rule.save()
    assert run_rule(rule.pk).outcome == "skipped"
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_nightly_backup_emits_backup_failed(monkeypatch):
    from django.core.management.base import CommandError

    from config import tasks

    def fails():
        raise CommandError("dbbackup wrote no new database backup file.")

    monkeypatch.setattr(tasks, "run_nightly_backup", fails)
    with pytest.raises(CommandError):
        tasks.nightly_backup.run()
    assert _only("backup_failed").payload == {
        "reason": "CommandError: dbbackup wrote no new database backup file."
    }
