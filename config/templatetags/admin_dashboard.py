"""{% admin_dashboard as dash %}: the dashboard's numbers for the admin index."""

from django import template

from config.admin_site import dashboard_context

register = template.Library()


@register.simple_tag
def admin_dashboard() -> dict:
    return dashboard_context()


@register.filter
def duration_ago(value) -> str:
    """A timedelta as '42 s ago', '5 min ago', '3 h ago', '2 days ago'; '–' if None."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"
