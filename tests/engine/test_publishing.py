"""Publishing scheduled posts: outcomes, retries, rate limits, credentials, leases."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation.models import AutomationRun
from content.models import Content
from logs.events import kick
from logs.models import Event, SystemLog
from logs.outbox import dispatch_events
from platforms.adapters import get_adapter
from platforms.models import PlatformAccount, Post, ScheduledPost
from platforms.publishing import QUEUE, _request_for, claim_due_posts, publish_due_posts
from platforms.services import platform_accounts_resume
from tests import factories as f
from tests.engine import adapters
from tests.engine.conftest import later

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("dry_run")
def test_a_due_post_is_published_and_recorded_in_one_go(due_post):
    sp = due_post(caption="Hello", hashtags=["ai"])
    times_used = sp.content.times_used
    assert publish_due_posts(now=later()) == 1
    sp.refresh_from_db()
    post = Post.objects.get(pk=sp.post_id)
    assert (sp.status, sp.locked_until, sp.error_message) == ("published", None, None)
    assert sp.published_at == post.published_at
    assert post.platform_post_id == f"dryrun-{sp.pk}"
    assert (post.character_id, post.platform, post.content_id, post.caption) == (
        sp.character_id,
        sp.platform_account.platform,
        sp.content_id,
        "Hello",
    )
    content = Content.objects.get(pk=sp.content_id)
    assert content.times_used == times_used + 1 and content.last_used_at is not None
    assert PlatformAccount.objects.get(pk=sp.platform_account_id).last_activity_at


def test_posts_not_yet_due_wait():
    f.ScheduledPostFactory(scheduled_at=timezone.now() + dt.timedelta(hours=1))
    assert publish_due_posts(now=timezone.now()) == 0
    assert not Post.objects.exists()


@pytest.mark.usefixtures("dry_run")
def test_a_published_post_writes_its_event_in_the_same_statement(
    due_post, django_capture_on_commit_callbacks
):
    sp = due_post()
    with django_capture_on_commit_callbacks() as callbacks:
        assert publish_due_posts(now=later()) == 1
    sp.refresh_from_db()
    event = Event.objects.get()
    assert (event.name, event.character_id, event.status) == (
        "post_published",
        sp.character_id,
        "pending",
    )
    assert event.payload == {
        "post_id": str(sp.post_id),
        "scheduled_post_id": str(sp.pk),
        "platform_account_id": str(sp.platform_account_id),
        "platform": sp.platform_account.platform,
    }
    # the dispatcher is kicked after the commit (by name, not per listener)
    assert callbacks == [kick]


@pytest.mark.usefixtures("dry_run")
def test_the_post_published_event_runs_the_characters_rule(due_post):
    # an image post: a platform that takes the rule's image content (on a
    # video-only platform the run does nothing and says so: a second event)
    sp = due_post(platform_account__platform="telegram")
    f.ContentFactory(character=sp.character, approved=True, content_type="image")
    rule = f.AutomationRuleFactory(
        character=sp.character,
        trigger_type="event",
        trigger_config={"event": "post_published"},
        platforms=[sp.platform_account.platform],
        min_content_quality=0,
        cooldown_minutes=0,
    )
    publish_due_posts(now=later())
    assert dispatch_events()["done"] == 1
    run = AutomationRun.objects.get(rule=rule)
    assert run.key == f"event:post_published:{Event.objects.get().pk}"


@pytest.mark.usefixtures("dry_run")
def test_no_rule_runs_for_characters_without_such_rules(due_post):
    sp = due_post()
    f.AutomationRuleFactory(character=sp.character, trigger_type="manual")
    assert publish_due_posts(now=later()) == 1
    assert dispatch_events()["done"] == 1
    assert not AutomationRun.objects.exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda sp: Content.objects.filter(pk=sp.content_id).update(
                approval_status="pending", is_approved=False
            ),
            "not approved",
        ),
        (
            lambda sp: PlatformAccount.objects.filter(pk=sp.platform_account_id).update(
                auto_posting_enabled=False
            ),
            "Auto-posting is disabled",
        ),
        (
            lambda sp: PlatformAccount.objects.filter(pk=sp.platform_account_id).update(
                connection_status="disconnected", is_connected=False
            ),
            "disconnected",
        ),
    ],
    ids=["unapproved-content", "auto-posting-off", "disconnected"],
)
def test_posts_that_must_not_go_out_fail_fast(due_post, setup, message):
    sp = due_post()
    setup(sp)
    publish_due_posts(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed" and message in sp.error_message
    assert sp.retry_count == 0
    assert not Post.objects.exists()


def test_transient_errors_retry_with_exponential_backoff_then_fail(
    due_post, use_adapter, settings
):
    use_adapter("FlakyAdapter")
    settings.PUBLISH_RETRY_BASE_SECONDS = 60
    sp = due_post(max_retries=2)
    delays = []
    planned = sp.scheduled_at
    for attempt in (1, 2):
        before = timezone.now()
        publish_due_posts(now=later())
        sp.refresh_from_db()
        assert (sp.status, sp.retry_count) == ("scheduled", attempt)
        # the backoff is a "not before" on the row; the planned time stays
        assert sp.scheduled_at == planned
        delays.append((sp.locked_until - before).total_seconds())
        assert "platform answered 503" in sp.error_message
        assert publish_due_posts(now=later()) == 0  # not before its backoff
        ScheduledPost.objects.filter(pk=sp.pk).update(locked_until=None)
    assert 55 <= delays[0] <= 65 and 115 <= delays[1] <= 125
    publish_due_posts(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed" and sp.error_message.startswith(
        "Gave up after 2 retries"
    )
    assert len(adapters.SENT) == 3


def test_a_rate_limited_account_waits_without_using_retries(
    due_post, use_adapter, settings
):
    use_adapter("RateLimitAdapter")
    sp = due_post()
    publish_due_posts(now=later())
    sp.refresh_from_db()
    account = PlatformAccount.objects.get(pk=sp.platform_account_id)
    assert account.connection_status == "rate_limited"
    assert 110 <= (account.rate_limit_reset_at - timezone.now()).total_seconds() <= 121
    assert (sp.status, sp.retry_count) == ("scheduled", 0)
    assert "Rate limited" in sp.error_message
    # still inside the window: not even claimed
    assert claim_due_posts(now=later(60)) == []
    assert len(adapters.SENT) == 1
    # after the reset the account is connected again and the post goes out
    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.dryrun.DryRunAdapter"}
    assert publish_due_posts(now=later(200)) == 1
    assert PlatformAccount.objects.get(pk=account.pk).connection_status == "connected"


def test_rejected_credentials_park_the_account_and_resume_brings_the_posts_back(
    due_post, use_adapter, settings
):
    use_adapter("BadCredentialsAdapter")
    sp = due_post()
    other = due_post(platform_account=sp.platform_account)
    publish_due_posts(now=later())
    account = PlatformAccount.objects.get(pk=sp.platform_account_id)
    assert (account.connection_status, account.is_connected) == ("error", False)
    assert len(adapters.SENT) == 1  # the second post was not even tried
    for row in ScheduledPost.objects.filter(pk__in=[sp.pk, other.pk]):
        assert (row.status, row.retry_count) == ("scheduled", 0)
        assert row.error_message.startswith("Waiting: the account's credentials failed")
    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.dryrun.DryRunAdapter"}
    assert publish_due_posts(now=later()) == 0  # still waiting
    staff = f.UserFactory()
    assert (
        platform_accounts_resume(
            queryset=PlatformAccount.objects.filter(pk=account.pk), actor=staff
        )
        == 1
    )
    assert publish_due_posts(now=later()) == 2
    assert SystemLog.objects.filter(message__contains="publishing resumed").exists()


def test_a_timeout_after_sending_is_never_resent_when_the_platform_cannot_tell(
    due_post, use_adapter
):
    use_adapter("BlindTimeoutAdapter")
    sp = due_post()
    publish_due_posts(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed" and sp.error_message.startswith("Outcome unknown")
    publish_due_posts(now=later(3600))
    assert [str(sp.pk)] == adapters.SENT
    assert not Post.objects.exists()


def test_a_timeout_after_sending_is_recorded_when_the_platform_finds_the_post(
    due_post, use_adapter
):
    use_adapter("SeeingTimeoutAdapter")
    sp = due_post()
    publish_due_posts(now=later())
    sp.refresh_from_db()
    assert sp.status == "published"
    assert Post.objects.get().platform_post_id == f"seen-{sp.pk}"


@pytest.mark.usefixtures("dry_run")
def test_a_dead_workers_post_is_published_once_after_its_lease(due_post, settings):
    settings.PUBLISH_LEASE_SECONDS = 60
    never_sent = due_post()
    sent = due_post()
    # worker A claims both, begins and sends one, and dies before recording it
    claimed = {c.id: c for c in claim_due_posts(now=later())}
    assert set(claimed) == {never_sent.pk, sent.pk}
    assert QUEUE.begin(claimed[sent.pk])
    get_adapter(sent.platform_account).publish(_request_for(sent))
    # inside the lease nobody touches them
    assert publish_due_posts(now=later(30)) == 0
    # after the lease: each is recorded exactly once, the sent one without
    # resending (the dry-run adapter finds it), the other published as new
    assert publish_due_posts(now=later(120)) == 2
    assert Post.objects.count() == 2
    assert set(Post.objects.values_list("platform_post_id", flat=True)) == {
        f"dryrun-{never_sent.pk}",
        f"dryrun-{sent.pk}",
    }
    assert publish_due_posts(now=later(600)) == 0


def test_a_claimed_post_whose_attempt_never_began_is_simply_published(
    due_post, use_adapter, settings
):
    """A worker died after the claim, before calling the platform: nothing
    went out, so the post is published, not written off as outcome unknown."""
    use_adapter("BlindTimeoutAdapter")
    settings.PUBLISH_LEASE_SECONDS = 60
    sp = due_post()
    claim_due_posts(now=later())
    settings.PLATFORM_ADAPTERS = {"*": "tests.engine.adapters.BlindSenderAdapter"}
    assert publish_due_posts(now=later(120)) == 1
    sp.refresh_from_db()
    assert sp.status == "published" and sp.attempt_count == 1
    assert [str(sp.pk)] == adapters.SENT


def test_a_reclaimed_post_fails_as_outcome_unknown_when_the_platform_cannot_tell(
    due_post, use_adapter, settings
):
    use_adapter("BlindSenderAdapter")
    settings.PUBLISH_LEASE_SECONDS = 60
    sp = due_post()
    (item,) = claim_due_posts(now=later())
    assert QUEUE.begin(item)  # the attempt began; the worker died in the call
    publish_due_posts(now=later(120))
    sp.refresh_from_db()
    assert sp.status == "failed" and sp.error_message.startswith(
        "Outcome unknown: attempt 1 began at"
    )
    assert sp.attempt_started_at is None
    assert adapters.SENT == []


def test_a_cancelled_post_is_not_published(due_post):
    sp = due_post()
    claim_due_posts(now=later())
    ScheduledPost.objects.filter(pk=sp.pk).update(status="cancelled")
    assert publish_due_posts(now=later(1000)) == 0
    assert not Post.objects.exists()


def test_a_batch_is_recorded_together_and_a_duplicate_id_falls_back_to_one_by_one(
    due_post, use_adapter
):
    use_adapter("SameIdAdapter")
    first = due_post()
    second = due_post(platform_account=first.platform_account)
    assert publish_due_posts(now=later()) == 2
    rows = ScheduledPost.objects.filter(pk__in=[first.pk, second.pk])
    assert {r.status for r in rows} == {"published"}
    # one platform post, both scheduled posts point at it
    assert Post.objects.filter(platform_post_id="same-id-1").count() == 1
    assert len({r.post_id for r in rows}) == 1


def test_each_post_costs_the_same_few_queries_whatever_the_batch_size(
    due_post, settings
):
    """Every post is journalled and recorded on its own (a crash loses no
    record), at a fixed cost: one statement that records it all and begins
    the next post's attempt (RECORD_SQL; the test's SAVEPOINT/RELEASE around
    it). A batch adds a fixed few (claim, load, the accounts' credentials,
    the first post's journal UPDATE, rate-limit and waiting sweeps,
    listeners)."""
    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.dryrun.DryRunAdapter"}

    def publish(n):
        account = f.PlatformAccountFactory()
        for _ in range(n):
            due_post(platform_account=account, content=None, caption="hi")
        with CaptureQueriesContext(connection) as ctx:
            assert publish_due_posts(now=later()) == n
        return len(ctx.captured_queries)

    five, many = publish(5), publish(45)  # both under one claim batch of 50
    assert (many - five) == 40 * 3
    assert five - 5 * 3 <= 18
