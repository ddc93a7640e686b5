"""What a notifiable event says to a person: one line of text, a label and a
link into the admin. Shared by e-mails and webhook payloads; every text is
scrubbed (logs.scrub) and short."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from logs.event_names import NOTIFIABLE
from logs.scrub import scrub_text

MAX_TEXT = 500


def _short(value: Any) -> str:
    text = scrub_text(str(value or "").strip())
    return text if len(text) <= 300 else text[:299] + "…"


def describe(name: str, payload: dict[str, Any], character: str | None) -> str:
    """One sentence for a person."""
    who = f"{character}: " if character else ""
    platform = payload.get("platform") or "the platform"
    error = _short(payload.get("error") or payload.get("reason"))
    texts = {
        "post_published": f"{who}a post went out on {platform}.",
        "post_failed": f"{who}a post on {platform} failed: {error}",
        "post_outcome_unknown": (
            f"{who}nobody can tell whether a post on {platform} went out; "
            f"check the account and decide. ({error})"
        ),
        "account_needs_attention": (
            f"{who}the {platform} account needs attention: {error}"
        ),
        "rule_did_nothing": (
            f"{who}a rule ran ({_short(payload.get('trigger'))}) and scheduled "
            f"nothing: {error}"
        ),
        "generation_failed": f"{who}a generation job failed: {error}",
        "backup_failed": f"The nightly backup failed: {error}",
        "test": "A test from AInfluencer: this webhook works.",
    }
    text = texts.get(name) or f"{who}{NOTIFIABLE.get(name, name)}."
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def label(name: str) -> str:
    return "Test" if name == "test" else NOTIFIABLE.get(name, name)


_LINKS = {
    "post_published": ("admin:platforms_scheduledpost_change", "scheduled_post_id"),
    "post_failed": ("admin:platforms_scheduledpost_change", "scheduled_post_id"),
    "post_outcome_unknown": (
        "admin:platforms_scheduledpost_change",
        "scheduled_post_id",
    ),
    "account_needs_attention": (
        "admin:platforms_platformaccount_change",
        "platform_account_id",
    ),
    "rule_did_nothing": (
        "admin:automation_automationrule_change",
        "automation_rule_id",
    ),
    "generation_failed": ("admin:content_contentgeneration_change", "generation_id"),
}


def link(name: str, payload: dict[str, Any]) -> str | None:
    """The admin page of what the event is about (NOTIFICATIONS_BASE_URL set)."""
    base = settings.NOTIFICATIONS_BASE_URL
    if not base:
        return None
    if name == "backup_failed":
        return f"{base}{reverse('admin:logs_systemlog_changelist')}?component=backup"
    target = _LINKS.get(name)
    if target is None or not payload.get(target[1]):
        return None
    try:
        return f"{base}{reverse(target[0], args=[payload[target[1]]])}"
    except NoReverseMatch:
        return None
