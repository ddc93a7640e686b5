"""Writes on accounts, the publishing queue and engagement actions (staff/API)."""

import datetime as dt
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pghistory
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.exceptions import InvalidTransition
from config.fields import validate_timezone
from config.transitions import transition
from content.models import Content
from logs.events import emit
from logs.models import SystemLog
from logs.services import Actor, actor_metadata, actor_user, system_log_write
from platforms import identity, oauth
from platforms import identity as identity_module
from platforms.adapters import (
    AdapterError,
    PublishResult,
    get_adapter,
)
from platforms.models import (
    EngagementAction,
    PlatformAccount,
    Post,
    PostingSlot,
    PublishingHold,
    ScheduledPost,
)
from platforms.modes import assisted_platforms, is_assisted, platform_mode

# The publisher's own success recorder: a post published by hand is recorded
# exactly as one published by an adapter.
from platforms.publishing import _record as record_published
from platforms.queues import OUTCOME_UNKNOWN
from platforms.selectors import SPREAD_DAYS, UNKNOWN_OUTCOME, free_slots
from platforms.slots import Slot

logger = logging.getLogger(__name__)
COMPONENT = "platform_service"
SP = ScheduledPost.Status
EA = EngagementAction.Status
CS = PlatformAccount.ConnectionStatus
CREDENTIALS_PERMISSION = "platforms.manage_credentials"


def _may(actor: Actor, permission: str) -> bool:
    """Whether the actor holds the permission; None (the system) always does."""
    if actor is None:
        return True
    has_perm = getattr(actor, "has_perm", None)
    return bool(has_perm and has_perm(permission))


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


# A time "now" typed by a person is a few seconds old when it arrives.
PAST_GRACE = dt.timedelta(minutes=1)


def scheduled_at_check(
    scheduled_at: dt.datetime, *, now: dt.datetime | None = None
) -> None:
    """A planned time must be aware and not in the past (a field error)."""
    if timezone.is_naive(scheduled_at):
        raise ValueError("scheduled_at needs a time zone.")
    if scheduled_at < (now or timezone.now()) - PAST_GRACE:
        raise ValidationError({"scheduled_at": "Choose a time in the future."})


def scheduled_posts_reschedule(
    *, queryset: QuerySet[ScheduledPost], scheduled_at: dt.datetime, actor: Actor = None
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


def scheduled_posts_approve_caption(
    *, queryset: QuerySet[ScheduledPost], actor: Actor = None
) -> int:
    """A person approves captions held by moderation: the posts may go out."""
    return transition(
        queryset=queryset.filter(status=SP.SCHEDULED),
        field="caption_status",
        allowed_from=[ScheduledPost.CaptionStatus.FLAGGED],
        changes={
            "caption_status": ScheduledPost.CaptionStatus.APPROVED,
            "error_message": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Scheduled post's caption approved",
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
    """Replace an account's credentials and write an audit row (never the secret).

    A user `actor` needs manage_credentials (clearing too); None is the system
    (a management command, a task).
    """
    if not _may(actor, CREDENTIALS_PERMISSION):
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
        ).exclude(UNKNOWN_OUTCOME).update(
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
    character_id: uuid.UUID | str,
    drafts: list[Draft],
    content: Content | None,
    scheduled_at: dt.datetime,
    timezone_name: str,
    actor: Actor = None,
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
    rows = [
        ScheduledPost(
            character_id=character_id,
            platform_account=d.account,
            scheduled_at=scheduled_at,
            timezone=timezone_name,
            content=content,
            caption=d.caption or None,
            hashtags=list(d.hashtags) or None,
            post_type=d.post_type,
        )
        for d in drafts
    ]
    with transaction.atomic():
        created = scheduled_posts_create(posts=rows)
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


# --- Bulk scheduling: posting slots, and spreading content over them ---------------


def posting_slots_set(
    *, account: PlatformAccount, slots: Sequence[Slot], actor: Actor = None
) -> list[PostingSlot]:
    """Replace an account's weekly posting slots (one DELETE, one INSERT)."""
    wanted = sorted(set(slots))
    for slot in wanted:
        if not 0 <= slot.weekday <= 6:
            raise ValidationError({"slots": f"{slot.weekday} is not a weekday (0-6)."})
    rows = [
        PostingSlot(platform_account_id=account.pk, weekday=s.weekday, time=s.time)
        for s in wanted
    ]
    with transaction.atomic():
        PostingSlot.objects.filter(platform_account_id=account.pk).delete()
        created = PostingSlot.objects.bulk_create(rows)
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=f"Posting slots of {account} set: "
            + (", ".join(str(s) for s in wanted) or "none"),
            character_id=account.character_id,
            platform_account_id=account.pk,
            metadata={"by": actor_metadata(actor), "slots": len(wanted)},
        )
    return created


@dataclass
class SpreadRow:
    """One post of a spread: an item on an account at its slot, or why not."""

    content: Content
    account: PlatformAccount
    scheduled_at: dt.datetime | None
    problems: list[str]

    def post(self, *, character_id: Any, zone_name: str) -> ScheduledPost:
        """The unsaved post of a row that has its slot."""
        if self.scheduled_at is None:
            raise ValueError("This row has no free slot.")
        return ScheduledPost(
            character_id=character_id,
            platform_account=self.account,
            content=self.content,
            scheduled_at=self.scheduled_at,
            timezone=zone_name,
        )


@dataclass
class SpreadPlan:
    """What "spread these items over the next free slots" would schedule."""

    timezone: str
    rows: list[SpreadRow]
    errors: list[str]  # what stops the whole spread (not one row's)

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.problems for r in self.rows)

    def posts(self) -> list[ScheduledPost]:
        return [
            r.post(character_id=r.account.character_id, zone_name=self.timezone)
            for r in self.rows
        ]

    def messages(self) -> list[str]:
        return self.errors + [
            f"{r.content} on {r.account}: {problem}"
            for r in self.rows
            for problem in r.problems
        ]


SPREAD_MAX_ITEMS = 500


def scheduled_posts_spread_plan(
    *,
    character_id: uuid.UUID | str,
    content_ids: Sequence[uuid.UUID | str],
    account_ids: Sequence[uuid.UUID | str],
    start: dt.datetime | None = None,
    now: dt.datetime | None = None,
    lock: bool = False,
) -> SpreadPlan:
    """Each item, in the given order, on each account at that account's next
    free posting slot after `start` (default: now): the first item at the
    first free slot, the second at the second, ... A slot is free when the
    account has no post scheduled, being published or published at that
    minute. Every row is checked by `scheduled_post_problems` (the rules of
    every scheduled post). A constant number of queries for any number of
    items and accounts; `lock` holds the accounts' rows (FOR UPDATE) so that
    two spreads at once cannot take the same slots.
    """
    now = now or timezone.now()
    after = max(start or now, now)
    errors: list[str] = []
    if not content_ids:
        errors.append("Choose the items to spread.")
    if len(content_ids) > SPREAD_MAX_ITEMS:
        errors.append(f"Spread at most {SPREAD_MAX_ITEMS} items at once.")
    if not account_ids:
        errors.append("Choose at least one account.")
    accounts_qs = (
        PlatformAccount.objects.filter(pk__in=list(account_ids))
        .select_related("character")
        .defer("auth_data")
        .order_by("platform")
    )
    if lock:
        accounts_qs = accounts_qs.select_for_update(of=("self",))
    accounts = list(accounts_qs)
    if len(accounts) != len(set(map(str, account_ids))):
        errors.append("One of the accounts no longer exists.")
    if any(str(a.character_id) != str(character_id) for a in accounts):
        errors.append("Every account must be this character's.")
    zone_name = next(
        (a.character.timezone for a in accounts if a.character.timezone), "UTC"
    )
    by_id = {
        c.pk: c
        for c in Content.objects.filter(pk__in=list(content_ids)).defer(
            "generation_settings"
        )
    }
    items = [by_id[pk] for pk in _as_uuids(content_ids) if pk in by_id]
    if len(items) != len(by_id) or len(by_id) != len(set(map(str, content_ids))):
        errors.append("One of the items no longer exists.")
    slots = free_slots(
        account_ids=[a.pk for a in accounts],
        tz_name=zone_name,
        count=len(items),
        after=after,
    )
    for account in accounts:
        if not slots[account.pk] and items:
            errors.append(
                f"{account} has no free posting slot in the next {SPREAD_DAYS} "
                "days: set its slots first (Posting slots on the account)."
            )
    rows = []
    for index, item in enumerate(items):
        for account in accounts:
            free = slots[account.pk]
            when = free[index] if index < len(free) else None
            rows.append(SpreadRow(item, account, when, []))
    plan = SpreadPlan(timezone=zone_name, rows=rows, errors=errors)
    placed = [r for r in rows if r.scheduled_at is not None]
    problems = scheduled_post_problems(
        [r.post(character_id=character_id, zone_name=zone_name) for r in placed],
        now=now,
    )
    for row, found in zip(placed, problems, strict=True):
        row.problems = [m for messages in found.values() for m in messages]
    for row in rows:
        if row.scheduled_at is None and slots[row.account.pk]:
            row.problems.append(
                f"No free slot left: {row.account} has "
                f"{len(slots[row.account.pk])} in the next {SPREAD_DAYS} days."
            )
    return plan


def _as_uuids(values: Sequence[uuid.UUID | str]) -> list[uuid.UUID]:
    found = []
    for value in values:
        try:
            found.append(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
        except ValueError:
            continue
    return found


def scheduled_posts_spread(
    *,
    character_id: uuid.UUID | str,
    content_ids: Sequence[uuid.UUID | str],
    account_ids: Sequence[uuid.UUID | str],
    start: dt.datetime | None = None,
    actor: Actor = None,
) -> list[ScheduledPost]:
    """Schedule the spread `scheduled_posts_spread_plan` shows, all or none
    (ValidationError {"posts": [every reason, naming item and account]}), in
    one INSERT through `scheduled_posts_create`."""
    with transaction.atomic():
        plan = scheduled_posts_spread_plan(
            character_id=character_id,
            content_ids=content_ids,
            account_ids=account_ids,
            start=start,
            lock=True,
        )
        if not plan.ok:
            raise ValidationError({"posts": plan.messages()})
        created = scheduled_posts_create(posts=plan.posts())
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=f"{len(created)} post(s) spread over the next free posting slots",
            character_id=character_id,
            metadata={
                "by": actor_metadata(actor),
                "content_ids": [str(pk) for pk in content_ids],
                "scheduled_post_ids": [str(r.pk) for r in created],
            },
        )
    return created


# --- Connecting accounts, testing them, keeping their tokens fresh ------------------


def platform_account_connect(
    *,
    account: PlatformAccount,
    auth_data: dict,
    identity: identity_module.Identity,
    auth_type: str = PlatformAccount.AuthType.OAUTH,
    actor: Actor = None,
) -> PlatformAccount:
    """Store what a finished connect brought: the credentials (encrypted), the
    account's platform id, username and URL, when the token expires. An account
    that was waiting (error, suspended, disconnected) is resumed: its posts
    move again. One transaction; the audit row names the keys, never a value.
    """
    if not _may(actor, CREDENTIALS_PERMISSION):
        raise PermissionDenied("Connecting an account needs manage_credentials.")
    # the audit trail records the key names of the new credentials, never values
    with transaction.atomic(), pghistory.context(credential_keys=sorted(auth_data)):
        locked = PlatformAccount.objects.select_for_update().get(pk=account.pk)
        locked.auth_data = auth_data
        locked.auth_type = auth_type
        locked.account_id = identity.account_id or locked.account_id
        locked.account_username = identity.username or locked.account_username
        locked.account_url = identity.url or locked.account_url
        locked.token_expires_at = oauth.expires_at(auth_data)
        locked.connection_error = None
        locked.save(
            update_fields=[
                "auth_data",
                "auth_type",
                "account_id",
                "account_username",
                "account_url",
                "token_expires_at",
                "connection_error",
                "updated_at",
            ]
        )
        system_log_write(
            level=SystemLog.Level.INFO,
            component="credentials",
            message=(
                f"Platform account connected ({auth_type}) as "
                f"{identity.username or identity.account_id or '?'}"
            ),
            character_id=locked.character_id,
            platform_account_id=locked.pk,
            metadata={
                "by": actor_metadata(actor),
                "keys": sorted(auth_data),
                "scopes": list(auth_data.get("scopes") or []),
                "platform_account_id": identity.account_id,
            },
        )
        if locked.connection_status != CS.RATE_LIMITED:
            platform_accounts_resume(
                queryset=PlatformAccount.objects.filter(pk=locked.pk), actor=actor
            )
    locked.refresh_from_db()
    return locked


@dataclass(frozen=True)
class ConnectionTest:
    """What "Test connection" saw. `status`: ok, failed, no_api, no_credentials."""

    status: str
    message: str
    platform: str
    mode: str
    account_id: str = ""
    username: str = ""
    url: str = ""
    matches_account: bool | None = None
    expires_at: dt.datetime | None = None
    scopes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def platform_account_test_connection(*, account_id: uuid.UUID | str) -> ConnectionTest:
    """Ask the platform who the stored credentials belong to (read only)."""
    account = PlatformAccount.objects.get(pk=account_id)
    label = account.get_platform_display()
    mode = platform_mode(account.platform)
    platform = account.platform
    if account.platform not in identity.WHOAMI:
        return ConnectionTest(
            status="no_api",
            message=(
                f"{label} has no API: nothing to test. Its posts are published "
                "by hand (To post by hand)."
            ),
            platform=platform,
            mode=mode,
        )
    data = account.auth_data or {}
    if not data:
        return ConnectionTest(
            status="no_credentials",
            message=f"No credentials stored: connect the {label} account first.",
            platform=platform,
            mode=mode,
        )
    expires = oauth.expires_at(data)
    try:
        who = identity.whoami(account.platform, data)
    except identity.IdentityError as exc:
        return ConnectionTest(
            status="failed",
            message=exc.message,
            expires_at=expires,
            scopes=tuple(data.get("scopes") or ()),
            platform=platform,
            mode=mode,
        )
    matches = None
    if account.account_id and who.account_id:
        matches = str(account.account_id) == str(who.account_id)
    seen = f"@{who.username}" if who.username else who.account_id
    message = f"{label} answered: this is {seen} (id {who.account_id})."
    if matches is False:
        message += (
            f" The account row says id {account.account_id}: these credentials "
            "belong to another account."
        )
    if expires:
        message += f" The token expires {expires:%Y-%m-%d %H:%M} UTC."
    return ConnectionTest(
        status="ok",
        message=message,
        account_id=who.account_id,
        username=who.username,
        url=who.url,
        matches_account=matches,
        expires_at=expires,
        scopes=tuple(data.get("scopes") or ()),
        platform=platform,
        mode=mode,
    )


def platform_account_mark_error(*, account_id: uuid.UUID | str, message: str) -> int:
    """Park an account whose credentials no longer work: its posts wait (the
    publisher's rule for 'error'), staff see why on the dashboard, and the
    'account_needs_attention' event goes out (once, when the account was not
    parked already)."""
    with transaction.atomic():
        account = (
            PlatformAccount.objects.select_for_update()
            .only("character_id", "platform", "connection_status", "is_connected")
            .filter(pk=account_id)
            .first()
        )
        if account is None:
            return 0
        was_parked = account.connection_status == CS.ERROR and not account.is_connected
        changed = PlatformAccount.objects.filter(pk=account_id).update(
            connection_status=CS.ERROR,
            is_connected=False,
            connection_error=message[:2000],
        )
        system_log_write(
            level=SystemLog.Level.WARNING,
            component="credentials",
            message=f"Platform account needs reconnecting: {message}"[:2000],
            character_id=account.character_id,
            platform_account_id=account_id,
        )
        if not was_parked:
            emit(
                "account_needs_attention",
                {
                    "platform_account_id": str(account_id),
                    "platform": account.platform,
                    "reason": message[:2000],
                },
                character_id=account.character_id,
            )
    return changed


def platform_account_refresh_token(
    *, account_id: uuid.UUID | str, now: dt.datetime | None = None
) -> str:
    """Renew one account's token. Returns refreshed, skipped, failed or retry.

    The row stays locked (FOR UPDATE SKIP LOCKED) during the provider call: a
    second refresh of the same account skips it, since X rotates refresh tokens
    and the loser of a race would store a dead one. A provider refusal parks
    the account ('error'); a timeout or 5xx leaves it for the next run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        account = (
            PlatformAccount.objects.select_for_update(skip_locked=True)
            .filter(pk=account_id, auth_type=PlatformAccount.AuthType.OAUTH)
            .exclude(connection_status__in=REFRESH_SKIPPED_STATUSES)
            .first()
        )
        ahead = oauth.refresh_ahead(account.platform) if account else None
        if (
            account is None
            or ahead is None
            or account.token_expires_at is None
            or account.token_expires_at > now + ahead
        ):
            return "skipped"  # refreshed meanwhile, locked, reconnected or gone
        try:
            auth_data = oauth.refresh(account.platform, account.auth_data)
        except oauth.OAuthFailure as exc:
            if not exc.permanent:
                logger.warning(
                    "token refresh of platform account %s will be tried again: %s",
                    account.pk,
                    exc.message,
                )
                return "retry"
            failure = exc.message
        else:
            account.auth_data = auth_data
            account.token_expires_at = oauth.expires_at(auth_data)
            account.connection_error = None
            pghistory.context(credential_keys=sorted(auth_data), refreshed=True)
            account.save(
                update_fields=[
                    "auth_data",
                    "token_expires_at",
                    "connection_error",
                    "updated_at",
                ]
            )
            logger.info("token of platform account %s refreshed", account.pk)
            return "refreshed"
    platform_account_mark_error(
        account_id=account_id,
        message=f"Token refresh failed: {failure} Connect the account again.",
    )
    return "failed"


def platform_account_refresh_now(account: PlatformAccount) -> bool:
    """settings.PLATFORM_TOKEN_REFRESHER: a platform told an adapter that the
    access token expired. Renew it now, under the row lock the periodic refresh
    takes, and put the new credentials on `account` (the adapter re-reads
    them). False when it cannot be renewed: the adapter then treats the token
    as refused, which parks the account; the reason is kept for the dashboard.
    """
    if (
        account.auth_type != PlatformAccount.AuthType.OAUTH
        or oauth.provider_for(account.platform) is None
    ):
        return False
    used = (account.auth_data or {}).get("access_token")
    with transaction.atomic():
        locked = (
            PlatformAccount.objects.select_for_update().filter(pk=account.pk).first()
        )
        if locked is None:
            return False
        current = locked.auth_data or {}
        if current.get("access_token") and current.get("access_token") != used:
            # renewed meanwhile (another worker, the periodic task): use it
            account.auth_data, account.token_expires_at = (
                current,
                locked.token_expires_at,
            )
            return True
        try:
            renewed = oauth.refresh(locked.platform, current)
        except oauth.OAuthFailure as exc:
            logger.warning(
                "token of platform account %s could not be renewed: %s",
                account.pk,
                exc.message,
            )
            if exc.permanent:
                locked.connection_error = (
                    f"Token refresh failed: {exc.message} Connect the account again."
                )[:2000]
                locked.save(update_fields=["connection_error", "updated_at"])
            return False
        locked.auth_data = renewed
        locked.token_expires_at = oauth.expires_at(renewed)
        locked.connection_error = None
        pghistory.context(credential_keys=sorted(renewed), refreshed=True)
        locked.save(
            update_fields=[
                "auth_data",
                "token_expires_at",
                "connection_error",
                "updated_at",
            ]
        )
    account.auth_data, account.token_expires_at = renewed, locked.token_expires_at
    return True


# Accounts that wait for a person anyway: their tokens are left alone.
REFRESH_SKIPPED_STATUSES = (CS.DISCONNECTED, CS.ERROR, CS.SUSPENDED)


def platform_accounts_refresh_tokens(
    *, now: dt.datetime | None = None, limit: int = 200, time_budget: float = 200.0
) -> Counter:
    """Renew every OAuth token that expires within its provider's window
    (OAUTH_REFRESH_AHEAD_MINUTES): one query through idx_plat_accounts_token_exp,
    then one provider call per account, within the time budget."""
    now = now or timezone.now()
    due = Q(pk__in=[])
    for platform, provider in oauth.PROVIDERS.items():
        ahead = oauth.refresh_ahead(provider.platform)
        if ahead is None:
            continue
        due |= Q(platform=platform, token_expires_at__lte=now + ahead)
    ids = list(
        PlatformAccount.objects.filter(
            due,
            token_expires_at__isnull=False,
            auth_type=PlatformAccount.AuthType.OAUTH,
        )
        .exclude(connection_status__in=REFRESH_SKIPPED_STATUSES)
        .order_by("token_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    deadline = time.monotonic() + time_budget
    outcomes: Counter = Counter()
    for pk in ids:
        # one more provider call must fit: (connect + read) timeouts
        if time.monotonic() + sum(settings.OAUTH_TIMEOUT) > deadline:
            outcomes["left"] += 1
            continue
        outcomes[platform_account_refresh_token(account_id=pk, now=now)] += 1
    return outcomes


# --- Assisted publishing: a person posts, the back-office records it ---------------


MANUAL_URL_MAX = 255  # the URL doubles as the post's platform_post_id


def _validated_post_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": "Enter the URL of the post on the platform."})
    if len(url) > MANUAL_URL_MAX:
        raise ValidationError(
            {"url": f"The URL is longer than {MANUAL_URL_MAX} characters."}
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError(
            {"url": "Enter a valid http(s) URL of the post on the platform."}
        ) from None
    return url


def scheduled_post_mark_published(
    *, scheduled_post_id: uuid.UUID | str, url: str, actor: Actor = None
) -> Post:
    """A person saw a post on its platform: record it as a publish does.

    Two kinds of post qualify:
    - an assisted post (a platform without an adapter), still scheduled, that
      the person published by hand: its URL is its platform id;
    - a post whose outcome is unknown (failed with "Outcome unknown": its
      call went out and the platform cannot tell whether it arrived, e.g. a
      Telegram timeout), found on the platform by the person: the adapter
      turns the link into the id its publish would have recorded, after
      checking with the platform that it is this account's post, so that
      deleting it and its metrics work as for any post.

    The posts row, the scheduled post's 'published' state, the content's use
    count, the account's post count and the post_published event are written by
    the publisher's own success recorder (platforms.publishing), in one
    transaction with this row locked, so two clicks record one post; the row
    is checked again under the lock (a retry may have taken it meanwhile). The
    same post cannot be recorded for two scheduled posts.
    """
    url = _validated_post_url(url)
    sp = ScheduledPost.objects.select_related("platform_account").get(
        pk=scheduled_post_id
    )
    unknown = _markable(sp)
    if unknown:
        result = _result_of_link(sp.platform_account, url)
    else:
        result = PublishResult(platform_post_id=url, url=url)
    with transaction.atomic():
        sp = (
            ScheduledPost.objects.select_for_update(of=("self",))
            .select_related("platform_account", "content")
            .defer("platform_account__auth_data")
            .get(pk=scheduled_post_id)
        )
        account = sp.platform_account
        if _markable(sp) != unknown:
            raise InvalidTransition(
                "This post changed meanwhile (a retry took it?): reload the page."
            )
        if not unknown and sp.content is not None and not sp.content.is_approved:
            raise InvalidTransition(
                "The post's content is not approved: approve it (or change the "
                "post) before publishing it."
            )
        taken = ValidationError(
            {
                "url": "This post is already recorded for another scheduled post."
                if unknown
                else "This URL is already recorded for a post."
            }
        )
        if Post.objects.filter(
            platform=account.platform, platform_post_id=result.platform_post_id
        ).exists():
            raise taken
        record_published(sp, result)
        sp.refresh_from_db(fields=["post", "status"])
        if sp.status != SP.PUBLISHED or sp.post_id is None:
            raise taken
        system_log_write(
            level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=(
                "Post whose outcome was unknown found on the platform by a person"
                if unknown
                else "Scheduled post published by hand"
            ),
            character_id=sp.character_id,
            platform_account_id=account.pk,
            post_id=sp.post_id,
            metadata={
                "by": actor_metadata(actor),
                "model": ScheduledPost._meta.label,
                "object_id": str(sp.pk),
                "url": result.url or url,
            },
        )
        return Post.objects.get(pk=sp.post_id)


def _markable(sp: ScheduledPost) -> bool:
    """Whether `sp` may be marked published, and how: True for a post whose
    outcome is unknown, False for an assisted post to publish by hand;
    InvalidTransition for any other."""
    account = sp.platform_account
    if sp.status == SP.FAILED and (sp.error_message or "").startswith(OUTCOME_UNKNOWN):
        return True
    if sp.status == SP.SCHEDULED and is_assisted(account.platform):
        return False
    if sp.status == SP.SCHEDULED:
        raise InvalidTransition(
            f"{account.get_platform_display()} posts are published by the "
            "engine, not by hand."
        )
    raise InvalidTransition(
        f"This post is {sp.status}: only a scheduled post to publish by hand, "
        "or a failed one whose outcome is unknown, can be marked published."
    )


def _result_of_link(account: PlatformAccount, url: str) -> PublishResult:
    """The post at `url` as the account's adapter records it (platform id and
    link); the platform's refusal as the form's error on the URL."""
    label = account.get_platform_display()
    try:
        return get_adapter(account).result_from_url(url)
    except AdapterError as exc:
        if exc.retryable:
            raise ValidationError(
                {"url": f"Could not ask {label}: {exc.message} Try again later."}
            ) from None
        raise ValidationError({"url": exc.message}) from None


def engagement_action_mark_done(
    *, action_id: uuid.UUID | str, actor: Actor = None
) -> int:
    """A person performed an assisted engagement action by hand."""
    return transition(
        queryset=EngagementAction.objects.filter(
            pk=action_id, platform__in=assisted_platforms()
        ),
        allowed_from=[EA.PENDING],
        changes={
            "status": EA.COMPLETED,
            "completed_at": timezone.now(),
            "error_message": None,
            "locked_until": None,
        },
        actor=actor,
        component=COMPONENT,
        message="Engagement action done by hand",
    )
