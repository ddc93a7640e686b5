"""The DRY RUN / LIVE marker of the admin header, the dashboard and the
accounts list (platforms.adapters.platform_mode; no query)."""

from django import template
from django.conf import settings
from django.utils.html import format_html

from platforms.models import Platform
from platforms.modes import Mode, platform_mode

register = template.Library()


def mode_badge(mode: str, *, title: str = "") -> str:
    return format_html(
        '<span class="platform-mode platform-mode-{}" title="{}">{}</span>',
        mode.replace("_", "-"),
        title,
        Mode.LABELS[mode],
    )


@register.simple_tag
def site_mode_badge() -> str:
    """DRY RUN or LIVE, for the header: what PLATFORM_DRY_RUN says."""
    if settings.PLATFORM_DRY_RUN:
        return format_html(
            '<span class="platform-mode platform-mode-dry-run site-mode" title="{}">'
            "DRY RUN</span>",
            "PLATFORM_DRY_RUN is on: nothing is sent to any platform.",
        )
    return format_html(
        '<span class="platform-mode platform-mode-live site-mode" title="{}">'
        "LIVE</span>",
        "PLATFORM_DRY_RUN is off: posts go out on the platforms.",
    )


@register.simple_tag
def platform_modes() -> list[dict]:
    """Each platform and how its posts go out (live, dry run, by hand)."""
    return [
        {
            "platform": value,
            "label": label,
            "mode": platform_mode(value),
            "badge": mode_badge(platform_mode(value)),
        }
        for value, label in Platform.choices
    ]
