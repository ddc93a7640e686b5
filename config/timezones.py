"""Wall-clock time in a named zone: entered, checked and shown.

Date-times are stored in UTC. A person enters and reads them on a wall clock:
the character's (its pages, posts, schedules and rules) or the operator's own
(everywhere else; a per-user preference, config.models.UserPreferences). This
leaf module (Django and the standard library only) turns a naive wall-clock
time into an aware one, refusing the times a DST change skips and saying
which of two a repeated hour means, and formats aware times with their zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

DEFAULT_ZONE = "UTC"
# The session key holding the logged-in operator's zone (set at login and
# when the preference changes), so no request pays a query for it.
SESSION_KEY = "operator_timezone"


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of that IANA name; UTC for an empty or unknown name."""
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_ZONE)


@functools.cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database's folders on every call
    # (tenths of a second on a busy machine); it is asked on every admin
    # request (the operator's zone) and every write of a scheduled post. The
    # database changes with a system upgrade, which restarts the processes.
    return frozenset(zoneinfo.available_timezones())


def is_known_zone(name: Any) -> bool:
    return isinstance(name, str) and name in _known_zones()


def _round_trips(value: dt.datetime) -> bool:
    """Whether an aware time survives a trip through UTC unchanged (it does
    not when its wall-clock reading falls in a DST gap)."""
    back = value.astimezone(dt.UTC).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) == value.replace(tzinfo=None)


def skipped(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """The wall clock never shows this time in `tz` (the hour skipped when
    clocks go forward)."""
    return not _round_trips(naive.replace(tzinfo=tz))


def repeated(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """The wall clock shows this time twice in `tz` (clocks go back)."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    return first.utcoffset() != second.utcoffset()


def localize(naive: dt.datetime, tz_name: str, *, field: str = "") -> dt.datetime:
    """A naive wall-clock time in `tz_name` as an aware UTC time.

    A time that does not exist there (clocks go forward) is refused with a
    ValidationError saying so; a time that exists twice (clocks go back) is
    the first of the two (daylight time), which the display then names with
    its zone abbreviation (for example 02:30 CEST, not CET).
    """
    if timezone.is_aware(naive):
        return naive.astimezone(dt.UTC)
    tz = zone(tz_name)
    if skipped(naive, tz):
        message = ValidationError(
            "%(time)s does not exist in %(zone)s: the clocks go forward that "
            "night. Choose a time outside the skipped hour.",
            code="nonexistent_time",
            params={"time": f"{naive:%Y-%m-%d %H:%M}", "zone": tz.key},
        )
        raise ValidationError({field: message}) if field else message
    return naive.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


def wall_clock(value: dt.datetime, tz_name: str) -> dt.datetime:
    """An aware time as the naive wall-clock reading in `tz_name`."""
    return value.astimezone(zone(tz_name)).replace(tzinfo=None)


def format_local(
    value: dt.datetime | None,
    tz_name: str | None,
    *,
    with_zone_name: bool = False,
    empty: str = "-",
) -> str:
    """'24 Dec 2026, 19:00 CET' (and ' (Europe/Berlin)' with_zone_name)."""
    if value is None:
        return empty
    tz = zone(tz_name)
    local = value.astimezone(tz)
    text = f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    return f"{text} ({tz.key})" if with_zone_name else text


def zone_label(tz_name: str | None) -> str:
    """'Europe/Berlin (CET, UTC+01:00 now)': which zone, and its offset today."""
    tz = zone(tz_name)
    now = timezone.now().astimezone(tz)
    offset = now.strftime("%z")
    return f"{tz.key} ({now.tzname()}, UTC{offset[:3]}:{offset[3:]} now)"


def zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone name, sorted, for a select."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]
