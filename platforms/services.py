"""Writes on accounts, the publishing queue and engagement actions (staff/API)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.fields import validate_timezone
from config.transitions import transition
from logs.models import SystemLog
from logs.services import Actor, actor_metadata, actor_user, system_log_write
from platforms.adapters import get_adapter
from platforms.models import (
    EngagementAction,
    PlatformAccount,
    Post,
    PublishingHold,
    ScheduledPost,
)

COMPONENT = "platform_service"
SP = ScheduledPost.Status
EA = EngagementAction.Status
CS = PlatformAccount.ConnectionStatus


# A time "now" typed by a person is a few seconds old when it arrives.
PAST_GRACE = dt.timedelta(minutes=1)


def scheduled_post_problems(
    posts: Sequence[ScheduledPost], *, now: dt.datetime | None = None
) -> list[dict[str, list[str]]]:
    """What each of these unsaved posts breaks, as {field: [messages]} ({}:
    nothing). The rules every new scheduled post meets: a character whose
    account it is, content of that character and approved, what the platform
    accepts (its adapter's rules; ScheduledPost.clean), a known time zone and
    a planned time with its zone, not in the past."""
    now = now or timezone.now()
    found = []
    for post in posts:
        errors: dict[str, list[str]] = defaultdict(list)
        if not post.character_id:
            errors["character"].append("Choose the character the post is for.")
        when = post.scheduled_at
        if when is None or timezone.is_naive(when):
            errors["scheduled_at"].append("Give the planned time with its time zone.")
        elif when < now - PAST_GRACE:
            errors["scheduled_at"].append("Choose a time in the future.")
        try:
            validate_timezone(post.timezone)
        except ValidationError as exc:
            errors["timezone"].extend(exc.messages)
        try:
            post.clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors[name].extend(messages)
        found.append(dict(errors))
    return found


def scheduled_posts_create(
    *, posts: Sequence[ScheduledPost], now: dt.datetime | None = None
) -> list[ScheduledPost]:
    """Schedule these unsaved posts, all or none, in one INSERT.

    The one way a scheduled post is created (the automation engine's runs,
    the admin, the API, the composer); the rules are `scheduled_post_problems`.
    Raises ValidationError: one post's {field: [messages]}, or for several
    {"posts": [messages naming the account]} (ask `scheduled_post_problems`
    first to show them per post).
    """
    now = now or timezone.now()
    problems = scheduled_post_problems(posts, now=now)
    if any(problems):
        if len(posts) == 1:
            raise ValidationError(problems[0])
        raise ValidationError(
            {
                "posts": [
                    f"{post.platform_account}: {message}"
                    for post, found in zip(posts, problems, strict=True)
                    for messages in found.values()
                    for message in messages
                ]
            }
        )
    for post in posts:
        post.status = SP.SCHEDULED
        # scheduled_at >= created_at holds for a time a little in the past too
        post.created_at = min(now, post.scheduled_at)
    return ScheduledPost.objects.bulk_create(posts)


def scheduled_posts_cancel(
    *, queryset: QuerySet[ScheduledPost], actor: Actor = None
) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[SP.SCHEDULED, SP.FAILED],
        changes={"status": SP.CANCELLED, "locked_until": None},
        actor=actor,
        component=COMPONENT,
        message="Scheduled post cancelled",
    )


def scheduled_posts_reschedule(
    *, queryset: QuerySet[ScheduledPost], scheduled_at: dt.datetime, actor: Actor = None
) -> int:
    if timezone.is_naive(scheduled_at):
        raise ValueError("scheduled_at needs a time zone.")
    return transition(
        queryset=queryset,
        allowed_from=[SP.SCHEDULED, SP.FAILED, SP.CANCELLED],
        changes={
            "status": SP.SCHEDULED,
            "scheduled_at": scheduled_at,
            "error_message": None,
            "locked_until": None,
        },
        actor=actor,
        component=COMPONENT,
        message=f"Scheduled post rescheduled to {scheduled_at.isoformat()}",
    )


def scheduled_posts_publish_now(
    *, queryset: QuerySet[ScheduledPost], actor: Actor = None
) -> int:
    """Make waiting posts due now (a retry's backoff too); the publisher takes
    them on its next tick."""
    return transition(
        queryset=queryset,
        allowed_from=[SP.SCHEDULED],
        changes={"scheduled_at": timezone.now(), "locked_until": None},
        actor=actor,
        component=COMPONENT,
        message="Scheduled post set to publish now",
    )


def scheduled_posts_retry(
    *, queryset: QuerySet[ScheduledPost], actor: Actor = None
) -> int:
    """Failed posts back in the queue, due now, with their retries reset."""
    return transition(
        queryset=queryset,
        allowed_from=[SP.FAILED],
        changes={
            "status": SP.SCHEDULED,
            "scheduled_at": timezone.now(),
            "retry_count": 0,
            "error_message": None,
            "locked_until": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Failed scheduled post queued again",
    )


def engagement_actions_cancel(
    *, queryset: QuerySet[EngagementAction], actor: Actor = None
) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[EA.PENDING],
        changes={"status": EA.CANCELLED},
        actor=actor,
        component=COMPONENT,
        message="Engagement action cancelled",
    )


def engagement_actions_retry(
    *, queryset: QuerySet[EngagementAction], actor: Actor = None
) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[EA.FAILED, EA.CANCELLED],
        changes={
            "status": EA.PENDING,
            "retry_count": 0,
            "error_message": None,
            "locked_until": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Engagement action queued again",
    )


def platform_accounts_disconnect(
    *, queryset: QuerySet[PlatformAccount], actor: Actor = None
) -> int:
    return transition(
        queryset=queryset,
        field="connection_status",
        allowed_from=[s for s in CS.values if s != CS.DISCONNECTED],
        changes={"connection_status": CS.DISCONNECTED, "is_connected": False},
        actor=actor,
        component=COMPONENT,
        message="Platform account disconnected",
    )


def platform_accounts_mark_resync(
    *, queryset: QuerySet[PlatformAccount], actor: Actor = None
) -> int:
    """Forget the last sync so the next stats sync takes these accounts first."""
    return transition(
        queryset=queryset,
        field="connection_status",
        allowed_from=CS.values,
        changes={"last_synced_at": None},
        actor=actor,
        component=COMPONENT,
        message="Platform account marked for re-sync",
    )


@transaction.atomic
def platform_account_set_credentials(
    *, account: PlatformAccount, auth_data: dict | None, actor: Actor = None
) -> PlatformAccount:
    """Replace an account's credentials and write an audit row (never the secret)."""
    account.auth_data = auth_data
    account.save(update_fields=["auth_data", "updated_at"])
    system_log_write(
        level=SystemLog.Level.INFO,
        component="credentials",
        message="Platform account credentials replaced"
        if auth_data
        else "Platform account credentials cleared",
        character_id=account.character_id,
        platform_account_id=account.pk,
        metadata={
            "by": actor_metadata(actor),
            "keys": sorted(auth_data) if isinstance(auth_data, dict) else [],
        },
    )
    return account


def platform_accounts_resume(
    *, queryset: QuerySet[PlatformAccount], actor: Actor = None
) -> int:
    """Reconnect accounts whose credentials failed and let their posts move again.

    Their waiting scheduled posts keep their place in the queue (no retry was
    used); posts that failed meanwhile are queued again.
    """
    with transaction.atomic():
        ids = list(
            queryset.exclude(connection_status=CS.CONNECTED).values_list(
                "pk", flat=True
            )
        )
        changed = transition(
            queryset=PlatformAccount.objects.filter(pk__in=ids),
            field="connection_status",
            allowed_from=[s for s in CS.values if s != CS.CONNECTED],
            changes={"connection_status": CS.CONNECTED, "is_connected": True},
            actor=actor,
            component=COMPONENT,
            message="Platform account reconnected; publishing resumed",
        )
        ScheduledPost.objects.filter(
            platform_account_id__in=ids, status=SP.SCHEDULED
        ).update(error_message=None)
        # posts that failed because of the account go back in the queue; a
        # post whose outcome is unknown stays failed for a person to decide
        ScheduledPost.objects.filter(
            platform_account_id__in=ids, status=SP.FAILED
        ).exclude(error_message__startswith="Outcome unknown").update(
            status=SP.SCHEDULED,
            scheduled_at=timezone.now(),
            retry_count=0,
            error_message=None,
            locked_until=None,
        )
        EngagementAction.objects.filter(
            platform_account_id__in=ids, status=EA.PENDING
        ).update(error_message=None)
    return changed


def post_take_down(*, post: Post, actor: Actor = None) -> bool:
    """Delete a post on its platform and mark the row 'deleted' (kept: its
    metrics stay in the history). Returns False when it was deleted already.

    Raises AdapterError when the platform refuses or cannot be reached; the
    row is then left as it was.
    """
    if post.status == Post.Status.DELETED:
        return False
    if post.status == Post.Status.PUBLISHED and post.platform_post_id:
        account = PlatformAccount.objects.get(pk=post.platform_account_id)
        get_adapter(account).delete(post.platform_post_id)
    return bool(
        transition(
            queryset=Post.objects.filter(pk=post.pk),
            allowed_from=[s for s in Post.Status.values if s != Post.Status.DELETED],
            changes={"status": Post.Status.DELETED},
            actor=actor,
            component=COMPONENT,
            message="Post deleted (taken down on the platform)"
            if post.platform_post_id
            else "Post deleted",
        )
    )


def publishing_hold_place(
    *,
    kind: str,
    reason: str,
    backup_taken_at: dt.datetime | None = None,
    actor: Actor = None,
    using: str = "default",
) -> PublishingHold:
    """Stop everything that sends (posts, engagement) until staff lift it."""
    with transaction.atomic(using=using):
        hold = PublishingHold.objects.using(using).create(
            kind=kind,
            reason=reason,
            backup_taken_at=backup_taken_at,
            created_by=actor_user(actor),
        )
        SystemLog.objects.using(using).create(
            log_level=SystemLog.Level.WARNING,
            component=COMPONENT,
            message=f"Publishing on hold: {reason}"[:2000],
            metadata={"hold_id": str(hold.pk), "by": actor_metadata(actor)},
        )
    return hold


def publishing_hold_after_restore(
    sender: object = None,
    *,
    database_name: str | None = None,
    filename: str | None = None,
    **kwargs: Any,
) -> None:
    """dbbackup `post_restore` receiver: the restored database starts on hold.

    Posts published between the backup and the restore come back as due; none
    goes out again before a person has looked at them.
    """
    from dbbackup import utils

    try:
        taken = utils.filename_to_date(filename) if filename else None
    except ValueError:
        taken = None
    if taken is not None and timezone.is_naive(taken):
        taken = timezone.make_aware(taken, dt.UTC)
    when = f"{taken:%Y-%m-%d %H:%M} UTC" if taken else "an unknown time"
    publishing_hold_place(
        kind=PublishingHold.Kind.RESTORE,
        reason=(
            f"The database was restored from {filename or 'a backup'} (taken at "
            f"{when}). Posts that were due when it was restored may have gone out "
            "before; review them, then lift the hold."
        ),
        backup_taken_at=taken,
        using=database_name or "default",
    )


class DuePosts:
    """What lifting a restore hold does with the posts due when it was placed."""

    PUBLISH = "publish"
    CANCEL = "cancel"


def held_due_posts(hold: PublishingHold) -> QuerySet[ScheduledPost]:
    """The posts a restore hold asks a person to review: due when it was placed
    and not yet published (they may have gone out before the restore)."""
    return ScheduledPost.objects.filter(
        status__in=[SP.SCHEDULED, SP.PROCESSING], scheduled_at__lte=hold.created_at
    )


def publishing_hold_lift(
    *, hold: PublishingHold, actor: Actor = None, due_posts: str = DuePosts.PUBLISH
) -> int:
    """Lift a hold. For a restore hold, `due_posts` says what happens to the
    posts that were due when it was placed: published (a person checked they
    did not go out) or cancelled (they did, or will be rescheduled by hand).
    Returns how many due posts were cancelled."""
    if due_posts not in (DuePosts.PUBLISH, DuePosts.CANCEL):
        raise ValueError(f"due_posts must be 'publish' or 'cancel', not {due_posts!r}")
    cancelled = 0
    with transaction.atomic():
        hold = PublishingHold.objects.select_for_update().get(pk=hold.pk)
        if hold.lifted_at is not None:
            return 0
        note = "due posts kept for publishing"
        if hold.kind == PublishingHold.Kind.RESTORE and due_posts == DuePosts.CANCEL:
            cancelled = held_due_posts(hold).update(
                status=SP.CANCELLED,
                locked_until=None,
                error_message=(
                    "Cancelled at the review after the restore: it may have gone "
                    "out before the restore."
                ),
            )
            note = f"{cancelled} due post(s) cancelled"
        PublishingHold.objects.filter(pk=hold.pk).update(
            lifted_at=timezone.now(),
            lifted_by=actor_user(actor),
            lift_note=note,
        )
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=f"Publishing hold lifted: {note}",
            metadata={"hold_id": str(hold.pk), "by": actor_metadata(actor)},
        )
    return cancelled
