"""`manage.py purge_characters`: the command line way to purge, as the README says."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from characters.models import Character
from characters.services import character_soft_delete
from logs.models import SystemLog
from tests import factories as f


def purge(*ids: str) -> str:
    out = io.StringIO()
    call_command("purge_characters", *ids, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_purges_deleted_characters_and_audits_it_as_the_system():
    a, b = f.CharacterFactory.create_batch(2)
    for character in (a, b):
        character_soft_delete(character=character)

    assert purge(str(a.pk), str(b.pk)) == "Purged 2 character(s) for good.\n"

    assert not Character.all_objects.exists()
    audits = SystemLog.objects.filter(message__startswith="Character purged")
    assert [x.metadata["purged_by"] for x in audits] == [{"actor": "system"}] * 2


@pytest.mark.django_db
def test_a_live_character_stops_the_whole_purge():
    live = f.CharacterFactory()
    gone = f.CharacterFactory()
    character_soft_delete(character=gone)
    with pytest.raises(CommandError, match=f"Not deleted.*{live.pk}"):
        purge(str(gone.pk), str(live.pk))
    assert Character.all_objects.count() == 2


@pytest.mark.django_db
def test_unknown_and_malformed_ids_are_clear_errors():
    with pytest.raises(CommandError, match="Not a character id: 'nope'"):
        purge("nope")
    missing = uuid.uuid4()
    with pytest.raises(CommandError, match=f"No such character: {missing}"):
        purge(str(missing))
