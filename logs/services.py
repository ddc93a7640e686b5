"""Writing system_logs rows."""

from typing import Any

from logs.models import SystemLog


def system_log_write(
    *,
    level: str,
    component: str,
    message: str,
    character_id=None,
    platform_account_id=None,
    content_id=None,
    post_id=None,
    metadata: dict[str, Any] | None = None,
) -> SystemLog:
    """Write one log row. Callers never pass credentials in message or metadata."""
    return SystemLog.objects.create(
        log_level=level,
        component=component,
        message=message,
        character_id=character_id,
        platform_account_id=platform_account_id,
        content_id=content_id,
        post_id=post_id,
        metadata=metadata,
    )


def actor_metadata(actor) -> dict[str, Any]:
    """Who did it, for audit rows: a staff/API user, or the system."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": "system"}
    return {"actor": actor.get_username(), "actor_id": actor.pk}
