from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project-wide plumbing and management commands (no models)."""

    name = "config"
    verbose_name = "Project"
