"""Writing system_logs rows."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User

from logs.models import SystemLog

# Who did it: a staff or API user, or None (the system: a task, a command).
Actor = AbstractBaseUser | AnonymousUser | None


def system_log_write(
    *,
    level: str,
    component: str,
    message: str,
    character_id: Any = None,
    platform_account_id: Any = None,
    content_id: Any = None,
    post_id: Any = None,
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


def actor_metadata(actor: Actor) -> dict[str, Any]:
    """Who did it, for audit rows: a staff/API user, or the system."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": "system"}
    return {"actor": actor.get_username(), "actor_id": actor.pk}


def actor_user(actor: Actor) -> User | None:
    """The user row to link to what an actor did (None: the system, anonymous)."""
    return actor if isinstance(actor, User) and actor.pk else None
