"""The names of events (a leaf: models, forms and the outbox all read it).

`NAMES` is every event `logs.events.emit` accepts; `NOTIFIABLE` the ones that
reach people (e-mail and outgoing webhooks, logs.notifications), with the
label a person reads.
"""

from django.core.exceptions import ValidationError

# Every event name, with what it means (its payload's keys).
NAMES = {
    "content_approved": "Content was approved (content_ids).",
    "generation_completed": "A generation job made content (generation_id, "
    "content_ids).",
    "generation_failed": "A generation job failed for good (generation_id, error).",
    "post_published": "A scheduled post went out (post_id, scheduled_post_id, "
    "platform_account_id, platform).",
    "post_failed": "A scheduled post failed for good (scheduled_post_id, "
    "platform_account_id, platform, error).",
    "post_outcome_unknown": "Nobody can tell whether a post went out; a person "
    "decides (scheduled_post_id, platform_account_id, platform, error).",
    "account_needs_attention": "An account's credentials were refused "
    "(platform_account_id, platform, reason).",
    "follower_milestone": "An account's follower count grew in the daily "
    "snapshot (platform_account_id, platform, previous, current).",
    "rule_did_nothing": "A rule ran and scheduled nothing (automation_rule_id, "
    "run_id, trigger, reason).",
    "backup_failed": "The nightly backup failed (reason, database_backup).",
}

# What reaches people, in the order forms list them.
NOTIFIABLE = {
    "post_published": "Post published",
    "post_failed": "Post failed",
    "post_outcome_unknown": "Post outcome unknown",
    "account_needs_attention": "Account needs attention",
    "rule_did_nothing": "Rule did nothing",
    "generation_failed": "Generation failed",
    "backup_failed": "Backup failed",
}
NOTIFIABLE_CHOICES = list(NOTIFIABLE.items())
# A new user's e-mail subscriptions: everything that needs a person (a
# published post is good news, and frequent).
DEFAULT_EMAIL_EVENTS = [name for name in NOTIFIABLE if name != "post_published"]


def default_email_events() -> list[str]:
    """A fresh list per row (a mutable default must be a callable)."""
    return list(DEFAULT_EMAIL_EVENTS)


def validate_notifiable(value: list[str]) -> None:
    """A non-empty list of notifiable event names, each once."""
    unknown = [name for name in value if name not in NOTIFIABLE]
    if unknown:
        raise ValidationError(
            "Unknown event(s): %(names)s. Known: %(known)s.",
            code="unknown_event",
            params={"names": ", ".join(unknown), "known": ", ".join(NOTIFIABLE)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("An event is listed twice.", code="duplicate_event")
