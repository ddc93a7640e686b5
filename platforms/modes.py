"""How each platform's posts go out: live, dry run, or by hand (assisted).

Read from settings.PLATFORM_ADAPTERS: a platform with the dry-run adapter is in
dry run, one with another adapter is live, one with none is published by a
person (its posts and engagement are never claimed by the engine). The admin
shows it in the header, on the dashboard and in the accounts list.
"""

from platforms.adapters import DRY_RUN_ADAPTER, adapter_path
from platforms.models import Platform


class Mode:
    """How a platform's posts go out (the marker the admin shows)."""

    LIVE = "live"
    DRY_RUN = "dry_run"
    # no adapter: a person publishes, the back-office records it
    ASSISTED = "assisted"

    LABELS = {LIVE: "Live", DRY_RUN: "Dry run", ASSISTED: "By hand"}


def platform_mode(platform: str) -> str:
    path = adapter_path(platform)
    if path is None:
        return Mode.ASSISTED
    return Mode.DRY_RUN if path == DRY_RUN_ADAPTER else Mode.LIVE


def is_assisted(platform: str) -> bool:
    """No adapter publishes for this platform: a person does (assisted publishing)."""
    return adapter_path(platform) is None


def assisted_platforms() -> list[str]:
    """The platforms published by hand; the publisher and the engagement queue
    never claim their rows."""
    return [p for p in Platform.values if is_assisted(p)]
