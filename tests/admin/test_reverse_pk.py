"""config.admin_site.reverse_pk: a row's URL without a reverse() per row."""

import uuid

import pytest
from django.urls import reverse
from django.urls.resolvers import URLResolver

from config import admin_site
from config.admin_site import change_url, reverse_pk
from tests.admin.test_change_pages import fill_character
from tests.factories import CharacterFactory


@pytest.fixture
def reverses(monkeypatch):
    """Every reverse() done (they all end in URLResolver._reverse_with_prefix)."""
    calls = []
    original = URLResolver._reverse_with_prefix

    def counted(self, lookup_view, _prefix, *args, **kwargs):
        calls.append(lookup_view)
        return original(self, lookup_view, _prefix, *args, **kwargs)

    monkeypatch.setattr(URLResolver, "_reverse_with_prefix", counted)
    monkeypatch.setattr(admin_site, "_PK_URLS", {})
    return calls


@pytest.mark.parametrize(
    ("viewname", "pk"),
    [
        ("admin:characters_character_change", uuid.uuid4()),  # <path:object_id>
        ("admin:content_content_thumbnail", uuid.uuid4()),  # <uuid:pk>
        ("admin:auth_user_change", 42),
        ("admin:auth_user_change", "not/a number"),  # reverse() itself
    ],
)
def test_it_builds_the_url_reverse_builds(viewname, pk):
    assert reverse_pk(viewname, pk) == reverse(viewname, args=[pk])


def test_it_reverses_each_url_once_per_process(reverses):
    first, second = uuid.uuid4(), uuid.uuid4()

    urls = [
        reverse_pk("admin:characters_character_change", pk) for pk in (first, second)
    ]

    assert urls == [
        f"/admin/characters/character/{first}/change/",
        f"/admin/characters/character/{second}/change/",
    ]
    assert len(reverses) == 1


def test_the_character_page_reverses_as_often_for_15_rows_as_for_2(
    administrator_client, reverses
):
    """Its tables link each account, upcoming post and content item (with its
    thumbnail): a reverse() per row before."""
    small, big = CharacterFactory(), CharacterFactory()
    fill_character(small, 2)
    fill_character(big, 15)
    administrator_client.get(change_url(small))

    counts = []
    for character in (small, big):
        reverses.clear()
        response = administrator_client.get(change_url(character))
        assert response.status_code == 200
        counts.append(len(reverses))

    assert counts[0] == counts[1]
    assert response.content.count(b"/admin/content/content/") >= 10
