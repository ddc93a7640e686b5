"""{% admin_dashboard as dash %}: the dashboard's numbers for the admin index."""

from django import template

from config.admin_site import dashboard_context

register = template.Library()


@register.simple_tag
def admin_dashboard() -> dict:
    return dashboard_context()
