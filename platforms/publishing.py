"""Publishing the queue of scheduled posts, exactly once.

Built on the queue machine (config/workqueue.py):

1. The claim takes due 'scheduled' rows (idx_sched_posts_scheduled_at) whose
   account can take a post now, then 'processing' rows whose lease ran out,
   and marks them 'processing' under a lease. Nothing is claimed while a
   publishing hold is on (after a restore, or set by staff).
2. Each post on its own:
   - in doubt (an earlier attempt began and recorded no result): reconciled
     first, before any other branch: the adapter's `post_exists` says it went
     out (recorded now), did not (published as new) or cannot tell (failed
     "outcome unknown", naming the attempt and when it began);
   - refused (unapproved content, a media file outside MEDIA_ROOT or missing,
     auto-posting off, disconnected): failed at once, with the reason;
   - the account waits (rate limit, failed credentials, credentials that
     cannot be decrypted): back to 'scheduled', no retry used;
   - otherwise the journal commits the attempt, the adapter is called and the
     result is committed right after the call returns (`_record`): no sent
     post is ever left unrecorded for longer than its own call.
3. The drain stops taking posts when the rest of its time budget cannot fit
   one more call at the adapter's timeout; what it did not start goes back at
   once. One post's failure (a bug, a missing file) stays with that post.

No post is recorded twice: the partial unique index on (platform,
platform_post_id) and the scheduled post's `post` link.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from automation.engine import emit_to, listening_characters
from config.workqueue import (
    INTERRUPTS,
    Claimed,
    Drain,
    WorkQueue,
    backoff_seconds,
    durably,
)
from content.models import Content
from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PlatformAdapter,
    PublishRequest,
    PublishResult,
    RateLimited,
)
from platforms.models import PlatformAccount, Post, PublishingHold, ScheduledPost
from platforms.queues import (
    UNREADABLE_CREDENTIALS_WAIT,
    WAITING_MESSAGE,
    WAITING_STATUSES,
    BatchAccounts,
    CredentialsUnreadable,
    account_credentials_failed,
    account_rate_limited,
    account_ready_q,
    clear_expired_rate_limits,
    why_account_waits,
)

logger = logging.getLogger(__name__)
SP = ScheduledPost.Status
CS = PlatformAccount.ConnectionStatus

QUEUE = WorkQueue(
    ScheduledPost,
    waiting=SP.SCHEDULED,
    processing=SP.PROCESSING,
    order_by=("scheduled_at",),
    lease_seconds=lambda: settings.PUBLISH_LEASE_SECONDS,
    ready=lambda now: Q(scheduled_at__lte=now),
    gate=account_ready_q,
)


class Refused(Exception):
    """This post must not be published at all (fail fast, no retry)."""


def claim_due_posts(*, limit: int = 50, now=None) -> list[Claimed]:
    """Claim up to `limit` due posts for this worker (none while a hold is on)."""
    if PublishingHold.active():
        return []
    return QUEUE.claim(limit=limit, now=now)


def mark_waiting_posts(*, now=None) -> int:
    """Say why due posts of accounts with failed credentials are not moving."""
    now = now or timezone.now()
    changed = 0
    for status in WAITING_STATUSES:
        message = WAITING_MESSAGE.format(status=status)
        changed += (
            ScheduledPost.objects.filter(
                status=SP.SCHEDULED,
                scheduled_at__lte=now,
                platform_account__connection_status=status,
            )
            .exclude(error_message=message)
            .update(error_message=message)
        )
    return changed


def media_file(content: Content) -> Path | None:
    """The content's file, proven inside MEDIA_ROOT (Refused otherwise)."""
    if not content.file_path:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / content.file_path).resolve()
    if not path.is_relative_to(root):
        raise Refused(
            f"Content {content.pk}: its file path leaves the media folder; "
            "only files under MEDIA_ROOT are published."
        )
    if not path.is_file():
        raise Refused(f"Content {content.pk}: its media file is missing.")
    return path


def _request_for(sp: ScheduledPost, *, media: bool = True) -> PublishRequest:
    """What the adapter is asked to publish; `media=False` leaves the file out
    (reconciliation looks a post up, it never sends the file)."""
    media_path = media_type = None
    if sp.content is not None:
        media_type = sp.content.content_type
        path = media_file(sp.content) if media else None
        media_path = str(path) if path else None
    return PublishRequest(
        marker=str(sp.pk),
        caption=sp.caption or "",
        hashtags=list(sp.hashtags or []),
        post_type=sp.post_type,
        media_path=media_path,
        media_type=media_type,
        attempt=sp.attempt_count + 1,
    )


def _check(sp: ScheduledPost) -> None:
    """Raise Refused when this post must not be published at all."""
    account = sp.platform_account
    if sp.content_id is None and not (sp.caption or "").strip():
        raise Refused("Nothing to publish: no content and no caption.")
    if sp.content is not None and not (
        sp.content.is_approved
        and sp.content.approval_status == Content.ApprovalStatus.APPROVED
    ):
        raise Refused(
            f"Content {sp.content_id} is not approved "
            f"({sp.content.approval_status}); only approved content is published."
        )
    if not account.auto_posting_enabled:
        raise Refused("Auto-posting is disabled on this account.")
    if account.connection_status == CS.DISCONNECTED:
        raise Refused("The account is disconnected; connect it, then retry the post.")


class _Batch:
    """The rows of one claimed batch, loaded together, published one by one."""

    def __init__(self, items: list[Claimed]):
        self.rows = {
            sp.pk: sp
            for sp in ScheduledPost.objects.select_related(
                "platform_account", "content"
            )
            # decrypted per account when its adapter is made (BatchAccounts)
            .defer("platform_account__auth_data")
            .filter(pk__in=[c.id for c in items], status=SP.PROCESSING)
        }
        self.accounts = BatchAccounts()
        self.listening = listening_characters(
            "post_published", {sp.character_id for sp in self.rows.values()}
        )

    def __call__(self, item: Claimed) -> str:
        sp = self.rows.get(item.id)
        if sp is None or sp.locked_until != item.lease:
            return "skipped"  # cancelled or taken over meanwhile
        sp.platform_account = self.accounts.account(sp.platform_account)
        return _Attempt(self, sp, item).run()

    def call_timeout(self, item: Claimed) -> float:
        sp = self.rows.get(item.id)
        return self.accounts.call_timeout(sp.platform_account) if sp else 0.0


class _Attempt:
    """One post: reconcile, check, journal, call, record."""

    def __init__(self, batch: _Batch, sp: ScheduledPost, item: Claimed):
        self.batch, self.sp, self.item = batch, sp, item
        self.account = sp.platform_account

    def run(self) -> str:
        sp, item = self.sp, self.item
        if sp.post_id is not None:
            QUEUE.finish(
                item,
                status=SP.PUBLISHED,
                published_at=sp.published_at or timezone.now(),
            )
            return "published"
        waits = why_account_waits(self.account, timezone.now())
        if waits:
            # the batch met a rate limit or a credential failure on this
            # account after the claim: wait; an attempt in doubt stays so
            QUEUE.put_back(item, settled=False, error_message=waits)
            return "waiting"
        try:
            adapter = self.batch.accounts.adapter(self.account)
        except CredentialsUnreadable as exc:
            logger.error("scheduled post %s waits: %s", sp.pk, exc)
            QUEUE.put_back(
                item,
                settled=False,
                not_before=timezone.now() + UNREADABLE_CREDENTIALS_WAIT,
                error_message=f"Waiting: {exc}",
            )
            return "waiting"
        if item.in_doubt_since is not None:
            outcome = self._reconcile(adapter)
            if outcome is not None:
                return outcome
        try:
            _check(sp)
            request = _request_for(sp)
        except Refused as exc:
            return self._fail(str(exc))
        if not QUEUE.begin(item):
            return "skipped"
        started = timezone.now()
        try:
            result = adapter.publish(request)
        except RateLimited as exc:
            return self._wait(account_rate_limited(self.account, exc))
        except CredentialsRejected as exc:
            return self._wait(account_credentials_failed(self.account, exc))
        except OutcomeUnknown as exc:
            return self._unknown(adapter, request, started, exc.message)
        except AdapterError as exc:
            if exc.retryable:
                return self._retry(exc.message)
            return self._fail(exc.message)
        except INTERRUPTS:
            raise  # the drain gives the row back, still in doubt
        except Exception as exc:  # noqa: BLE001 - raised mid-call: it may have gone out
            logger.exception("publishing scheduled post %s raised", sp.pk)
            return self._unknown(
                adapter, request, started, f"{type(exc).__name__}: {exc}"
            )
        return self._record(result)

    # --- branches -------------------------------------------------------------

    def _reconcile(self, adapter: PlatformAdapter) -> str | None:
        """An earlier attempt began and recorded nothing: did it go out?"""
        started = self.item.in_doubt_since
        try:
            existing = adapter.post_exists(
                _request_for(self.sp, media=False), since=started
            )
        except RateLimited as exc:
            return self._wait(account_rate_limited(self.account, exc), settled=False)
        except CredentialsRejected as exc:
            return self._wait(
                account_credentials_failed(self.account, exc), settled=False
            )
        if isinstance(existing, PublishResult):
            return self._record(existing)
        if existing is None:
            return self._fail(
                f"Outcome unknown: attempt {self.item.attempts} began at "
                f"{started:%Y-%m-%d %H:%M:%S} UTC and its worker stopped before "
                "recording the answer; the platform cannot tell whether the post "
                "went out. Check the account, then retry or cancel."
            )
        return None  # it did not go out: publish it as new

    def _unknown(self, adapter, request, started, cause: str) -> str:
        try:
            existing = adapter.post_exists(request, since=started)
        except AdapterError:
            existing = None
        if isinstance(existing, PublishResult):
            return self._record(existing)
        if existing is False:
            return self._retry(cause)
        return self._fail(
            f"Outcome unknown: {cause}. Attempt {self.sp.attempt_count + 1} began at "
            f"{started:%Y-%m-%d %H:%M:%S} UTC; the platform cannot tell whether the "
            "post went out. Check the account, then retry or cancel."
        )

    def _wait(self, message: str, *, settled: bool = True) -> str:
        # back in the queue as it was: no retry used
        QUEUE.put_back(self.item, settled=settled, error_message=message[:2000])
        return "waiting"

    def _fail(self, message: str) -> str:
        QUEUE.finish(self.item, status=SP.FAILED, error_message=message[:2000])
        logger.warning("scheduled post %s failed: %s", self.sp.pk, message)
        return "failed"

    def _retry(self, message: str) -> str:
        return retry(self.sp, self.item, message)

    def _record(self, result: PublishResult) -> str:
        durably(lambda: _record(self.sp, result, self.batch.listening))
        logger.info(
            "published scheduled post %s as %s", self.sp.pk, result.platform_post_id
        )
        return "published"


def retry(sp: ScheduledPost, item: Claimed, message: str) -> str:
    """Try again after a backoff ("not before" in locked_until), or give up."""
    attempt = sp.retry_count + 1
    if attempt > sp.max_retries:
        QUEUE.finish(
            item,
            status=SP.FAILED,
            error_message=f"Gave up after {sp.max_retries} retries: {message}"[:2000],
        )
        logger.warning("scheduled post %s failed after retries: %s", sp.pk, message)
        return "failed"
    delay = backoff_seconds(
        attempt,
        base=settings.PUBLISH_RETRY_BASE_SECONDS,
        most=settings.PUBLISH_RETRY_MAX_SECONDS,
    )
    QUEUE.put_back(
        item,
        not_before=timezone.now() + dt.timedelta(seconds=delay),
        retry_count=attempt,
        error_message=f"Attempt {attempt} failed, retrying in {delay} s: {message}"[
            :2000
        ],
    )
    return "retry"


def _post_for(sp: ScheduledPost, result: PublishResult, now) -> Post:
    account = sp.platform_account
    return Post(
        character_id=sp.character_id,
        platform_account=account,
        platform=account.platform,
        post_type=sp.post_type,
        platform_post_id=result.platform_post_id,
        platform_post_url=result.url,
        content_id=sp.content_id,
        additional_content_ids=sp.additional_content_ids,
        caption=sp.caption,
        hashtags=sp.hashtags,
        status=Post.Status.PUBLISHED,
        published_at=now,
    )


def _record(sp: ScheduledPost, result: PublishResult, listening: set) -> None:
    """Record a post that went out, in one transaction.

    Written whoever holds the lease now: the post did go out, so the truth
    wins over a later "outcome unknown". The only condition is that the
    scheduled post has no posts row yet.
    """
    now = timezone.now()
    account = sp.platform_account
    post = _post_for(sp, result, now)
    try:
        with transaction.atomic():
            post.save(force_insert=True)
            if not _link(sp, post, now):
                # recorded meanwhile by another worker: keep the first record
                transaction.set_rollback(True)
                return
            if sp.content_id:
                Content.objects.filter(pk=sp.content_id).update(
                    times_used=F("times_used") + 1, last_used_at=now
                )
            PlatformAccount.objects.filter(pk=account.pk).update(
                last_activity_at=now, post_count=F("post_count") + 1
            )
            if sp.character_id in listening:
                emit_to("post_published", sp.character_id, {"post_id": str(post.pk)})
    except IntegrityError:
        # the platform gave an id we recorded already (it deduplicated our
        # request): link this scheduled post to that posts row
        with transaction.atomic():
            existing = Post.objects.filter(
                platform=account.platform, platform_post_id=result.platform_post_id
            ).first()
            _link(sp, existing, now)


def _link(sp: ScheduledPost, post: Post | None, now) -> bool:
    return (
        ScheduledPost.objects.filter(pk=sp.pk, post__isnull=True).update(
            status=SP.PUBLISHED,
            published_at=now,
            locked_until=None,
            attempt_started_at=None,
            error_message=None,
            post=post,
        )
        == 1
    )


def _on_error(item: Claimed, exc: BaseException) -> str:
    """An unexpected exception before the call: this post only, real cause kept."""
    sp = ScheduledPost.objects.filter(pk=item.id).first()
    if sp is None:
        return "skipped"
    cause = f"{type(exc).__name__}: {exc}"
    if sp.attempt_started_at is not None:
        # it may have gone out: keep it in doubt; the next claim reconciles
        QUEUE.put_back(
            item,
            settled=False,
            not_before=timezone.now()
            + dt.timedelta(seconds=settings.PUBLISH_RETRY_BASE_SECONDS),
            error_message=f"Interrupted: {cause}"[:2000],
        )
        return "waiting"
    return retry(sp, item, cause)


def publish_due_posts(*, batch: int = 50, time_budget: float = 50.0, now=None) -> int:
    """Claim and publish due posts until none are left or the budget is spent."""
    return drain_publishing(batch=batch, time_budget=time_budget, now=now)["published"]


def drain_publishing(
    *, batch: int = 50, time_budget: float = 50.0, now=None
) -> Counter:
    clear_expired_rate_limits(now=now)
    mark_waiting_posts(now=now)
    if PublishingHold.active():
        return Counter(held=1)
    return Drain(
        QUEUE,
        budget=time_budget,
        batch=batch,
        prepare=_Batch,
        on_error=_on_error,
        now=now,
    ).run()
