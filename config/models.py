"""What each staff user prefers: their own time zone, and which events reach
them by e-mail and when."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from config.fields import choices_check, defaulted, validate_timezone
from logs.event_names import (
    NOTIFIABLE_CHOICES,
    default_email_events,
    validate_notifiable,
)


class EmailNotifications(models.TextChoices):
    OFF = "off", "Off"
    IMMEDIATE = "immediate", "At once"
    DIGEST = "digest", "Daily digest"


class UserPreferences(models.Model):
    """One staff user's settings for the back-office."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preferences",
        primary_key=True,
    )
    # Date-times outside a character's pages are shown and entered in this zone.
    timezone = models.CharField(
        max_length=50,
        validators=[validate_timezone],
        help_text=(
            "Your own time zone (an IANA name such as Europe/Berlin): the "
            "back-office shows and takes date-times in it, except on a "
            "character's pages, posts, schedules and rules, which use the "
            "character's."
        ),
        **defaulted("UTC"),
    )
    # E-mail notifications (logs.notifications): to the user's address.
    email_notifications = models.CharField(
        "E-mail notifications",
        max_length=20,
        choices=EmailNotifications.choices,
        **defaulted(EmailNotifications.OFF),
    )
    notification_events = ArrayField(
        models.CharField(max_length=50, choices=NOTIFIABLE_CHOICES),
        default=default_email_events,
        blank=True,
        validators=[validate_notifiable],
        help_text="The events you are told about.",
    )
    digest_hour = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="The hour of your day (in your time zone) the digest is sent.",
        **defaulted(8),
    )
    # when the last digest went out (the hourly digest task sends one a day)
    last_digest_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "user_preferences"
        verbose_name_plural = "user preferences"
        constraints = [
            choices_check(
                "email_notifications",
                EmailNotifications,
                name="user_preferences_email_check",
            ),
            models.CheckConstraint(
                condition=models.Q(digest_hour__gte=0, digest_hour__lte=23),
                name="user_preferences_digest_hour_range",
                violation_error_message="digest_hour must be between 0 and 23.",
            ),
        ]

    def __str__(self) -> str:
        return f"Preferences of user {self.user_id}"
