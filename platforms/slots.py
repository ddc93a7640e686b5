"""Weekly posting slots on a character's wall clock, as instants.

An account's slots say when it posts: "Monday 09:00", "Monday 19:00", ... on
the clock of its character's time zone. This leaf module (the standard
library and config.timezones) turns them into UTC instants over a range,
with the clocks' changes handled by zoneinfo:

- a slot in the hour the clocks skip (spring forward) moves forward by the
  gap: 02:30 on the night Berlin goes from 02:00 to 03:00 is 03:30 CEST;
- a slot in the hour the clocks show twice (fall back) is the first of the
  two (daylight time, fold=0), so it happens once, never twice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from config.timezones import zone

WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
# at most this many slots a day per account (a slot is a post)
MAX_PER_DAY = 24
TIME_TEXT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, order=True)
class Slot:
    """One weekly slot: a weekday (0 = Monday) and a wall-clock time."""

    weekday: int
    time: dt.time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.time:%H:%M}"


def parse_times(text: str) -> list[dt.time]:
    """'09:00, 19:00' -> [09:00, 19:00] (sorted, each once). ValueError names
    the piece that is not a time of day HH:MM."""
    found: set[dt.time] = set()
    for piece in re.split(r"[\s,;]+", text or ""):
        if not piece:
            continue
        match = TIME_TEXT.match(piece)
        if match is None:
            raise ValueError(
                f"'{piece}' is not a time of day: write HH:MM (24 hours), "
                "for example 09:00, 19:30."
            )
        found.add(dt.time(int(match.group(1)), int(match.group(2))))
    if len(found) > MAX_PER_DAY:
        raise ValueError(f"At most {MAX_PER_DAY} slots a day.")
    return sorted(found)


def instant(day: dt.date, at: dt.time, tz_name: str) -> dt.datetime:
    """The UTC instant of wall-clock `at` on `day` in the zone: a skipped
    time moves forward by the gap, a repeated one is the first (fold=0)."""
    local = dt.datetime.combine(day, at).replace(tzinfo=zone(tz_name), fold=0)
    return local.astimezone(dt.UTC)


def slot_instants(
    slots: Iterable[Slot], tz_name: str, *, after: dt.datetime, until: dt.datetime
) -> Iterator[dt.datetime]:
    """The slots' instants after `after` (exclusive) and before `until`,
    soonest first, each once (two slots can meet in a skipped hour)."""
    by_day: dict[int, list[dt.time]] = {}
    for slot in slots:
        by_day.setdefault(slot.weekday, []).append(slot.time)
    if not by_day:
        return
    tz = zone(tz_name)
    day = after.astimezone(tz).date()
    last = until.astimezone(tz).date()
    while day <= last:
        seen = sorted(
            {instant(day, at, tz_name) for at in by_day.get(day.weekday(), ())}
        )
        for when in seen:
            if after < when < until:
                yield when
        day += dt.timedelta(days=1)


def minute_of(value: dt.datetime) -> dt.datetime:
    """The instant a post takes a slot at: its planned time to the minute."""
    return value.astimezone(dt.UTC).replace(second=0, microsecond=0)
