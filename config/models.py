"""What each staff user prefers (the operator's own time zone)."""

from django.conf import settings
from django.db import models

from config.fields import defaulted, validate_timezone


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

    class Meta:
        db_table = "user_preferences"
        verbose_name_plural = "user preferences"

    def __str__(self) -> str:
        return f"Preferences of user {self.user_id}"
