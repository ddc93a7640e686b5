"""Audit rows outlive log retention and have their own (default: keep forever)."""

import datetime as dt

import pytest
from django.utils import timezone

from characters.models import Character
from logs.audit import purge_old_audit_events
from logs.maintenance import purge_old_logs
from logs.models import CharacterEvent, SystemLog
from tests import factories as f

pytestmark = pytest.mark.django_db


def _age_everything(days: int) -> None:
    past = timezone.now() - dt.timedelta(days=days)
    CharacterEvent.objects.update(pgh_created_at=past)
    SystemLog.objects.update(created_at=past)


def test_log_retention_leaves_the_audit_trail_alone():
    character = f.CharacterFactory()
    Character.objects.filter(pk=character.pk).update(bio="old change")
    f.SystemLogFactory()
    _age_everything(400)
    assert purge_old_logs(days=90) == 1
    assert not SystemLog.objects.exists()
    assert CharacterEvent.objects.filter(pgh_obj_id=character.pk).count() == 2


def test_audit_events_are_kept_forever_by_default(settings):
    assert settings.AUDIT_RETENTION_DAYS == 0
    f.CharacterFactory()
    _age_everything(4000)
    assert purge_old_audit_events() == 0
    assert CharacterEvent.objects.count() == 1


def test_an_audit_retention_deletes_only_older_events(settings):
    settings.AUDIT_RETENTION_DAYS = 365
    old = f.CharacterFactory()
    _age_everything(400)
    recent = f.CharacterFactory()
    assert purge_old_audit_events(batch=1) == 1
    assert list(CharacterEvent.objects.values_list("pgh_obj_id", flat=True)) == [
        recent.pk
    ]
    assert Character.objects.filter(pk=old.pk).exists()  # the rows themselves stay
