"""`character=` on the posts and content lists: a live character's rows, and
the same 400s as django-filter's ModelChoiceFilter, without reading the
character first (config.filters.LiveCharacterFilter)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from characters.services import character_soft_delete
from config.filters import INVALID_CHOICE
from tests.factories import CharacterFactory, ContentFactory, PostFactory

LISTS = {
    "posts": ("/api/v1/posts/", lambda c: PostFactory(platform_account__character=c)),
    "content": ("/api/v1/content/", lambda c: ContentFactory(character=c)),
}


def _character_reads(queries) -> list[str]:
    """Queries that read the characters table alone (the old validation)."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and 'FROM "characters"' in q["sql"]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", LISTS)
def test_a_page_of_a_character_costs_no_query_of_the_character(admin_api, name):
    url, make = LISTS[name]
    mine, other = CharacterFactory(), CharacterFactory()
    rows = [make(mine), make(mine)]
    make(other)
    admin_api.get(f"{url}?character={mine.pk}")  # the token's first check
    with CaptureQueriesContext(connection) as queries:
        answer = admin_api.get(f"{url}?character={mine.pk}")
    assert answer.status_code == 200
    assert {r["id"] for r in answer.json()["results"]} == {str(r.pk) for r in rows}
    assert _character_reads(queries) == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", LISTS)
def test_an_unknown_or_deleted_character_is_a_400_as_before(admin_api, name):
    url, make = LISTS[name]
    gone = CharacterFactory()
    make(gone)
    character_soft_delete(character=gone, actor=None)
    for pk in (uuid.uuid4(), gone.pk):
        answer = admin_api.get(f"{url}?character={pk}")
        assert answer.status_code == 400, pk
        assert answer.json() == {"character": [INVALID_CHOICE]}
    answer = admin_api.get(f"{url}?character=not-a-uuid")
    assert answer.status_code == 400 and "character" in answer.json()
    # a live character without rows: an empty page, not an error
    quiet = CharacterFactory()
    answer = admin_api.get(f"{url}?character={quiet.pk}")
    assert answer.status_code == 200 and answer.json()["results"] == []
