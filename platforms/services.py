"""Writes on accounts, the publishing queue and engagement actions (staff/API)."""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.transitions import transition
from content.models import Content
from logs.models import SystemLog
from logs.services import actor_metadata, system_log_write
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


def scheduled_posts_cancel(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[SP.SCHEDULED, SP.FAILED],
        changes={"status": SP.CANCELLED, "locked_until": None},
        actor=actor,
        component=COMPONENT,
        message="Scheduled post cancelled",
    )


# A time "now" typed by a person is a few seconds old when it arrives.
PAST_GRACE = dt.timedelta(minutes=1)


def scheduled_at_check(scheduled_at: dt.datetime, *, now=None) -> None:
    """A planned time must be aware and not in the past (a field error)."""
    if timezone.is_naive(scheduled_at):
        raise ValueError("scheduled_at needs a time zone.")
    if scheduled_at < (now or timezone.now()) - PAST_GRACE:
        raise ValidationError({"scheduled_at": "Choose a time in the future."})


def scheduled_posts_reschedule(
    *, queryset, scheduled_at: dt.datetime, actor=None
) -> int:
    """Move waiting, failed or cancelled posts to a new planned time (a field
    error for a time in the past). Published and publishing posts stay."""
    scheduled_at_check(scheduled_at)
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


def scheduled_posts_publish_now(*, queryset, actor=None) -> int:
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


def scheduled_posts_retry(*, queryset, actor=None) -> int:
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


def engagement_actions_cancel(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[EA.PENDING],
        changes={"status": EA.CANCELLED},
        actor=actor,
        component=COMPONENT,
        message="Engagement action cancelled",
    )


def engagement_actions_retry(*, queryset, actor=None) -> int:
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


def platform_accounts_disconnect(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        field="connection_status",
        allowed_from=[s for s in CS.values if s != CS.DISCONNECTED],
        changes={"connection_status": CS.DISCONNECTED, "is_connected": False},
        actor=actor,
        component=COMPONENT,
        message="Platform account disconnected",
    )


def platform_accounts_mark_resync(*, queryset, actor=None) -> int:
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
    *, account: PlatformAccount, auth_data: dict | None, actor=None
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


def platform_accounts_resume(*, queryset, actor=None) -> int:
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


def post_take_down(*, post: Post, actor=None) -> bool:
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
    actor=None,
    using: str = "default",
) -> PublishingHold:
    """Stop everything that sends (posts, engagement) until staff lift it."""
    with transaction.atomic(using=using):
        hold = PublishingHold.objects.using(using).create(
            kind=kind,
            reason=reason,
            backup_taken_at=backup_taken_at,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        SystemLog.objects.using(using).create(
            log_level=SystemLog.Level.WARNING,
            component=COMPONENT,
            message=f"Publishing on hold: {reason}"[:2000],
            metadata={"hold_id": str(hold.pk), "by": actor_metadata(actor)},
        )
    return hold


def publishing_hold_after_restore(
    sender=None, *, database_name=None, filename=None, **kwargs
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


def held_due_posts(hold: PublishingHold):
    """The posts a restore hold asks a person to review: due when it was placed
    and not yet published (they may have gone out before the restore)."""
    return ScheduledPost.objects.filter(
        status__in=[SP.SCHEDULED, SP.PROCESSING], scheduled_at__lte=hold.created_at
    )


def publishing_hold_lift(
    *, hold: PublishingHold, actor=None, due_posts: str = DuePosts.PUBLISH
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
            lifted_by=actor if getattr(actor, "pk", None) else None,
            lift_note=note,
        )
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=f"Publishing hold lifted: {note}",
            metadata={"hold_id": str(hold.pk), "by": actor_metadata(actor)},
        )
    return cancelled


# --- The composer: one post for several of a character's accounts ------------------


@dataclass(frozen=True)
class Draft:
    """What one account will publish: its caption, hashtags and post type."""

    account: PlatformAccount
    caption: str
    hashtags: tuple[str, ...] = ()
    post_type: str | None = None


def draft_errors(
    *, drafts: list[Draft], content: Content | None
) -> dict[str, dict[str, list[str]]]:
    """{account id: {field: [messages]}}: what each platform would refuse.

    The same rules as every other way of scheduling (ScheduledPost.clean, the
    adapters' `rules`), so the composer's preview and its save agree.
    """
    found = {}
    for draft in drafts:
        post = ScheduledPost(
            character_id=draft.account.character_id,
            platform_account=draft.account,
            content=content,
            caption=draft.caption or None,
            hashtags=list(draft.hashtags) or None,
            post_type=draft.post_type,
        )
        try:
            post.platform_rules_clean()
        except ValidationError as exc:
            found[str(draft.account.pk)] = exc.message_dict
    return found


def scheduled_posts_compose(
    *,
    character_id,
    drafts: list[Draft],
    content: Content | None,
    scheduled_at: dt.datetime,
    timezone_name: str,
    actor=None,
) -> list[ScheduledPost]:
    """Schedule one post per draft at the same time, all or none.

    Every account must be the character's, the content the character's own
    and approved, the time in the future, and each post what its platform
    accepts; otherwise ValidationError (keys: "accounts", "content",
    "scheduled_at", or an account id with what its platform refuses).
    """
    if not drafts:
        raise ValidationError({"accounts": "Choose at least one account."})
    scheduled_at_check(scheduled_at)
    errors: dict = {}
    if any(str(d.account.character_id) != str(character_id) for d in drafts):
        errors["accounts"] = ["Every account must be this character's."]
    if content is not None and (
        str(content.character_id) != str(character_id) or not content.is_approved
    ):
        errors["content"] = ["Only this character's approved content can be posted."]
    for account_id, found in draft_errors(drafts=drafts, content=content).items():
        errors[account_id] = [m for messages in found.values() for m in messages]
    if errors:
        raise ValidationError(errors)
    stamp = timezone.now()
    rows = [
        ScheduledPost(
            character_id=character_id,
            platform_account=d.account,
            scheduled_at=scheduled_at,
            created_at=min(stamp, scheduled_at),
            timezone=timezone_name,
            content=content,
            caption=d.caption or None,
            hashtags=list(d.hashtags) or None,
            post_type=d.post_type,
            status=SP.SCHEDULED,
        )
        for d in drafts
    ]
    with transaction.atomic():
        created = ScheduledPost.objects.bulk_create(rows)
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=(
                f"{len(created)} post(s) scheduled from the composer for "
                f"{scheduled_at.isoformat()}"
            ),
            character_id=character_id,
            content_id=content.pk if content else None,
            metadata={
                "by": actor_metadata(actor),
                "scheduled_post_ids": [str(r.pk) for r in created],
            },
        )
    return created
