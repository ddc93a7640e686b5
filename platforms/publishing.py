"""Publishing the queue of scheduled posts, exactly once.

1. `claim_due_posts` takes due rows with SELECT ... FOR UPDATE SKIP LOCKED
   (through idx_sched_posts_scheduled_at), plus 'processing' rows whose lease
   ran out, and marks them 'processing' with a lease, in one short transaction.
2. `publish_scheduled_post` publishes one claimed row through the account's
   adapter and records the result in one transaction.

No post is recorded twice (the partial unique index on (platform,
platform_post_id) and the scheduled post's `post` link) and none is sent twice:
a row whose earlier attempt may have gone out (expired lease, timeout) is only
retried after the adapter confirms the post does not exist; when the platform
cannot tell, the row fails with an 'outcome unknown' message for a person.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from automation.engine import emit
from content.models import Content
from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PublishRequest,
    PublishResult,
    RateLimited,
    assisted_platforms,
    get_adapter,
)
from platforms.models import PlatformAccount, Post, ScheduledPost

logger = logging.getLogger(__name__)
SP = ScheduledPost.Status
CS = PlatformAccount.ConnectionStatus

# Credential failures: the account's due posts wait (no retries burned) until
# staff reconnect it and resume (platforms.services.platform_accounts_resume).
WAITING_STATUSES = (CS.ERROR, CS.SUSPENDED)
WAITING_MESSAGE = (
    "Waiting: the account's credentials failed ({status}). Reconnect the account, "
    "then use 'Resume publishing' on it."
)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    # the previous attempt may have reached the platform (expired lease)
    reclaimed: bool


def _publishable_accounts_q(now) -> Q:
    """Rows whose account can take a post now: not rate-limited, not waiting."""
    return (
        ~Q(platform_account__connection_status__in=WAITING_STATUSES)
        & ~Q(
            platform_account__connection_status=CS.RATE_LIMITED,
            platform_account__rate_limit_reset_at__gt=now,
        )
        # no adapter: a person publishes these (assisted publishing)
        & ~Q(platform_account__platform__in=assisted_platforms())
    )


def claim_due_posts(*, limit: int = 50, now=None, lease_seconds: int | None = None):
    """Claim up to `limit` due posts for this worker; returns [Claimed]."""
    now = now or timezone.now()
    lease = dt.timedelta(seconds=lease_seconds or settings.PUBLISH_LEASE_SECONDS)
    with transaction.atomic():
        due = list(
            ScheduledPost.objects.filter(status=SP.SCHEDULED, scheduled_at__lte=now)
            .filter(_publishable_accounts_q(now))
            .order_by("scheduled_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        expired = []
        if len(due) < limit:
            # a worker died mid-publish: its lease ran out
            expired = list(
                ScheduledPost.objects.filter(status=SP.PROCESSING, locked_until__lt=now)
                .order_by("locked_until")
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[: limit - len(due)]
            )
        ids = due + expired
        if ids:
            ScheduledPost.objects.filter(pk__in=ids).update(
                status=SP.PROCESSING, locked_until=now + lease
            )
    return [Claimed(pk, False) for pk in due] + [Claimed(pk, True) for pk in expired]


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


def _request_for(sp: ScheduledPost) -> PublishRequest:
    media_path = media_type = None
    if sp.content is not None:
        media_type = sp.content.content_type
        if sp.content.file_path:
            media_path = str(Path(settings.MEDIA_ROOT) / sp.content.file_path)
    return PublishRequest(
        marker=str(sp.pk),
        caption=sp.caption or "",
        hashtags=list(sp.hashtags or []),
        post_type=sp.post_type,
        media_path=media_path,
        media_type=media_type,
    )


def _refusal(sp: ScheduledPost) -> str | None:
    """Why this post must not be published at all (fail fast, no retry)."""
    account = sp.platform_account
    if sp.content_id is None and not (sp.caption or "").strip():
        return "Nothing to publish: no content and no caption."
    if sp.content is not None and not (
        sp.content.is_approved
        and sp.content.approval_status == Content.ApprovalStatus.APPROVED
    ):
        return f"Content {sp.content_id} is not approved ({sp.content.approval_status}); only approved content is published."
    if not account.auto_posting_enabled:
        return "Auto-posting is disabled on this account."
    if account.connection_status == CS.DISCONNECTED:
        return "The account is disconnected; connect it, then retry the post."
    return None


def publish_scheduled_post(claimed: Claimed, *, now=None) -> str:
    """Publish one claimed post. Returns the outcome: published, retry, failed, waiting, skipped."""
    outcomes = +publish_claimed([claimed])  # unary +: drops zero counts
    return next(iter(outcomes), "skipped")


def publish_claimed(claimed: list[Claimed]) -> Counter:
    """Publish a batch of claimed posts; returns the count of each outcome.

    One query loads the batch; each post goes through its adapter on its own;
    the successes are recorded together in one transaction (a handful of
    set-based statements for the whole batch).
    """
    rows = {
        sp.pk: sp
        for sp in ScheduledPost.objects.select_related(
            "platform_account", "content"
        ).filter(pk__in=[c.id for c in claimed], status=SP.PROCESSING)
    }
    accounts: dict = {}
    adapters: dict = {}
    outcomes: Counter = Counter()
    successes: list[tuple[ScheduledPost, PublishResult]] = []
    for item in claimed:
        sp = rows.get(item.id)
        if sp is None:
            outcomes["skipped"] += 1  # cancelled or taken over meanwhile
            continue
        # one account object per batch: a rate limit or a credential failure
        # met by one post is seen by the next posts of the same account
        sp.platform_account = accounts.setdefault(
            sp.platform_account_id, sp.platform_account
        )
        outcome = _attempt(sp, item, adapters)
        if isinstance(outcome, PublishResult):
            successes.append((sp, outcome))
            continue
        outcomes[outcome] += 1
        if outcome == "waiting":
            accounts[sp.platform_account_id] = PlatformAccount.objects.get(
                pk=sp.platform_account_id
            )
    outcomes["published"] += _record_successes(successes)
    return outcomes


def _attempt(sp: ScheduledPost, claimed: Claimed, adapters: dict):
    """Try one post: a PublishResult to record, or the outcome already written."""
    if sp.post_id is not None:
        _finish(sp, status=SP.PUBLISHED, published_at=sp.published_at or timezone.now())
        return "published"
    account = sp.platform_account
    # the account may have changed since the claim (another post of the same
    # batch hit a rate limit or a credential failure): wait, no retry used
    if account.connection_status in WAITING_STATUSES:
        _finish(
            sp,
            status=SP.SCHEDULED,
            error_message=WAITING_MESSAGE.format(status=account.connection_status),
        )
        return "waiting"
    if account.connection_status == CS.RATE_LIMITED and (
        account.rate_limit_reset_at and account.rate_limit_reset_at > timezone.now()
    ):
        _finish(
            sp,
            status=SP.SCHEDULED,
            error_message=(
                f"Rate limited by {account.platform} until "
                f"{account.rate_limit_reset_at:%H:%M:%S} UTC."
            ),
        )
        return "waiting"
    reason = _refusal(sp)
    if reason:
        _fail(sp, reason)
        return "failed"
    adapter = adapters.get(sp.platform_account_id)
    if adapter is None:
        adapter = adapters[sp.platform_account_id] = get_adapter(sp.platform_account)
    if claimed.reclaimed:
        existing = adapter.post_exists(_request_for(sp), since=sp.updated_at)
        if existing is None:
            _fail(
                sp,
                "Outcome unknown: a worker stopped while publishing and the platform "
                "cannot tell whether the post went out. Check the account, then retry "
                "or cancel.",
            )
            return "failed"
        if existing:
            return existing
    try:
        result = adapter.publish(_request_for(sp))
    except RateLimited as exc:
        _rate_limited(sp, exc)
        return "waiting"
    except CredentialsRejected as exc:
        _credentials_failed(sp, exc)
        return "waiting"
    except OutcomeUnknown as exc:
        existing = adapter.post_exists(_request_for(sp), since=sp.updated_at)
        if existing:
            return existing
        if existing is None:
            _fail(
                sp,
                f"Outcome unknown: {exc.message}. The platform cannot tell whether "
                "the post went out; check the account, then retry or cancel.",
            )
            return "failed"
        return _retry(sp, exc.message)
    except AdapterError as exc:
        if exc.retryable:
            return _retry(sp, exc.message)
        _fail(sp, exc.message)
        return "failed"
    return result


def _record_successes(successes: list[tuple[ScheduledPost, PublishResult]]) -> int:
    """Record a batch of successes in one transaction; one by one if that fails."""
    if len(successes) <= 1:
        return sum(
            _record_success(sp, result) == "published" for sp, result in successes
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            posts = Post.objects.bulk_create(
                [_post_for(sp, result, now) for sp, result in successes]
            )
            ScheduledPost.objects.filter(pk__in=[sp.pk for sp, _ in successes]).update(
                status=SP.PUBLISHED,
                published_at=now,
                locked_until=None,
                error_message=None,
                post=Case(
                    *(
                        When(pk=sp.pk, then=Value(post.pk))
                        for (sp, _), post in zip(successes, posts, strict=True)
                    )
                ),
            )
            uses = Counter(sp.content_id for sp, _ in successes if sp.content_id)
            if uses:
                Content.objects.filter(pk__in=list(uses)).update(
                    times_used=F("times_used")
                    + Case(*(When(pk=pk, then=Value(n)) for pk, n in uses.items())),
                    last_used_at=now,
                )
            per_account = Counter(sp.platform_account_id for sp, _ in successes)
            PlatformAccount.objects.filter(pk__in=list(per_account)).update(
                last_activity_at=now,
                post_count=F("post_count")
                + Case(*(When(pk=pk, then=Value(n)) for pk, n in per_account.items())),
            )
            emit(
                "post_published",
                {
                    sp.character_id: {"post_id": str(post.pk)}
                    for (sp, _), post in zip(successes, posts, strict=True)
                },
            )
    except IntegrityError:
        # a platform post recorded already (lease overlap): the partial unique
        # index refused the batch; record each one, duplicates resolved singly
        return sum(
            _record_success(sp, result) == "published" for sp, result in successes
        )
    logger.info("published %d scheduled posts", len(successes))
    return len(successes)


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


def _record_success(sp: ScheduledPost, result: PublishResult) -> str:
    now = timezone.now()
    account = sp.platform_account
    try:
        with transaction.atomic():
            post = _post_for(sp, result, now)
            post.save(force_insert=True)
            ScheduledPost.objects.filter(pk=sp.pk).update(
                status=SP.PUBLISHED,
                published_at=now,
                locked_until=None,
                error_message=None,
                post=post,
            )
            if sp.content_id:
                Content.objects.filter(pk=sp.content_id).update(
                    times_used=F("times_used") + 1, last_used_at=now
                )
            PlatformAccount.objects.filter(pk=account.pk).update(
                last_activity_at=now, post_count=F("post_count") + 1
            )
            emit(
                "post_published",
                {sp.character_id: {"post_id": str(post.pk)}},
            )
    except IntegrityError:
        # Another worker recorded this platform post already (lease overlap):
        # the partial unique index refused the duplicate.
        existing = Post.objects.filter(
            platform=account.platform, platform_post_id=result.platform_post_id
        ).first()
        _finish(sp, status=SP.PUBLISHED, published_at=now, post=existing)
    logger.info("published scheduled post %s as %s", sp.pk, result.platform_post_id)
    return "published"


def _finish(sp: ScheduledPost, **changes) -> None:
    ScheduledPost.objects.filter(pk=sp.pk).update(locked_until=None, **changes)


def _fail(sp: ScheduledPost, message: str) -> None:
    _finish(sp, status=SP.FAILED, error_message=message[:2000])
    logger.warning("scheduled post %s failed: %s", sp.pk, message)


def _retry(sp: ScheduledPost, message: str) -> str:
    attempt = sp.retry_count + 1
    if attempt > sp.max_retries:
        _finish(
            sp,
            status=SP.FAILED,
            retry_count=attempt - 1,
            error_message=f"Gave up after {sp.max_retries} retries: {message}"[:2000],
        )
        logger.warning("scheduled post %s failed after retries: %s", sp.pk, message)
        return "failed"
    delay = min(
        settings.PUBLISH_RETRY_MAX_SECONDS,
        settings.PUBLISH_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
    )
    # moving scheduled_at later keeps the CHECK (>= created_at) and the claim
    # index; the original time is in the audit trail of the first attempt
    _finish(
        sp,
        status=SP.SCHEDULED,
        retry_count=attempt,
        scheduled_at=timezone.now() + dt.timedelta(seconds=delay),
        error_message=f"Attempt {attempt} failed, retrying in {delay} s: {message}"[
            :2000
        ],
    )
    return "retry"


def _rate_limited(sp: ScheduledPost, exc: RateLimited) -> None:
    now = timezone.now()
    reset = now + dt.timedelta(seconds=exc.retry_after)
    PlatformAccount.objects.filter(pk=sp.platform_account_id).update(
        connection_status=CS.RATE_LIMITED,
        rate_limit_reset_at=reset,
        last_rate_limit_hit_at=now,
        rate_limit_remaining=0,
    )
    # back in the queue as it was: no retry used
    _finish(
        sp,
        status=SP.SCHEDULED,
        error_message=f"Rate limited by {sp.platform_account.platform} until {reset:%H:%M:%S} UTC.",
    )


def _credentials_failed(sp: ScheduledPost, exc: CredentialsRejected) -> None:
    PlatformAccount.objects.filter(pk=sp.platform_account_id).update(
        connection_status=CS.ERROR, is_connected=False
    )
    _finish(
        sp,
        status=SP.SCHEDULED,
        error_message=WAITING_MESSAGE.format(status=CS.ERROR) + f" ({exc.message})",
    )
    logger.warning(
        "credentials of platform account %s were refused: %s",
        sp.platform_account_id,
        exc.message,
    )


def clear_expired_rate_limits(*, now=None) -> int:
    """Accounts whose rate-limit window has passed are connected again."""
    now = now or timezone.now()
    return PlatformAccount.objects.filter(
        connection_status=CS.RATE_LIMITED, rate_limit_reset_at__lte=now
    ).update(connection_status=CS.CONNECTED, rate_limit_remaining=None)


def publish_due_posts(*, batch: int = 50, time_budget: float = 50.0, now=None) -> int:
    """Claim and publish due posts until none are left or the budget is spent."""
    import time

    deadline = time.monotonic() + time_budget
    clear_expired_rate_limits(now=now)
    mark_waiting_posts(now=now)
    published = 0
    while time.monotonic() < deadline:
        claimed = claim_due_posts(limit=batch, now=now)
        if not claimed:
            break
        published += publish_claimed(claimed)["published"]
    return published
