"""Exactly once under faults (issue 11): each finding, reproduced on demand.

The adapters in tests/engine/adapters.py stand for platforms that cannot look
a post up afterwards (Telegram's Bot API): an attempt whose answer was lost
can only end as "outcome unknown", never as a second send.
"""

import datetime as dt
import uuid

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from content.generation import QUEUE as GENERATIONS
from content.generation import process_generation_queue
from content.models import Content, ContentGeneration
from platforms.engagement import QUEUE as ENGAGEMENT
from platforms.engagement import process_engagement_queue
from platforms.models import (
    EngagementAction,
    PlatformAccount,
    PublishingHold,
    ScheduledPost,
)
from platforms.publishing import (
    QUEUE,
    _request_for,
    claim_due_posts,
    publish_due_posts,
)
from platforms.services import platform_accounts_resume
from tests import factories as f
from tests.engine import adapters
from tests.engine.conftest import later

pytestmark = pytest.mark.django_db


def sent_then_killed(sp, settings):
    """A worker claims the post, begins, sends it, and is killed before it
    records anything; its lease then runs out."""
    settings.PUBLISH_LEASE_SECONDS = 60
    (item,) = [c for c in claim_due_posts(now=later()) if c.id == sp.pk]
    assert QUEUE.begin(item)
    adapters.BlindSenderAdapter(sp.platform_account).publish(_request_for(sp))


def test_a_post_in_doubt_is_not_sent_again_after_its_account_was_rate_limited(
    due_post, use_adapter, settings
):
    use_adapter("BlindSenderAdapter")
    sp = due_post()
    sent_then_killed(sp, settings)
    PlatformAccount.objects.filter(pk=sp.platform_account_id).update(
        connection_status="rate_limited",
        rate_limit_reset_at=timezone.now() + dt.timedelta(seconds=300),
    )
    publish_due_posts(now=later(120))  # lease over, the account still waits
    sp.refresh_from_db()
    assert sp.status == "processing" and sp.attempt_started_at is not None
    publish_due_posts(now=later(600))  # the limit has passed
    sp.refresh_from_db()
    assert [str(sp.pk)] == adapters.SENT  # once, by the killed worker
    assert sp.status == "failed" and sp.error_message.startswith(
        "Outcome unknown: attempt 1 began at"
    )


def test_a_post_in_doubt_is_not_sent_again_after_credentials_failed_and_resume(
    due_post, use_adapter, settings
):
    use_adapter("BlindSenderAdapter")
    sp = due_post()
    other = due_post(platform_account=sp.platform_account)
    sent_then_killed(sp, settings)
    # the account's credentials fail while the post is in doubt (the second
    # post, waiting in the queue, meets it)
    PlatformAccount.objects.filter(pk=sp.platform_account_id).update(
        connection_status="error", is_connected=False
    )
    publish_due_posts(now=later(120))
    assert [str(sp.pk)] == adapters.SENT
    platform_accounts_resume(
        queryset=PlatformAccount.objects.filter(pk=sp.platform_account_id),
        actor=f.UserFactory(),
    )
    publish_due_posts(now=later(600))
    sp.refresh_from_db()
    other.refresh_from_db()
    assert [str(sp.pk), str(other.pk)] == adapters.SENT
    assert sp.status == "failed" and "Outcome unknown" in sp.error_message
    assert other.status == "published"


def test_a_worker_killed_mid_batch_keeps_the_record_of_every_post_that_went_out(
    due_post, use_adapter, settings
):
    use_adapter("KilledOnThirdAdapter")
    account = f.PlatformAccountFactory()
    posts = [due_post(platform_account=account) for _ in range(5)]
    with pytest.raises(adapters.Killed):
        publish_due_posts(now=later())
    rows = {p.pk: p for p in ScheduledPost.objects.filter(pk__in=[p.pk for p in posts])}
    published = [pk for pk, r in rows.items() if r.status == "published"]
    assert len(published) == 2
    assert set(adapters.SENT[:2]) == {str(pk) for pk in published}
    in_flight = rows[uuid.UUID(adapters.SENT[2])]
    assert in_flight.attempt_started_at is not None  # the journal says so
    untried = [r for r in rows.values() if r.attempt_count == 0]
    assert len(untried) == 2 and all(r.attempt_started_at is None for r in untried)
    # after the lease: the never-tried posts go out, the one in flight is
    # "outcome unknown" (this platform cannot tell), nothing is sent twice
    settings.PLATFORM_ADAPTERS = {"*": "tests.engine.adapters.BlindSenderAdapter"}
    publish_due_posts(now=later(settings.PUBLISH_LEASE_SECONDS + 60))
    statuses = sorted(
        ScheduledPost.objects.filter(pk__in=rows).values_list("status", flat=True)
    )
    assert statuses == ["failed", "published", "published", "published", "published"]
    assert len(adapters.SENT) == len(set(adapters.SENT)) == 5


def test_the_soft_time_limit_gives_back_what_is_not_done_and_writes_nothing_off(
    due_post, use_adapter
):
    use_adapter("SoftLimitOnThirdAdapter")
    account = f.PlatformAccountFactory()
    for _ in range(5):
        due_post(platform_account=account)
    with pytest.raises(SoftTimeLimitExceeded):
        publish_due_posts(now=later())
    rows = list(ScheduledPost.objects.all())
    assert sorted(r.status for r in rows) == ["published"] * 2 + ["scheduled"] * 3
    in_doubt = [r for r in rows if r.attempt_started_at is not None]
    assert [str(r.pk) for r in in_doubt] == [adapters.SENT[2]]
    assert not any(r.status == "failed" for r in rows)
    # the next run (no lease to wait for) reconciles the one in doubt and
    # publishes the two that were never tried
    use_adapter("BlindSenderAdapter")
    assert publish_due_posts(now=later()) == 2
    assert ScheduledPost.objects.filter(status="failed").count() == 1


def test_a_batch_takes_no_post_whose_call_would_not_fit_the_budget(
    due_post, use_adapter
):
    use_adapter("SlowAdapter")  # 0.4 s a call, 1 s at most
    account = f.PlatformAccountFactory()
    for _ in range(8):
        due_post(platform_account=account)
    # 4 s of budget: a post starts only while 1 s + 2 s of margin fit
    published = publish_due_posts(now=later(), time_budget=4.0)
    assert 1 <= published <= 3
    rows = ScheduledPost.objects.exclude(status="published")
    assert rows.count() == 8 - published
    # given back at once: due again, never begun, nothing written off
    assert {(r.status, r.attempt_count, r.locked_until) for r in rows} == {
        ("scheduled", 0, None)
    }
    assert publish_due_posts(now=later(), time_budget=0.5) == 0  # fits nothing


def test_a_missing_media_file_fails_only_its_own_post_with_its_cause(
    due_post, use_adapter, settings
):
    use_adapter("BlindSenderAdapter")
    account = f.PlatformAccountFactory()
    posts = [due_post(platform_account=account) for _ in range(4)]
    broken = posts[1]
    (settings.MEDIA_ROOT / broken.content.file_path).unlink()
    assert publish_due_posts(now=later()) == 3
    broken.refresh_from_db()
    assert broken.status == "failed" and broken.retry_count == 0
    assert broken.error_message == (
        f"Content {broken.content_id}: its media file is missing."
    )
    assert str(broken.pk) not in adapters.SENT


def test_each_call_finds_its_own_attempt_journalled_with_one_statement_a_post(
    due_post, use_adapter
):
    """The journal entry of a batch's next post rides on the record of the
    post before it (one statement, one commit): only the first post of a
    batch begins on its own, and every call still finds its own attempt
    written before it goes out."""
    use_adapter("JournalReadingAdapter")
    adapters.JOURNAL.clear()
    accounts = [f.PlatformAccountFactory() for _ in range(2)]
    posts = [due_post(platform_account=accounts[n % 2]) for n in range(5)]
    with CaptureQueriesContext(connection) as ctx:
        assert publish_due_posts(now=later()) == 5
    begins = [q for q in ctx.captured_queries if 'SET "attempt_started_at"' in q["sql"]]
    assert len(begins) == 1
    # the two accounts' credentials: read together, in one query
    assert sum('"auth_data"' in q["sql"] for q in ctx.captured_queries) == 1
    assert sorted(adapters.JOURNAL) == sorted((str(p.pk), 1, True) for p in posts)
    rows = ScheduledPost.objects.filter(pk__in=[p.pk for p in posts])
    assert {(r.status, r.attempt_count, r.attempt_started_at) for r in rows} == {
        ("published", 1, None)
    }


def test_a_post_refused_after_a_published_one_is_not_begun(
    due_post, use_adapter, monkeypatch
):
    """Only a post that is ready to go out rides on the previous record: one
    that its checks refuse fails on its own, never begun."""
    use_adapter("BlindSenderAdapter")
    account = f.PlatformAccountFactory()
    first, refused, last = (due_post(platform_account=account) for _ in range(3))
    from platforms import publishing

    check = publishing._check

    def refuse_one(sp):
        if sp.pk == refused.pk:
            raise publishing.Refused("Refused for the test.")
        check(sp)

    monkeypatch.setattr(publishing, "_check", refuse_one)
    assert publish_due_posts(now=later()) == 2
    refused.refresh_from_db()
    assert refused.status == "failed" and refused.attempt_count == 0
    assert refused.error_message == "Refused for the test."
    assert set(adapters.SENT) == {str(first.pk), str(last.pk)}


def test_undecryptable_credentials_keep_that_accounts_posts_waiting(
    due_post, use_adapter
):
    use_adapter("CredentialsReadingAdapter")
    good = due_post()
    bad = due_post()
    with connection.cursor() as cursor:  # a wrong key: the bytes do not open
        cursor.execute(
            "UPDATE platform_accounts SET auth_data = %s WHERE id = %s",
            [b"\x80" + b"garbage" * 10, bad.platform_account_id],
        )
    assert publish_due_posts(now=later()) == 1
    bad.refresh_from_db()
    assert bad.status == "scheduled" and bad.attempt_count == 0
    assert bad.attempt_started_at is None and bad.locked_until > timezone.now()
    assert "credentials cannot be decrypted" in bad.error_message
    assert [str(good.pk)] == adapters.SENT
    # the key problem fixed: the post goes out (after its short wait)
    PlatformAccount.objects.filter(pk=bad.platform_account_id).update(
        auth_data={"token": "fixed"}
    )
    assert publish_due_posts(now=later(400)) == 1


def test_an_exception_before_the_call_retries_that_post_with_its_cause(
    due_post, use_adapter, monkeypatch
):
    use_adapter("BlindSenderAdapter")
    account = f.PlatformAccountFactory()
    posts = [due_post(platform_account=account, caption=f"post {n}") for n in range(3)]
    from platforms import publishing

    check = publishing._check

    def buggy(sp):
        if sp.caption == "post 1":
            raise KeyError("hashtag_rules")
        check(sp)

    monkeypatch.setattr(publishing, "_check", buggy)
    assert publish_due_posts(now=later()) == 2
    failed = ScheduledPost.objects.get(pk=posts[1].pk)
    assert (failed.status, failed.retry_count) == ("scheduled", 1)
    assert "KeyError: 'hashtag_rules'" in failed.error_message
    assert failed.attempt_started_at is None and str(failed.pk) not in adapters.SENT


def test_an_exception_during_the_call_is_reconciled_not_resent(due_post, use_adapter):
    use_adapter("RaisingAdapter")
    sp = due_post()
    publish_due_posts(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed" and sp.error_message.startswith(
        "Outcome unknown: ValueError: unexpected answer shape."
    )
    publish_due_posts(now=later(3600))
    assert [str(sp.pk)] == adapters.SENT


def test_an_engagement_action_in_doubt_is_never_performed_twice(settings):
    settings.PUBLISH_LEASE_SECONDS = 60
    action = f.EngagementActionFactory(action_type="comment", comment_text="hi")
    PlatformAccount.objects.filter(pk=action.platform_account_id).update(
        auto_engagement_enabled=True
    )
    (item,) = ENGAGEMENT.claim(limit=5)
    assert ENGAGEMENT.begin(item)  # began, then the worker was killed
    later_now = timezone.now() + dt.timedelta(seconds=120)
    assert process_engagement_queue(now=later_now) == 0
    action.refresh_from_db()
    assert action.status == "failed" and action.error_message.startswith(
        "Outcome unknown: attempt 1 began at"
    )
    assert action.attempt_count == 1  # performed at most once: never again


def test_a_generation_in_doubt_is_counted_as_an_interrupted_attempt(settings):
    settings.GENERATION_LEASE_SECONDS = 60
    job = f.ContentGenerationFactory(max_retries=2)
    (item,) = GENERATIONS.claim(limit=1)
    assert GENERATIONS.begin(item)
    ContentGeneration.objects.filter(pk=job.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert process_generation_queue() == 0
    job.refresh_from_db()
    assert (job.status, job.retry_count) == ("pending", 1)
    assert "attempt 1 began at" in job.error_message
    assert "its worker stopped before saving the result" in job.error_message
    assert (
        job.attempt_started_at is None
        and not Content.objects.filter(
            generation_settings__generation_id=str(job.pk)
        ).exists()
    )


def test_engagement_waits_on_a_publishing_hold():
    from platforms.services import publishing_hold_place

    action = f.EngagementActionFactory(action_type="like")
    PlatformAccount.objects.filter(pk=action.platform_account_id).update(
        auto_engagement_enabled=True
    )
    publishing_hold_place(kind="manual", reason="incident")
    assert process_engagement_queue() == 0
    assert EngagementAction.objects.get(pk=action.pk).status == "pending"


def test_a_restore_hold_stops_publishing_until_a_person_decides(due_post):
    from platforms.services import (
        DuePosts,
        publishing_hold_after_restore,
        publishing_hold_lift,
    )

    due = due_post()
    future = f.ScheduledPostFactory(
        scheduled_at=timezone.now() + dt.timedelta(minutes=30)
    )
    publishing_hold_after_restore(
        filename="default-host-2026-11-29-230000.psql.bin", database_name="default"
    )
    hold = PublishingHold.objects.get()
    assert hold.backup_taken_at == dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC)
    assert publish_due_posts(now=later(3600)) == 0  # nothing goes out
    assert ScheduledPost.objects.get(pk=due.pk).status == "scheduled"
    # the review: the due post may have gone out before the restore: cancel
    assert publishing_hold_lift(hold=hold, due_posts=DuePosts.CANCEL) == 1
    due.refresh_from_db()
    assert due.status == "cancelled" and "review after the restore" in (
        due.error_message
    )
    # posts planned after the restore are published as usual
    assert publish_due_posts(now=later(3600)) == 1
    assert ScheduledPost.objects.get(pk=future.pk).status == "published"


def test_lifting_a_hold_can_keep_the_due_posts_for_publishing(due_post):
    from platforms.services import publishing_hold_lift, publishing_hold_place

    due = due_post()
    hold = publishing_hold_place(kind="restore", reason="restored")
    assert publish_due_posts(now=later()) == 0
    assert publishing_hold_lift(hold=hold) == 0
    assert publish_due_posts(now=later()) == 1
    due.refresh_from_db()
    assert due.status == "published"


def test_stored_credentials_are_decrypted_once_for_the_same_bytes(monkeypatch):
    from platforms import queues

    account = f.PlatformAccountFactory(auth_data={"token": "one"})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT auth_data FROM platform_accounts WHERE id = %s", [account.pk]
        )
        (sealed,) = cursor.fetchone()
    calls = []
    original = queues.AUTH_DATA.from_db_value

    def counted(value, *args):
        calls.append(value)
        return original(value, *args)

    monkeypatch.setattr(queues.AUTH_DATA, "from_db_value", counted)
    queues._decrypted.cache_clear()
    first, second = queues.opened(sealed), queues.opened(sealed)
    assert first == second == {"token": "one"} and first is not second
    assert len(calls) == 1
    account.auth_data = {"token": "two"}  # new credentials: new bytes
    account.save(update_fields=["auth_data"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT auth_data FROM platform_accounts WHERE id = %s", [account.pk]
        )
        (resealed,) = cursor.fetchone()
    assert queues.opened(resealed) == {"token": "two"} and len(calls) == 2
