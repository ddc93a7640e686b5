"""Writes on accounts, the publishing queue and engagement actions (staff/API)."""

import datetime as dt

import pghistory
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from config.transitions import transition
from logs.models import SystemLog
from logs.services import actor_metadata, system_log_write
from platforms.adapters import get_adapter
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost

COMPONENT = "platform_service"
SP = ScheduledPost.Status
EA = EngagementAction.Status
CS = PlatformAccount.ConnectionStatus
CREDENTIALS_PERMISSION = "platforms.manage_credentials"


def scheduled_posts_cancel(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        allowed_from=[SP.SCHEDULED, SP.FAILED],
        changes={"status": SP.CANCELLED, "locked_until": None},
        actor=actor,
        component=COMPONENT,
        message="Scheduled post cancelled",
    )


def scheduled_posts_reschedule(
    *, queryset, scheduled_at: dt.datetime, actor=None
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


def scheduled_posts_publish_now(*, queryset, actor=None) -> int:
    """Make waiting posts due now; the publisher takes them on its next tick."""
    return transition(
        queryset=queryset,
        allowed_from=[SP.SCHEDULED],
        changes={"scheduled_at": timezone.now()},
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
        changes={"status": EA.PENDING, "retry_count": 0, "error_message": None},
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
    """Replace an account's credentials and write an audit row (never the secret).

    A user `actor` needs manage_credentials (clearing too); None is the system
    (a management command, a task).
    """
    if actor is not None and not actor.has_perm(CREDENTIALS_PERMISSION):
        raise PermissionDenied(
            "Setting or clearing credentials needs manage_credentials."
        )
    account.auth_data = auth_data
    keys = sorted(auth_data) if isinstance(auth_data, dict) else []
    # the audit trail records that they changed and the key names, never values
    with pghistory.context(credential_keys=keys):
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
