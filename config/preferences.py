"""The operator's own time zone: stored per user, kept in the session, and
activated for every admin request (a character's pages switch to the
character's zone themselves); and their e-mail notification settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from config.models import UserPreferences
from config.timezones import DEFAULT_ZONE, SESSION_KEY, is_known_zone


def operator_timezone_of(user: Any) -> str:
    """The user's preferred zone (one query), UTC when none is set."""
    if not getattr(user, "pk", None):
        return DEFAULT_ZONE
    name = (
        UserPreferences.objects.filter(user_id=user.pk)
        .values_list("timezone", flat=True)
        .first()
    )
    return name if name and is_known_zone(name) else DEFAULT_ZONE


def user_preferences_update(
    *,
    user: Any,
    timezone_name: str,
    request: HttpRequest | None = None,
    email_notifications: str | None = None,
    notification_events: list[str] | None = None,
    digest_hour: int | None = None,
) -> UserPreferences:
    """Store the user's zone and, when given, their e-mail notification
    settings (validated); apply the zone to their session."""
    current = UserPreferences.objects.filter(user_id=user.pk).first()
    prefs = current or UserPreferences(user=user)
    prefs.timezone = timezone_name
    if email_notifications is not None:
        prefs.email_notifications = email_notifications
    if notification_events is not None:
        prefs.notification_events = list(notification_events)
    if digest_hour is not None:
        prefs.digest_hour = digest_hour
    prefs.full_clean(exclude=["user"])
    UserPreferences.objects.update_or_create(
        user=user,
        defaults={
            "timezone": prefs.timezone,
            "email_notifications": prefs.email_notifications,
            "notification_events": prefs.notification_events,
            "digest_hour": prefs.digest_hour,
        },
    )
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = prefs.timezone
    return prefs


def remember_timezone_at_login(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """user_logged_in receiver: the zone goes into the session once."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = operator_timezone_of(user)


ADMIN_PREFIX = "/admin/"


class OperatorTimezoneMiddleware:
    """Admin pages run in the operator's zone (from the session; a session
    started before the preference existed looks it up once)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.prefix = ADMIN_PREFIX

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        name = DEFAULT_ZONE
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            stored = session.get(SESSION_KEY)
            if not is_known_zone(stored):
                stored = operator_timezone_of(request.user)
                session[SESSION_KEY] = stored
            name = stored
        request.operator_timezone = name  # type: ignore[attr-defined]
        # (a TemplateResponse is rendered inside get_response: in this zone)
        with timezone.override(name):
            return self.get_response(request)


def operator_timezone(request: HttpRequest) -> dict[str, str]:
    """Context processor: the operator's own zone (the header shows it)."""
    return {"OPERATOR_TIMEZONE": getattr(request, "operator_timezone", DEFAULT_ZONE)}
