"""The tz database's names are read once per process, not per request."""

import zoneinfo

from config import timezones
from config.fields import validate_timezone


def test_known_zones_are_read_once(monkeypatch):
    timezones._known_zones.cache_clear()
    assert timezones.is_known_zone("Europe/Paris")

    def walk_again():
        raise AssertionError("available_timezones() walked the folders again")

    monkeypatch.setattr(zoneinfo, "available_timezones", walk_again)
    assert timezones.is_known_zone("Asia/Tokyo")
    assert not timezones.is_known_zone("Mars/Olympus_Mons")
    validate_timezone("America/New_York")  # the model field's validator too
